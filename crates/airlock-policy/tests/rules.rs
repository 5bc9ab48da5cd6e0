//! The default guardrail pack rule by rule, with hand-built facts: deny, review, allow, and
//! non-prod connections. (tests/default_pack.rs runs real SQL through the inspector.)
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use airlock_model::{
    Access::{Alter, Create, Drop as Dropped, Write},
    CopyDirection::{From, To},
    CopyTarget::{Program, ServerFile, Stdin, Stdout},
    DynamicSql, FunctionRisk as Risk, IdentityKind, Origin, SettingScope as Scope,
    StatementFlag as Flag, StatementKind as K, Verdict,
    WhereClause::{Absent, AlwaysTrue, Present},
};
use airlock_policy::Policy;
use common::{command, facts, s};

struct Case {
    name: &'static str,
    statements: Vec<airlock_model::Statement>,
    envs: &'static [&'static str],
    verdict: Verdict,
    /// Every rule in the decision, sorted.
    rules: &'static [&'static str],
}

fn case(
    name: &'static str,
    statements: Vec<airlock_model::Statement>,
    verdict: Verdict,
    rules: &'static [&'static str],
) -> Case {
    Case {
        name,
        statements,
        envs: &["prod"],
        verdict,
        rules,
    }
}

fn on(envs: &'static [&'static str], mut case: Case) -> Case {
    case.envs = envs;
    case
}

#[rustfmt::skip]
fn deny_cases() -> Vec<Case> {
    use Verdict::Deny;
    vec![
        case("drop table", vec![s(K::Drop).object("table").touch("public.users", Dropped).done()], Deny, &["pg-drop"]),
        case("drop index", vec![s(K::Drop).object("index").touch("users_email_idx", Dropped).done()], Deny, &["pg-drop"]),
        case("drop schema cascade", vec![s(K::Drop).object("schema").touch("app", Dropped).flag(Flag::Cascade).done()], Deny, &["pg-drop"]),
        case("drop role", vec![s(K::Drop).object("role").touch("bob", Dropped).flag(Flag::ChangesPrivileges).done()], Deny, &["pg-drop"]),
        case("truncate", vec![s(K::Truncate).writes("orders").done()], Deny, &["pg-truncate"]),
        case("truncate cascade", vec![s(K::Truncate).writes("orders").flag(Flag::Cascade).done()], Deny, &["pg-truncate"]),
        case("delete without where", vec![s(K::Delete).writes("orders").filter(Absent).done()], Deny, &["pg-delete-all-rows"]),
        case("delete where 1=1", vec![s(K::Delete).writes("orders").filter(AlwaysTrue).done()], Deny, &["pg-delete-all-rows"]),
        case("update without where", vec![s(K::Update).writes("users").filter(Absent).done()], Deny, &["pg-update-all-rows"]),
        case("merge matching all", vec![s(K::Merge).writes("users").reads("staging").filter(AlwaysTrue).done()], Deny, &["pg-merge-all-rows"]),
        case("alter table drop column", vec![s(K::Alter).object("table").touch("users", Alter).flag(Flag::DropsColumn).done()], Deny, &["pg-drop-column"]),
        case("alter table drop constraint cascade", vec![s(K::Alter).object("table").touch("users", Alter).flag(Flag::Cascade).done()], Deny, &["pg-cascade"]),
        case("copy to program", vec![s(K::Copy).reads("users").copy(To, Program).done()], Deny, &["pg-copy-program"]),
        case("copy from server file", vec![s(K::Copy).writes("users").copy(From, ServerFile).done()], Deny, &["pg-copy-server-file"]),
        case("pg_read_file", vec![s(K::Select).function("pg_read_file", Some(Risk::ServerFileAccess)).flag(Flag::SystemOnly).done()], Deny, &["pg-server-files"]),
        case("lo_import", vec![s(K::Select).function("lo_import", Some(Risk::LargeObjectFile)).done()], Deny, &["pg-server-files"]),
        case("program execution", vec![s(K::Select).function("plsh_run", Some(Risk::ProgramExecution)).done()], Deny, &["pg-program-execution"]),
        case("load library", vec![s(K::Load).done()], Deny, &["pg-load"]),
        case("dblink", vec![s(K::Select).function("dblink", Some(Risk::RemoteConnection)).done()], Deny, &["pg-remote-connection"]),
        case("create server", vec![s(K::Create).object("server").touch("evil", Create).flag(Flag::ForeignServer).done()], Deny, &["pg-remote-connection"]),
        case("pg_terminate_backend", vec![s(K::Select).function("pg_terminate_backend", Some(Risk::BackendSignal)).done()], Deny, &["pg-backend-signal"]),
        case("pg_promote", vec![s(K::Select).function("pg_promote", Some(Risk::ServerAdmin)).done()], Deny, &["pg-server-admin"]),
        case("grant pg_execute_server_program", vec![s(K::Grant).role("pg_execute_server_program").touch("bob", Alter).flag(Flag::ChangesPrivileges).done()], Deny, &["pg-grant-revoke", "pg-superuser-grant"]),
        case("alter role superuser", vec![s(K::Alter).object("role").touch("bob", Alter).role_option("superuser").flag(Flag::GrantsSuperuser).done()], Deny, &["pg-role-change", "pg-superuser-grant"]),
        case("write pg_authid", vec![s(K::Update).writes("pg_authid").filter(Present).flag(Flag::WritesCatalog).done()], Deny, &["pg-catalog-write"]),
        case("session_replication_role", vec![s(K::Set).setting("session_replication_role", Some("replica"), Scope::Session).done()], Deny, &["pg-replication-role"]),
        case("alter system", vec![s(K::Alter).object("system").setting("shared_preload_libraries", Some("x"), Scope::System).done()], Deny, &["pg-alter-system"]),
        case("set log_statement", vec![s(K::Set).setting("log_statement", Some("none"), Scope::Session).done()], Deny, &["pg-log-settings", "pg-setting-change"]),
        case("set pgaudit.log", vec![s(K::Set).setting("pgaudit.log", Some("none"), Scope::Session).done()], Deny, &["pg-log-settings", "pg-setting-change"]),
        case("alter role set log setting", vec![s(K::Alter).object("role").touch("app", Alter).setting("log_min_duration_statement", Some("-1"), Scope::Role).done()], Deny, &["pg-log-settings", "pg-role-change", "pg-setting-change"]),
        case("standard_conforming_strings off", vec![s(K::Set).setting("standard_conforming_strings", Some("off"), Scope::Session).done()], Deny, &["pg-parser-settings"]),
        case("client_encoding sjis", vec![s(K::Set).setting("client_encoding", Some("SJIS"), Scope::Session).done()], Deny, &["pg-parser-settings"]),
        case("disable trigger", vec![s(K::Alter).object("table").touch("orders", Alter).flag(Flag::DisablesSafeguard).done()], Deny, &["pg-disable-safeguard"]),
        case("rule swallows writes", vec![s(K::Create).object("rule").touch("orders", Alter).flag(Flag::SwallowsWrites).done()], Deny, &["pg-swallow-writes"]),
        case("function body drops a table", vec![
            s(K::Create).object("function").touch("cleanup", Create).done(),
            s(K::Drop).object("table").touch("users", Dropped).origin(Origin::FunctionBody).done(),
        ], Deny, &["pg-create-function", "pg-deferred-destruction"]),
        case("rule action deletes every row", vec![
            s(K::Create).object("rule").touch("r", Create).done(),
            s(K::Delete).writes("audit_log").filter(Absent).origin(Origin::RuleAction).done(),
        ], Deny, &["pg-deferred-destruction", "pg-schema-change"]),
        case("do block drops", vec![s(K::Do).done(), s(K::Drop).object("table").touch("t", Dropped).origin(Origin::DoBlock).done()], Deny, &["pg-drop"]),
        case("cte deletes every row", vec![s(K::Select).reads("x").filter(Present).done(), s(K::Delete).writes("orders").filter(Absent).origin(Origin::Cte).done()], Deny, &["pg-delete-all-rows"]),
        case("explain analyze update all", vec![s(K::Explain).done(), s(K::Update).writes("t").filter(Absent).origin(Origin::ExplainAnalyze).done()], Deny, &["pg-update-all-rows"]),
        case("most severe of several", vec![s(K::Select).reads("t").filter(Present).done(), s(K::Create).object("index").touch("i", Create).done(), s(K::Drop).object("table").touch("t", Dropped).done()], Deny, &["pg-drop", "pg-schema-change"]),
        on(&["dev"], case("drop on dev", vec![s(K::Drop).object("table").touch("t", Dropped).done()], Deny, &["pg-drop"])),
    ]
}

#[rustfmt::skip]
fn review_cases() -> Vec<Case> {
    use Verdict::Review;
    vec![
        case("opaque dynamic sql", vec![s(K::Do).dynamic(DynamicSql::Opaque).done()], Review, &["pg-dynamic-sql"]),
        case("create function", vec![s(K::Create).object("function").touch("f", Create).done()], Review, &["pg-create-function"]),
        case("create or replace procedure", vec![s(K::Create).object("procedure").touch("p", Create).flag(Flag::Replaces).done()], Review, &["pg-create-function"]),
        case("unknown function", vec![s(K::Select).function("app.do_things", Some(Risk::Unknown)).done()], Review, &["pg-unknown-function"]),
        case("call", vec![s(K::Call).function("app.nightly", None).done()], Review, &["pg-call"]),
        case("execute prepared", vec![s(K::Execute).done()], Review, &["pg-execute-prepared"]),
        case("create index", vec![s(K::Create).object("index").touch("i", Create).touch("users", Alter).done()], Review, &["pg-schema-change"]),
        case("add column", vec![s(K::Alter).object("table").touch("users", Alter).done()], Review, &["pg-schema-change"]),
        case("grant select", vec![s(K::Grant).object("table").touch("users", Alter).flag(Flag::ChangesPrivileges).done()], Review, &["pg-grant-revoke"]),
        case("revoke", vec![s(K::Revoke).object("table").touch("users", Alter).flag(Flag::ChangesPrivileges).done()], Review, &["pg-grant-revoke"]),
        case("create role", vec![s(K::Create).object("role").touch("bob", Create).role_option("login").flag(Flag::ChangesPrivileges).done()], Review, &["pg-role-change"]),
        case("alter owner", vec![s(K::Alter).object("table").touch("users", Alter).flag(Flag::ChangesOwner).done()], Review, &["pg-owner-change"]),
        case("copy to stdout", vec![s(K::Copy).reads("users").copy(To, Stdout).done()], Review, &["pg-copy-out"]),
        case("select star without where", vec![s(K::Select).reads("users").star().filter(Absent).done()], Review, &["pg-whole-table-read"]),
        case("json_agg of a table", vec![s(K::Select).reads("users").aggregate().function("json_agg", None).flag(Flag::PackagesRows).filter(Absent).done()], Review, &["pg-packaged-rows"]),
        case("set role", vec![s(K::Set).setting("role", Some("postgres"), Scope::Session).done()], Review, &["pg-setting-change"]),
        case("search_path before pg_catalog", vec![s(K::Set).setting("search_path", Some("evil, pg_catalog"), Scope::Session).done()], Review, &["pg-search-path-shadowing"]),
        case("set_config with unknown name", vec![s(K::Select).function("set_config", Some(Risk::SetConfig)).done()], Review, &["pg-set-config"]),
        case("pg_cancel_backend", vec![s(K::Select).function("pg_cancel_backend", Some(Risk::QueryControl)).done()], Review, &["pg-query-control"]),
        case("lo_unlink", vec![s(K::Select).function("lo_unlink", Some(Risk::LargeObjectWrite)).done()], Review, &["pg-large-object-write"]),
        case("unclassified", vec![s(K::Other).done()], Review, &["pg-unclassified"]),
        on(&["prod", "eu"], case("prod among several tags", vec![s(K::Execute).done()], Review, &["pg-execute-prepared"])),
    ]
}

#[rustfmt::skip]
fn allow_cases() -> Vec<Case> {
    use Verdict::Allow;
    vec![
        case("select with where", vec![s(K::Select).reads("pgbench_accounts").filter(Present).done()], Allow, &[]),
        case("select star with limit", vec![s(K::Select).reads("users").star().filter(Absent).limited().done()], Allow, &[]),
        case("select star with where", vec![s(K::Select).reads("users").star().filter(Present).done()], Allow, &[]),
        case("count(*)", vec![s(K::Select).reads("users").aggregate().function("count", None).filter(Absent).done()], Allow, &[]),
        case("catalog read", vec![s(K::Select).reads("pg_catalog.pg_class").star().filter(Absent).flag(Flag::SystemOnly).done()], Allow, &[]),
        case("select 1", vec![s(K::Select).flag(Flag::SystemOnly).done()], Allow, &[]),
        case("selective update", vec![s(K::Update).writes("users").filter(Present).done()], Allow, &[]),
        case("selective delete", vec![s(K::Delete).writes("users").filter(Present).done()], Allow, &[]),
        case("insert", vec![s(K::Insert).writes("users").done()], Allow, &[]),
        case("begin", vec![s(K::Transaction).done()], Allow, &[]),
        case("explain", vec![s(K::Explain).done()], Allow, &[]),
        case("show", vec![s(K::Show).done()], Allow, &[]),
        case("set search_path", vec![s(K::Set).setting("search_path", Some("app"), Scope::Session).done()], Allow, &[]),
        case("set local statement_timeout", vec![s(K::Set).setting("statement_timeout", Some("5s"), Scope::Transaction).done()], Allow, &[]),
        case("set enable_seqscan", vec![s(K::Set).setting("enable_seqscan", Some("off"), Scope::Session).done()], Allow, &[]),
        case("reset all", vec![s(K::Reset).setting("all", None, Scope::Session).done()], Allow, &[]),
        case("set_config search_path", vec![s(K::Select).function("set_config", Some(Risk::SetConfig)).setting("search_path", Some(""), Scope::Session).done()], Allow, &[]),
        case("copy from stdin", vec![s(K::Copy).writes("users").copy(From, Stdin).done()], Allow, &[]),
        case("empty input", vec![], Allow, &[]),
        case("selective delete in a function body is not a bomb", vec![s(K::Delete).writes("sessions").filter(Present).origin(Origin::FunctionBody).done()], Allow, &[]),
        case("literal dynamic sql", vec![s(K::Do).dynamic(DynamicSql::Literal).done(), s(K::Insert).writes("t").origin(Origin::DynamicSql).done()], Allow, &[]),
        case("maintenance", vec![s(K::Maintenance).touch("users", Write).done()], Allow, &[]),
        on(&["dev"], case("create function on dev", vec![s(K::Create).object("function").touch("f", Create).done()], Allow, &[])),
        on(&["staging"], case("export on staging", vec![s(K::Select).reads("users").star().filter(Absent).done()], Allow, &[])),
        on(&[], case("no tags: review rules do not apply", vec![s(K::Execute).done()], Allow, &[])),
    ]
}

fn run(cases: Vec<Case>) {
    let policy = Policy::default_pack().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let command = command(IdentityKind::Human, &[], case.envs);
        let decision = policy.decide(&command, &facts(case.statements));
        let mut rules: Vec<&str> = decision.rules.iter().map(|r| r.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        if decision.verdict != case.verdict || rules != case.rules {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {:?}",
                case.name, case.verdict, case.rules, decision.verdict, rules
            ));
        }
        for rule in &decision.rules {
            assert!(
                !rule.message.contains('{'),
                "{}: unfilled message {:?}",
                case.name,
                rule.message
            );
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn deny_rules() {
    run(deny_cases());
}

#[test]
fn review_rules() {
    run(review_cases());
}

#[test]
fn allowed_statements() {
    run(allow_cases());
}

#[test]
fn every_forbid_rule_is_exercised() {
    let policy = Policy::default_pack().unwrap();
    let cases = [deny_cases(), review_cases()].into_iter().flatten();
    let covered: Vec<&str> = cases.flat_map(|c| c.rules.iter().copied()).collect();
    for rule in policy.rules() {
        let id = rule.id.as_str();
        if rule.effect != airlock_policy::RuleEffect::Permit && id != "pg-unparseable" {
            assert!(covered.contains(&id), "no test case for rule `{id}`");
        }
    }
}
