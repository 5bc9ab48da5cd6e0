//! A loaded policy: the schema, the validated Cedar policy set and its rules, built once.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use airlock_model::{Command, Decision, Facts};
use cedar_policy::{Authorizer, PolicyId, PolicySet, Schema, Validator};

use crate::context::Types;
use crate::error::{PolicyError, Problem};
use crate::load::{self, PolicySource};
use crate::pack::{self, SCHEMA};
use crate::rule::{Rule, RuleEffect};

/// Policies ready to decide: immutable and cheap to share (`Arc<Policy>`).
#[derive(Debug)]
pub struct Policy {
    pub(crate) set: PolicySet,
    /// Rules in load order (file order, then position in the file).
    pub(crate) rules: Vec<Rule>,
    pub(crate) index: HashMap<PolicyId, usize>,
    pub(crate) authorizer: Authorizer,
    pub(crate) types: Types,
    /// Every string in the policy set (literals, names, annotations): an object or function
    /// name that equals none of them can only be compared with other names by any rule.
    pub(crate) strings: HashSet<String>,
    files: usize,
}

/// How many rules of each kind a policy has, for `airlock policy validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub deny: usize,
    pub review: usize,
    pub permit: usize,
}

impl Policy {
    /// The embedded default guardrail pack.
    pub fn default_pack() -> Result<Policy, PolicyError> {
        Self::from_sources(&pack::default_sources())
    }

    /// Reads and loads policy files (exactly these: the default pack is not added).
    pub fn load(paths: &[PathBuf]) -> Result<Policy, PolicyError> {
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        for path in paths {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => sources.push(PolicySource::new(name, text)),
                Err(error) => problems.push(Problem::new(
                    &name,
                    None,
                    format!("cannot read the file: {error}"),
                )),
            }
        }
        if paths.is_empty() {
            problems.push(Problem::new("airlock", None, "no policy files given"));
        }
        match Self::from_sources(&sources) {
            Ok(policy) if problems.is_empty() => Ok(policy),
            Ok(_) => Err(PolicyError::Invalid(problems)),
            Err(PolicyError::Invalid(more)) => {
                problems.extend(more);
                // Report in the order the files were given (stable within a file).
                let order = |p: &Problem| {
                    paths
                        .iter()
                        .position(|path| path.display().to_string() == p.file)
                };
                problems.sort_by_key(order);
                Err(PolicyError::Invalid(problems))
            }
            Err(error) => Err(error),
        }
    }

    /// Loads policy texts; every problem of every source is reported.
    pub fn from_sources(sources: &[PolicySource]) -> Result<Policy, PolicyError> {
        let schema = schema()?;
        let types = Types::new().map_err(PolicyError::Schema)?;
        let validator = Validator::new(schema);
        let loaded = load::load(&validator, sources).map_err(PolicyError::Invalid)?;
        let mut rules: Vec<Rule> = loaded.rules.into_values().collect();
        rules.sort_by_key(|r| r.order);
        let index = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (PolicyId::new(r.id.as_str()), i))
            .collect();
        let strings = policy_strings(&loaded.set);
        Ok(Policy {
            strings,
            set: loaded.set,
            rules,
            index,
            authorizer: Authorizer::new(),
            types,
            files: sources.len(),
        })
    }

    /// Decides a command from its facts. Total: an internal failure is a deny with a reason.
    pub fn decide(&self, command: &Command, facts: &Facts) -> Decision {
        crate::decide::decide(self, command, facts)
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.index
            .get(&PolicyId::new(id))
            .and_then(|&i| self.rules.get(i))
    }

    pub fn summary(&self) -> Summary {
        let count = |effect| self.rules.iter().filter(|r| r.effect == effect).count();
        Summary {
            files: self.files,
            deny: count(RuleEffect::Deny),
            review: count(RuleEffect::Review),
            permit: count(RuleEffect::Permit),
        }
    }
}

/// Every string in the policy set's JSON form. If the set cannot be serialized, the marker
/// string makes [`Policy::mentions`] answer "yes" for everything (no abstraction: safe).
fn policy_strings(set: &PolicySet) -> HashSet<String> {
    fn walk(value: &serde_json::Value, out: &mut HashSet<String>) {
        match value {
            serde_json::Value::String(s) => {
                out.insert(s.clone());
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| {
                out.insert(k.clone());
                walk(v, out);
            }),
            _ => {}
        }
    }
    let mut out = HashSet::new();
    match set.clone().to_json() {
        Ok(json) => walk(&json, &mut out),
        Err(_) => {
            out.insert(EVERYTHING.to_owned());
        }
    }
    out
}

const EVERYTHING: &str = "\u{0}airlock:everything";

impl Policy {
    /// True when a rule could compare `name` with a literal of its own (so facts with this name
    /// must not share a cached evaluation with facts that have another name in its place).
    pub(crate) fn mentions(&self, name: &str) -> bool {
        self.strings.contains(name) || self.strings.contains(EVERYTHING)
    }
}

/// airlock's Cedar schema.
pub fn schema() -> Result<Schema, PolicyError> {
    Schema::from_cedarschema_str(SCHEMA.text)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| PolicyError::Schema(e.to_string()))
}
