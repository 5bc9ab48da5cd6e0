//! What inspection found in a command. Facts describe effects, never decide: the policy does.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Everything an inspector learned about one command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "language", rename_all = "snake_case")]
pub enum Facts {
    Sql(SqlFacts),
}

/// Facts about a PostgreSQL input (one or more statements).
///
/// `statements` is flattened: a statement nested in a CTE, `EXPLAIN ANALYZE`, `COPY (query)`,
/// a rule action, a DO block, a function body or literal dynamic SQL is listed on its own, with
/// its [`Origin`], so a policy judges every statement that would run (now or later).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SqlFacts {
    pub statements: Vec<Statement>,
    /// The parser's message when the input (or a nested body) could not be parsed: airlock
    /// cannot tell what the server would do with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unparseable: Option<String>,
    /// Number of top-level statements in the input.
    pub top_level_count: usize,
    /// True when some fact could depend on a literal value (constant folding, a literal LIMIT,
    /// a setting's value, a function's literal argument, literal dynamic SQL) or the input is
    /// not plain DML. When false, the facts — and so the decision — are the same for every input
    /// with this input's literal-normalized text (`airlock_inspect::shape_key`).
    pub literal_sensitive: bool,
}

/// One statement, top-level or nested.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Statement {
    pub kind: StatementKind,
    /// For create/alter/drop/grant/comment…: what kind of object (`table`, `schema`, `role`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    pub origin: Origin,
    /// Objects touched, schema-qualified as written (`public.t` or `t`), lower-cased unless quoted.
    pub objects: Vec<ObjectRef>,
    pub where_clause: WhereClause,
    /// LIMIT or FETCH FIRST present (reads).
    pub limited: bool,
    /// Every output column is an aggregate (or the statement groups rows).
    pub aggregate: bool,
    /// The target list contains `*` (or `t.*`).
    pub select_star: bool,
    /// Functions called, lower-cased, schema-qualified as written.
    pub functions: BTreeSet<String>,
    pub function_risks: BTreeSet<FunctionRisk>,
    pub settings: Vec<SettingChange>,
    /// Roles granted or revoked by `GRANT role TO …` / `REVOKE role FROM …`.
    pub roles_granted: BTreeSet<String>,
    /// Role attributes set by CREATE/ALTER ROLE (`superuser`, `createrole`, `bypassrls`…).
    pub role_options: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<CopyFacts>,
    pub dynamic_sql: DynamicSql,
    pub flags: BTreeSet<StatementFlag>,
    /// Rows the upstream planner expects this statement to touch (filled by the gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<u64>,
}

/// What a statement is, by its effect class.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    Select,
    Insert,
    Update,
    Delete,
    Merge,
    Truncate,
    Create,
    Alter,
    Drop,
    Grant,
    Revoke,
    Copy,
    Set,
    Reset,
    Show,
    Explain,
    Transaction,
    Do,
    Call,
    Prepare,
    Execute,
    Deallocate,
    Lock,
    Maintenance,
    Listen,
    Notify,
    Cursor,
    Comment,
    Load,
    Discard,
    /// A statement airlock parsed but does not classify.
    #[default]
    Other,
}

impl StatementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Select => "select",
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Merge => "merge",
            Self::Truncate => "truncate",
            Self::Create => "create",
            Self::Alter => "alter",
            Self::Drop => "drop",
            Self::Grant => "grant",
            Self::Revoke => "revoke",
            Self::Copy => "copy",
            Self::Set => "set",
            Self::Reset => "reset",
            Self::Show => "show",
            Self::Explain => "explain",
            Self::Transaction => "transaction",
            Self::Do => "do",
            Self::Call => "call",
            Self::Prepare => "prepare",
            Self::Execute => "execute",
            Self::Deallocate => "deallocate",
            Self::Lock => "lock",
            Self::Maintenance => "maintenance",
            Self::Listen => "listen",
            Self::Notify => "notify",
            Self::Cursor => "cursor",
            Self::Comment => "comment",
            Self::Load => "load",
            Self::Discard => "discard",
            Self::Other => "other",
        }
    }
}

/// Where a statement came from. Anything but `top_level` is nested in another statement.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    #[default]
    TopLevel,
    /// A data-modifying statement inside `WITH`.
    Cte,
    /// The statement under `EXPLAIN ANALYZE` (which executes it).
    ExplainAnalyze,
    /// The query of `COPY (query) TO …`.
    CopyQuery,
    /// The query of `CREATE TABLE AS`, `SELECT INTO`, `CREATE MATERIALIZED VIEW`.
    CreateTableAs,
    /// The statement of `PREPARE name AS …` or `DECLARE … CURSOR FOR …`.
    Prepared,
    /// An action of `CREATE RULE`: runs later, whenever the rule fires.
    RuleAction,
    /// A statement in a function or procedure body: runs later, whenever it is called.
    FunctionBody,
    /// A statement in a DO block: runs now.
    DoBlock,
    /// SQL built from literals and run with `EXECUTE` (PL/pgSQL) or similar: runs now or later.
    DynamicSql,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopLevel => "top_level",
            Self::Cte => "cte",
            Self::ExplainAnalyze => "explain_analyze",
            Self::CopyQuery => "copy_query",
            Self::CreateTableAs => "create_table_as",
            Self::Prepared => "prepared",
            Self::RuleAction => "rule_action",
            Self::FunctionBody => "function_body",
            Self::DoBlock => "do_block",
            Self::DynamicSql => "dynamic_sql",
        }
    }

    /// True for statements stored to run later (rules, functions): "deferred" effects.
    pub fn is_deferred(self) -> bool {
        matches!(self, Self::RuleAction | Self::FunctionBody)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub access: Access,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
    Create,
    Alter,
    Drop,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
            Self::Alter => "alter",
            Self::Drop => "drop",
        }
    }
}

/// The row filter of a SELECT, UPDATE, DELETE or MERGE.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum WhereClause {
    /// The statement has no row filter by nature (INSERT, DDL, …).
    #[default]
    NotApplicable,
    /// No WHERE: every row.
    Absent,
    /// A WHERE that matches every row (`1=1`, `x = x`, `x IS NULL OR x IS NOT NULL`, a
    /// self-join on the same column, `id IN (SELECT id FROM same_table)`…).
    AlwaysTrue,
    /// A WHERE that restricts rows (as far as static analysis can tell).
    Present,
}

impl WhereClause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotApplicable => "not_applicable",
            Self::Absent => "absent",
            Self::AlwaysTrue => "always_true",
            Self::Present => "present",
        }
    }

    /// True when the statement affects every row of its target.
    pub fn matches_all_rows(self) -> bool {
        matches!(self, Self::Absent | Self::AlwaysTrue)
    }
}

/// Classes of dangerous functions (curated in the inspector).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionRisk {
    /// Reads or lists the server's file system (`pg_read_file`, `pg_ls_dir`, …).
    ServerFileAccess,
    /// Imports/exports server files through large objects (`lo_import`, `lo_export`).
    LargeObjectFile,
    /// Runs programs or loads code on the server.
    ProgramExecution,
    /// Connects to other hosts (`dblink*`, fdw helpers).
    RemoteConnection,
    /// Changes settings at run time (`set_config`).
    SetConfig,
    /// Signals or terminates backends, reloads config, rotates logs.
    BackendSignal,
    /// Modifies or removes large objects (`lo_unlink`, `lo_put`, …).
    LargeObjectWrite,
    /// Changes replication/WAL/recovery state or advisory locking of the whole server.
    ServerAdmin,
    /// Cancels other sessions' queries or resets statistics (`pg_cancel_backend`, `pg_stat_reset`).
    QueryControl,
    /// A function that is neither a PostgreSQL built-in nor known to be side-effect free.
    Unknown,
}

impl FunctionRisk {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerFileAccess => "server_file_access",
            Self::LargeObjectFile => "large_object_file",
            Self::ProgramExecution => "program_execution",
            Self::RemoteConnection => "remote_connection",
            Self::SetConfig => "set_config",
            Self::BackendSignal => "backend_signal",
            Self::LargeObjectWrite => "large_object_write",
            Self::ServerAdmin => "server_admin",
            Self::QueryControl => "query_control",
            Self::Unknown => "unknown",
        }
    }
}

/// A setting changed by SET, `set_config`, ALTER SYSTEM, ALTER ROLE/DATABASE … SET.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SettingChange {
    /// Lower-cased setting name (`all` for `RESET ALL`).
    pub name: String,
    /// The new value when it is a literal; `None` for RESET/DEFAULT or non-literal values.
    pub value: Option<String>,
    pub scope: SettingScope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingScope {
    Session,
    Transaction,
    System,
    Role,
    Database,
    Function,
}

impl SettingScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
            Self::System => "system",
            Self::Role => "role",
            Self::Database => "database",
            Self::Function => "function",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CopyFacts {
    pub direction: CopyDirection,
    pub target: CopyTarget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyDirection {
    /// `COPY … TO`: data leaves the database.
    To,
    /// `COPY … FROM`: data enters the database.
    From,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyTarget {
    Program,
    ServerFile,
    Stdout,
    Stdin,
}

/// Whether the statement runs SQL built at run time.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DynamicSql {
    #[default]
    None,
    /// Fully determined by literals: airlock parsed it and lists its statements.
    Literal,
    /// Built from values airlock cannot know statically.
    Opaque,
}

impl DynamicSql {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Literal => "literal",
            Self::Opaque => "opaque",
        }
    }
}

/// Yes/no facts about a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementFlag {
    /// `… CASCADE`: also drops or truncates dependent objects.
    Cascade,
    /// `ALTER TABLE … DROP COLUMN` (or DROP CONSTRAINT/DEFAULT … of data-bearing parts).
    DropsColumn,
    /// Disables triggers, rules, row-level security or event triggers.
    DisablesSafeguard,
    /// A rule that replaces writes with nothing (`DO INSTEAD NOTHING` on INSERT/UPDATE/DELETE).
    SwallowsWrites,
    /// `CREATE OR REPLACE` of an existing object.
    Replaces,
    /// Writes to a system catalog (`pg_authid`, `pg_proc`, …).
    WritesCatalog,
    /// Grants a superuser or superuser-equivalent role or attribute.
    GrantsSuperuser,
    /// Changes roles or privileges (GRANT/REVOKE, CREATE/ALTER/DROP ROLE).
    ChangesPrivileges,
    /// Packages whole rows for export (`json_agg(t)`, `array_agg(t)`, `row_to_json`, …).
    PackagesRows,
    /// Reads only system catalogs or no table at all.
    SystemOnly,
    /// Reads a remote server through a foreign data wrapper or `dblink`.
    ForeignServer,
    /// Changes ownership of objects.
    ChangesOwner,
    /// Runs a prepared statement whose text airlock judged (its PREPARE came first).
    TextSeen,
    /// The row filter counts as matching every row (`where_clause` is `always_true`) because
    /// it does not depend on the row at all (`WHERE $1`, `WHERE now() > '2020-01-01'`), not
    /// because it was proven true: it matches every row or none.
    RowIndependentFilter,
    /// Changes `standard_conforming_strings` or `client_encoding`, and every such change keeps
    /// string literals read the way airlock reads them (`standard_conforming_strings` on, a
    /// client encoding whose multi-byte characters cannot hide a quote or backslash, or back
    /// to the configured value). Absent when any such change is unsafe or unreadable.
    SafeParserSettings,
}

impl StatementFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cascade => "cascade",
            Self::DropsColumn => "drops_column",
            Self::DisablesSafeguard => "disables_safeguard",
            Self::SwallowsWrites => "swallows_writes",
            Self::Replaces => "replaces",
            Self::WritesCatalog => "writes_catalog",
            Self::GrantsSuperuser => "grants_superuser",
            Self::ChangesPrivileges => "changes_privileges",
            Self::PackagesRows => "packages_rows",
            Self::SystemOnly => "system_only",
            Self::ForeignServer => "foreign_server",
            Self::ChangesOwner => "changes_owner",
            Self::TextSeen => "text_seen",
            Self::RowIndependentFilter => "row_independent_filter",
            Self::SafeParserSettings => "safe_parser_settings",
        }
    }
}

impl Statement {
    pub fn new(kind: StatementKind, origin: Origin) -> Self {
        Self {
            kind,
            origin,
            ..Self::default()
        }
    }

    pub fn has_flag(&self, flag: StatementFlag) -> bool {
        self.flags.contains(&flag)
    }

    pub fn touch(&mut self, name: impl Into<String>, access: Access) {
        let object = ObjectRef {
            name: name.into(),
            access,
        };
        if !self.objects.contains(&object) {
            self.objects.push(object);
        }
    }

    pub fn names_with(&self, access: Access) -> impl Iterator<Item = &str> {
        self.objects
            .iter()
            .filter(move |o| o.access == access)
            .map(|o| o.name.as_str())
    }
}
