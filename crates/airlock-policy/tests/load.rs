//! Loading policy files: every problem with file, line, column and reason.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use airlock_model::{IdentityKind, StatementKind as K, Verdict};
use airlock_policy::{Policy, PolicyError, PolicySource, default_pack_text};
use common::{command, facts, s};

fn problems(sources: &[(&str, &str)]) -> Vec<String> {
    let sources: Vec<PolicySource> = sources
        .iter()
        .map(|(n, t)| PolicySource::new(*n, *t))
        .collect();
    match Policy::from_sources(&sources) {
        Ok(_) => panic!("expected the policy to be rejected"),
        Err(error) => error.problems().iter().map(ToString::to_string).collect(),
    }
}

fn one_problem(text: &str) -> String {
    let found = problems(&[("my.cedar", text)]);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.into_iter().next().unwrap()
}

const DENY_HEAD: &str = "@verdict(\"deny\")\n@message(\"no\")\n";

#[test]
fn syntax_error_has_file_line_and_reason() {
    let text = "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\nforbid (principal action, resource);\n";
    insta::assert_snapshot!(one_problem(text));
}

#[test]
fn strict_validation_errors_point_at_the_expression() {
    let text = format!(
        "@id(\"typo\")\n{DENY_HEAD}forbid (principal, action == Action::\"sql\", resource)\nwhen {{ context.stmt.knid == \"drop\" }};\n"
    );
    let problem = one_problem(&text);
    insta::assert_snapshot!(problem);
    let text = format!(
        "@id(\"type\")\n{DENY_HEAD}forbid (principal, action == Action::\"sql\", resource)\nwhen {{ context.stmt.limited == 1 }};\n"
    );
    let problem = one_problem(&text);
    assert!(problem.starts_with("my.cedar:5:"), "{problem}");
}

#[test]
fn annotation_problems_are_all_reported() {
    let text = r#"permit (principal, action, resource);

@id("x")
@verdict("maybe")
@message("m")
forbid (principal, action, resource);

@id("y")
forbid (principal, action, resource);

@id("z")
@verdict("review")
@message("found {tables}")
@quorum("0")
@require_reason("yes")
@verdic("deny")
forbid (principal, action, resource);

@id("p")
@verdict("deny")
permit (principal, action, resource);

@id("no-permit")
permit (principal, action, resource);

@id("d")
@verdict("deny")
@message("m")
@quorum("2")
forbid (principal, action, resource);
"#;
    insta::assert_snapshot!(problems(&[("bad.cedar", text)]).join("\n"));
}

#[test]
fn duplicate_ids_across_files_are_rejected() {
    let a = "@id(\"allow\")\npermit (principal, action, resource);\n";
    let b = "// again\n@id(\"allow\")\npermit (principal, action, resource);\n";
    let found = problems(&[("a.cedar", a), ("b.cedar", b)]);
    assert_eq!(
        found,
        ["b.cedar:2:1: duplicate rule id `allow`, first defined at a.cedar:1:1"]
    );
}

#[test]
fn templates_are_rejected() {
    let problem = one_problem("@id(\"t\")\npermit (principal == ?principal, action, resource);\n");
    assert!(problem.contains("templates"), "{problem}");
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.cedar");
    std::fs::write(&good, default_pack_text()).unwrap();
    let policy = Policy::load(std::slice::from_ref(&good)).unwrap();
    assert_eq!(
        policy.rules().len(),
        Policy::default_pack().unwrap().rules().len()
    );
    let missing = dir.path().join("missing.cedar");
    let error = Policy::load(&[good, missing]).unwrap_err();
    assert!(matches!(error, PolicyError::Invalid(_)));
    let text = error.to_string();
    assert!(
        text.contains("missing.cedar: cannot read the file"),
        "{text}"
    );
    assert!(Policy::load(&[]).is_err());
}

#[test]
fn show_default_output_is_a_loadable_policy() {
    let text = default_pack_text();
    assert!(text.starts_with("// file: 00-base.cedar\n"));
    let policy = Policy::from_sources(&[PolicySource::new("my.cedar", text)]).unwrap();
    let summary = policy.summary();
    assert_eq!(summary.files, 1);
    assert_eq!(summary.permit, 1);
    assert_eq!(summary.deny + summary.review + 1, policy.rules().len());
}

fn user_policy(text: &str) -> Policy {
    Policy::from_sources(&[PolicySource::new("user.cedar", text)]).unwrap()
}

#[test]
fn a_rule_that_fails_while_judging_denies() {
    // Validates (types are right) but overflows at run time: Cedar would skip the forbid.
    let policy = user_policy(
        r#"@id("allow") permit (principal, action, resource);
@id("overflow") @verdict("deny") @message("big")
forbid (principal, action == Action::"sql", resource)
when { context.stmt.index + 9223372036854775807 + 9223372036854775807 > 0 };"#,
    );
    let decision = policy.decide(
        &command(IdentityKind::Human, &[], &["prod"]),
        &facts(vec![s(K::Show).done()]),
    );
    assert_eq!(decision.verdict, Verdict::Deny);
    assert_eq!(decision.rules[0].rule.as_str(), "policy-error");
    insta::assert_snapshot!(decision.reason());
}

#[test]
fn without_a_matching_permit_everything_is_denied() {
    let policy =
        user_policy(r#"@id("dba-only") permit (principal in Group::"dba", action, resource);"#);
    let show = facts(vec![s(K::Show).done()]);
    let denied = policy.decide(&command(IdentityKind::Human, &[], &["prod"]), &show);
    assert_eq!(denied.verdict, Verdict::Deny);
    assert_eq!(denied.rules[0].rule.as_str(), "no-permit");
    assert_eq!(denied.rules[0].statement, Some(0));
    let allowed = policy.decide(&command(IdentityKind::Human, &["dba"], &["prod"]), &show);
    assert_eq!(allowed.verdict, Verdict::Allow);
}

#[test]
fn exemptions_and_approvers_from_annotations() {
    let policy = user_policy(
        r#"@id("allow") permit (principal, action, resource);
@id("drop-needs-two")
@verdict("review")
@message("drops {drops}")
@hint("ask the {object_type} owner")
@approvers_users("carol, dave")
@approvers_groups("dba")
@quorum("2")
@allow_principal_of_agent("true")
forbid (principal, action == Action::"sql", resource)
when { context.stmt.kind == "drop" }
unless { principal in Group::"dba" };
@id("agents-never-truncate") @verdict("deny") @message("agents may not truncate")
forbid (principal is Agent, action == Action::"sql", resource)
when { context.stmt.kind == "truncate" && principal has acting_for && principal.acting_for == "bob" };"#,
    );
    let drop = facts(vec![
        s(K::Drop)
            .object("table")
            .touch("t", airlock_model::Access::Drop)
            .done(),
    ]);
    let decision = policy.decide(&command(IdentityKind::Agent, &[], &["dev"]), &drop);
    insta::assert_yaml_snapshot!(decision);
    let exempt = policy.decide(&command(IdentityKind::Human, &["dba"], &["prod"]), &drop);
    assert_eq!(exempt.verdict, Verdict::Allow);
    let truncate = facts(vec![s(K::Truncate).writes("t").done()]);
    let by_agent = policy.decide(&command(IdentityKind::Agent, &[], &["prod"]), &truncate);
    assert_eq!(by_agent.verdict, Verdict::Deny);
    let by_human = policy.decide(&command(IdentityKind::Human, &[], &["prod"]), &truncate);
    assert_eq!(by_human.verdict, Verdict::Allow);
}
