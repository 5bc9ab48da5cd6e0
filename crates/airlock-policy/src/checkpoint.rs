//! The checkpoint: inspect + decide, with a decision cache so repeated statements cost a
//! hash lookup. Pure: the cache is plain data owned by the caller (one per session or task).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use airlock_inspect::SqlOptions;
use airlock_model::{Command, Decision, Facts};

use crate::Policy;

/// Entries per cache before it is cleared (bounded memory on replays of unique statements).
const CACHE_CAPACITY: usize = 16_384;

/// Inspects and decides commands under one policy, caching decisions:
/// - by exact text (always valid: same input, same facts, same decision), and
/// - by shape (the text with literals replaced, [`airlock_inspect::shape_key`]), only when the
///   inspector reports that no fact can depend on a literal
///   ([`airlock_model::SqlFacts::literal_sensitive`]) — so `WHERE aid = 42` and `WHERE aid = 43`
///   share one decision, while `WHERE 1 = 1` and `WHERE 1 = 2` never do.
///
/// Keys include the identity, connection and protocol, so a decision is reused only for the
/// same principal on the same target.
#[derive(Debug)]
pub struct Checkpoint {
    policy: Arc<Policy>,
    options: SqlOptions,
    exact: HashMap<u64, HashMap<String, Decision>>,
    shapes: HashMap<u64, HashMap<String, Decision>>,
    entries: usize,
}

impl Checkpoint {
    /// A checkpoint over a shared policy (one per session or task; the cache is its own).
    pub fn new(policy: impl Into<Arc<Policy>>) -> Self {
        Self::with_options(policy, SqlOptions::default())
    }

    pub fn with_options(policy: impl Into<Arc<Policy>>, options: SqlOptions) -> Self {
        Self {
            policy: policy.into(),
            options,
            exact: HashMap::new(),
            shapes: HashMap::new(),
            entries: 0,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The facts the decision for `command` is based on (not cached).
    pub fn facts(&self, command: &Command) -> Facts {
        airlock_inspect::inspect(command.connection.kind, &command.text, &self.options)
    }

    /// Decides `command`: total, never fails (an internal failure is a deny).
    pub fn decide(&mut self, command: &Command) -> Decision {
        let context = context_key(command);
        if let Some(hit) = self
            .exact
            .get(&context)
            .and_then(|m| m.get(command.text.as_str()))
        {
            return hit.clone();
        }
        let shape = self
            .shape_cache_usable()
            .then(|| airlock_inspect::shape_key(&command.text))
            .flatten();
        let hit = shape
            .as_deref()
            .and_then(|key| self.shapes.get(&context)?.get(key));
        if let Some(hit) = hit {
            let decision = hit.clone();
            self.remember(context, command, None, &decision);
            return decision;
        }
        let facts = self.facts(command);
        let decision = crate::decide(command, &facts, &self.policy);
        let Facts::Sql(sql) = &facts;
        let shape = shape.filter(|_| !sql.literal_sensitive);
        self.remember(context, command, shape, &decision);
        decision
    }

    fn shape_cache_usable(&self) -> bool {
        self.options.standard_conforming_strings && !self.options.both_string_modes
    }

    fn remember(
        &mut self,
        context: u64,
        command: &Command,
        shape: Option<String>,
        decision: &Decision,
    ) {
        if self.entries >= CACHE_CAPACITY {
            self.exact.clear();
            self.shapes.clear();
            self.entries = 0;
        }
        self.exact
            .entry(context)
            .or_default()
            .insert(command.text.clone(), decision.clone());
        self.entries += 1;
        if let Some(key) = shape {
            self.shapes
                .entry(context)
                .or_default()
                .insert(key, decision.clone());
            self.entries += 1;
        }
    }
}

fn context_key(command: &Command) -> u64 {
    let mut hasher = DefaultHasher::new();
    command.identity.hash(&mut hasher);
    command.connection.hash(&mut hasher);
    command.protocol.hash(&mut hasher);
    hasher.finish()
}
