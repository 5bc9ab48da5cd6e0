//! Turns a command's text into [`Facts`] with real parsers: the PostgreSQL parser itself
//! (libpg_query) for SQL, recursively through CTEs, `EXPLAIN ANALYZE`, `COPY (query)`, rules,
//! DO blocks, PL/pgSQL bodies and literal dynamic SQL. Pure: no I/O, no async, no decisions.
//! Anything it cannot understand becomes a fact (`unparseable`, `dynamic_sql: opaque`), never
//! a silent allow.
#![forbid(unsafe_code)]

mod sql;

use airlock_model::{ConnectionKind, Facts, SqlFacts};

pub use sql::{SqlOptions, safe_client_encoding, shape_key};

/// Inspects `text` as the given connection kind would receive it.
///
/// MySQL and shell inspectors arrive with their issues; until then such input is reported as
/// unparseable so that the default policy denies it (fail closed).
pub fn inspect(kind: ConnectionKind, text: &str, options: &SqlOptions) -> Facts {
    match kind {
        ConnectionKind::Postgres => Facts::Sql(sql::inspect(text, options)),
        ConnectionKind::Mysql | ConnectionKind::Shell => Facts::Sql(SqlFacts {
            unparseable: Some(format!(
                "airlock has no inspector for `{}` connections yet",
                kind.as_str()
            )),
            ..SqlFacts::default()
        }),
    }
}
