//! Snapshots of the facts the inspector derives, one per construct it must see through.
//! Review changes with `cargo insta review`; a changed snapshot is a changed judgement.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use airlock_inspect::{SqlOptions, inspect};
use airlock_model::ConnectionKind;

fn facts(text: &str) -> airlock_model::Facts {
    inspect(ConnectionKind::Postgres, text, &SqlOptions::default())
}

macro_rules! snapshot {
    ($name:ident, $sql:expr) => {
        #[test]
        fn $name() {
            insta::with_settings!({ description => $sql, omit_expression => true }, {
                insta::assert_yaml_snapshot!(facts($sql));
            });
        }
    };
}

snapshot!(
    point_read,
    "SELECT abalance FROM pgbench_accounts WHERE aid = 42"
);
snapshot!(
    always_true_delete,
    "DELETE FROM public.users WHERE id = id OR 1 = 1"
);
snapshot!(
    set_operation_reads_both_arms,
    "SELECT id FROM users WHERE id = 1 UNION ALL SELECT * FROM secrets EXCEPT SELECT length(pg_read_file('x'))"
);
snapshot!(
    row_independent_delete,
    "DELETE FROM users WHERE now() > '2020-01-01'"
);
snapshot!(
    self_join_delete,
    "DELETE FROM users u USING users u2 WHERE u.id = u2.id"
);
snapshot!(
    self_subquery,
    "UPDATE users SET a = 1 WHERE id IN (SELECT id FROM users)"
);
snapshot!(
    data_modifying_cte,
    "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d"
);
snapshot!(explain_analyze, "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t");
snapshot!(
    copy_query_to_program,
    "COPY (SELECT * FROM users) TO PROGRAM 'gzip > /tmp/u.gz'"
);
snapshot!(
    do_block_concat,
    "DO $$ BEGIN EXECUTE 'DROP ' || 'TABLE ' || quote_ident('T'); END $$"
);
snapshot!(
    do_block_opaque,
    "DO $$ BEGIN EXECUTE 'DELETE FROM ' || tbl; END $$"
);
snapshot!(
    trigger_function_body,
    "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN TRUNCATE audit; RETURN NULL; END $$"
);
snapshot!(
    rule_swallows,
    "CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING"
);
snapshot!(
    superuser_grant,
    "GRANT pg_execute_server_program TO bob; ALTER ROLE bob SUPERUSER"
);
snapshot!(
    settings,
    "SET LOCAL session_replication_role = replica; SELECT set_config('log_statement', 'none', true)"
);
snapshot!(
    server_files,
    "SELECT pg_read_file('/etc/passwd'), lo_import('/etc/shadow')"
);
snapshot!(export_read, "SELECT json_agg(u) FROM users u");
snapshot!(unparseable, "DELETE FROM");
