//! What callers see: snapshots of whole decisions from the default pack.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use airlock_model::{
    Access, Facts, FunctionRisk, Origin, SettingScope, SqlFacts, StatementKind as K, Verdict,
    WhereClause,
};
use airlock_policy::Policy;
use common::{facts, prod, s};

#[test]
fn unparseable_input_is_denied_with_the_parser_error() {
    let policy = Policy::default_pack().unwrap();
    let facts = Facts::Sql(SqlFacts {
        statements: vec![],
        unparseable: Some("syntax error at or near \"DROPP\"".into()),
        top_level_count: 1,
        literal_sensitive: false,
    });
    let decision = policy.decide(&prod(), &facts);
    assert_eq!(decision.verdict, Verdict::Deny);
    insta::assert_yaml_snapshot!(decision);
}

#[test]
fn multi_statement_input_lists_every_rule_most_severe_first() {
    let policy = Policy::default_pack().unwrap();
    let facts = facts(vec![
        s(K::Select)
            .reads("users")
            .star()
            .filter(WhereClause::Absent)
            .done(),
        s(K::Set)
            .setting("log_statement", Some("none"), SettingScope::Session)
            .done(),
        s(K::Create)
            .object("function")
            .touch("wipe", Access::Create)
            .done(),
        s(K::Delete)
            .writes("orders")
            .filter(WhereClause::Absent)
            .origin(Origin::FunctionBody)
            .done(),
        s(K::Select)
            .function("pg_ls_dir", Some(FunctionRisk::ServerFileAccess))
            .done(),
    ]);
    insta::assert_yaml_snapshot!(policy.decide(&prod(), &facts));
}

#[test]
fn review_decisions_carry_the_approval() {
    let policy = Policy::default_pack().unwrap();
    let facts = facts(vec![
        s(K::Copy)
            .reads("public.customers")
            .copy(
                airlock_model::CopyDirection::To,
                airlock_model::CopyTarget::Stdout,
            )
            .done(),
    ]);
    insta::assert_yaml_snapshot!(policy.decide(&prod(), &facts));
}
