//! Who may vote on a request: a human other than the requester (and, unless the rule allows
//! it, other than the human an agent acts for), named by the rule's users or groups — or any
//! such human when the rule names nobody.

use airlock_model::{Approval, Identity, IdentityKind};

use crate::{Choice, Refusal, Request};

/// Checks that `voter` may cast `choice` on `request`, in this order: not the requester, a
/// human, not the requesting agent's principal (unless allowed), and listed by the rule.
/// A rule that lists nobody lets any other human vote (what `airlock check` tells users).
pub(crate) fn check(request: &Request, voter: &Identity, choice: Choice) -> Result<(), Refusal> {
    let requester = &request.requester;
    let approval = &request.approval;
    let id = request.id;
    if voter.id == requester.id {
        return Err(Refusal::OwnRequest {
            request: id,
            voter: voter.id.clone(),
            choice,
        });
    }
    match voter.kind {
        IdentityKind::Human => {}
        IdentityKind::Agent | IdentityKind::Service => {
            return Err(Refusal::NotHuman {
                request: id,
                voter: voter.id.clone(),
                kind: voter.kind,
            });
        }
    }
    if requester.acting_for.as_ref() == Some(&voter.id) && !approval.allow_principal_of_agent {
        return Err(Refusal::PrincipalOfAgent {
            request: id,
            voter: voter.id.clone(),
            choice,
            agent: requester.id.clone(),
            rule: request.context.rule.clone(),
        });
    }
    let anyone = approval.users.is_empty() && approval.groups.is_empty();
    if !anyone && !is_listed(approval, voter) {
        return Err(Refusal::NotAnApprover {
            request: id,
            voter: voter.id.clone(),
            rule: request.context.rule.clone(),
            approvers: describe(approval),
        });
    }
    Ok(())
}

/// Named as a user, or a member of a named group.
fn is_listed(approval: &Approval, voter: &Identity) -> bool {
    let named = approval.users.iter().any(|u| u == voter.id.as_str());
    let in_group = approval
        .groups
        .iter()
        .any(|g| voter.groups.iter().any(|mine| mine.as_str() == g));
    named || in_group
}

/// Who may approve, in words for a waiting requester: ``users `carol`, `dave` or group `dba` ``,
/// or `any other human` when the rule names nobody.
pub fn who_approves(approval: &Approval) -> String {
    if approval.users.is_empty() && approval.groups.is_empty() {
        return "any other human".to_owned();
    }
    describe(approval)
}

/// The approvers in words: ``users `carol`, `dave` or group `dba` ``.
fn describe(approval: &Approval) -> String {
    let list = |singular: &str, names: &[String]| -> Option<String> {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        match quoted.len() {
            0 => None,
            1 => Some(format!("{singular} {}", quoted.join(""))),
            _ => Some(format!("{singular}s {}", quoted.join(", "))),
        }
    };
    let parts: Vec<String> = [
        list("user", &approval.users),
        list("group", &approval.groups),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(users: &[&str], groups: &[&str]) -> Approval {
        Approval {
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            quorum: 1,
            ..Approval::default()
        }
    }

    #[test]
    fn describes_users_and_groups() {
        let cases = [
            (approval(&["carol"], &[]), "user `carol`"),
            (approval(&["carol", "dave"], &[]), "users `carol`, `dave`"),
            (approval(&[], &["dba"]), "group `dba`"),
            (
                approval(&["carol"], &["dba", "sre"]),
                "user `carol` or groups `dba`, `sre`",
            ),
        ];
        for (approval, expected) in cases {
            assert_eq!(describe(&approval), expected);
        }
        assert_eq!(who_approves(&approval(&[], &[])), "any other human");
        assert_eq!(who_approves(&approval(&[], &["dba"])), "group `dba`");
    }
}
