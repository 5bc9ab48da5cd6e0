//! Loading policy files: parse, strict validation against the schema, annotations, unique ids.
//! Every problem of every file is collected before the set is rejected.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{Policy as CedarPolicy, PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;

use crate::error::{Position, Problem};
use crate::rule::{Annotations, Rule};

/// One policy file's text and the name problems are reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySource {
    pub name: String,
    pub text: String,
}

/// A validated policy set with the rule behind every policy id.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub set: PolicySet,
    pub rules: HashMap<PolicyId, Rule>,
}

/// Where each rule id was first defined, to report duplicates.
type Seen = HashMap<String, (String, Option<Position>)>;

impl PolicySource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Loads `sources` into one policy set, or reports every problem found.
pub(crate) fn load(
    validator: &Validator,
    sources: &[PolicySource],
) -> Result<Loaded, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut loaded = Loaded {
        set: PolicySet::new(),
        rules: HashMap::new(),
    };
    let mut seen = Seen::new();
    for (index, source) in sources.iter().enumerate() {
        load_file(
            validator,
            (index, source),
            &mut loaded,
            &mut seen,
            &mut problems,
        );
    }
    if problems.is_empty() {
        Ok(loaded)
    } else {
        Err(problems)
    }
}

fn load_file(
    validator: &Validator,
    (index, source): (usize, &PolicySource),
    loaded: &mut Loaded,
    seen: &mut Seen,
    problems: &mut Vec<Problem>,
) {
    let mut found = Vec::new();
    let file = source.name.as_str();
    let at = |diagnostic: &dyn Diagnostic| {
        Problem::at(
            file,
            &source.text,
            first_offset(diagnostic),
            reason(diagnostic),
        )
    };
    match PolicySet::from_str(&source.text) {
        Err(errors) => found.extend(errors.iter().map(|e| at(e))),
        Ok(set) => {
            for template in set.templates() {
                let offset = AsRef::as_ref(template).loc().map(|l| l.start());
                let reason =
                    "templates (policies with `?principal` or `?resource`) are not supported";
                found.push(Problem::at(file, &source.text, offset, reason));
            }
            let policies = named(&set);
            let mut named_set = PolicySet::new();
            for policy in &policies {
                // Ids are unique here by construction; duplicates are reported below.
                let _ = named_set.add(policy.clone());
            }
            let result = validator.validate(&named_set, ValidationMode::Strict);
            found.extend(result.validation_errors().map(|e| at(e)));
            for policy in &policies {
                add_policy(policy, (index, source), loaded, seen, &mut found);
            }
        }
    }
    found.sort_by_key(|p| p.position);
    problems.extend(found);
}

/// The file's policies in source order, named by their `@id` where it is present and unique.
fn named(set: &PolicySet) -> Vec<CedarPolicy> {
    let mut policies: Vec<&CedarPolicy> = set.policies().collect();
    policies.sort_by_key(|p| AsRef::as_ref(*p).loc().map(|l| l.start()));
    let mut used = std::collections::HashSet::new();
    policies
        .into_iter()
        .map(|policy| match policy.annotation("id") {
            Some(id) if used.insert(id.to_owned()) => policy.new_id(PolicyId::new(id)),
            _ => policy.clone(),
        })
        .collect()
}

fn add_policy(
    policy: &CedarPolicy,
    (index, source): (usize, &PolicySource),
    loaded: &mut Loaded,
    seen: &mut Seen,
    problems: &mut Vec<Problem>,
) {
    let file = source.name.as_str();
    let ast = AsRef::as_ref(policy);
    let annotations = Annotations {
        entries: ast
            .annotations()
            .map(|(key, a)| {
                (
                    key.as_ref(),
                    a.val.as_str(),
                    a.loc.as_ref().map(|l| l.start()),
                )
            })
            .collect(),
        policy_offset: ast.loc().map(|l| l.start()),
    };
    let mut rule = match Rule::from_annotations(policy.effect(), &annotations, file) {
        Ok(rule) => rule,
        Err(found) => {
            problems.extend(
                found
                    .into_iter()
                    .map(|p| Problem::at(file, &source.text, p.offset, p.reason)),
            );
            return;
        }
    };
    let position = annotations
        .policy_offset
        .map(|o| Position::of_offset(&source.text, o));
    if let Some((first_file, first_at)) = seen.get(rule.id.as_str()) {
        let first = match first_at {
            Some(p) => format!("{first_file}:{}:{}", p.line, p.column),
            None => first_file.clone(),
        };
        let reason = format!("duplicate rule id `{}`, first defined at {first}", rule.id);
        problems.push(Problem::new(file, position, reason));
        return;
    }
    seen.insert(rule.id.as_str().to_owned(), (file.to_owned(), position));
    rule.order.0 = index;
    let id = PolicyId::new(rule.id.as_str());
    if let Err(error) = loaded.set.add(policy.new_id(id.clone())) {
        problems.push(Problem::new(file, position, error.to_string()));
        return;
    }
    loaded.rules.insert(id, rule);
}

/// The first source offset a diagnostic points at (its own labels, then its related ones).
fn first_offset(diagnostic: &dyn Diagnostic) -> Option<usize> {
    if let Some(offset) = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset())
    {
        return Some(offset);
    }
    diagnostic
        .related()
        .and_then(|mut related| related.find_map(first_offset))
}

/// The diagnostic's message, with Cedar's help text when it has some.
fn reason(diagnostic: &dyn Diagnostic) -> String {
    let message = diagnostic.to_string();
    match diagnostic.help() {
        Some(help) => format!("{message} ({help})"),
        None => message,
    }
}
