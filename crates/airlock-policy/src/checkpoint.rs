//! The checkpoint: inspect + decide, with caches so repeated statements cost a hash lookup.
//! Pure: the caches are plain data owned by the caller (one checkpoint per session or task),
//! bounded, and never shared across identities or connections.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use airlock_inspect::SqlOptions;
use airlock_model::{Command, Connection, Decision, Effect, Facts, Identity};
// Seeded per process, like std's, and several times faster on statement-length keys: each
// statement is looked up by text and by shape.
use foldhash::HashMap;

use crate::Policy;
use crate::abstraction::abstract_names;
use crate::decide::{Evaluation, evaluate, render};

/// Entries per checkpoint before its caches are cleared (bounded memory on long replays).
const CACHE_CAPACITY: usize = 16_384;

/// Inspects and decides commands under one policy. Three caches, each exact:
/// - the decision by **text**: same input, same facts, same decision;
/// - the decision by **shape** (the text with literals replaced, [`airlock_inspect::shape_key`]),
///   only when the inspector reports that no fact can depend on a literal
///   ([`airlock_model::SqlFacts::literal_sensitive`]): `WHERE aid = 42` and `WHERE aid = 43`
///   share a decision, `WHERE 1 = 1` and `WHERE 1 = 2` never do;
/// - the policy **evaluation** (which rules match — the expensive part) by facts: it is a pure
///   function of the caller, the connection, the protocol and the facts, and — when no rule can
///   tell the names apart — of the facts with object and function names abstracted
///   ([`crate::abstraction`]). Messages are always rendered from the real facts.
///
/// Every key includes the identity, connection and protocol.
#[derive(Debug)]
pub struct Checkpoint {
    policy: Arc<Policy>,
    options: SqlOptions,
    by_text: HashMap<u64, HashMap<String, Judgement>>,
    by_shape: HashMap<u64, HashMap<String, Judgement>>,
    by_facts: HashMap<u64, HashMap<Facts, Evaluation>>,
    entries: usize,
    /// The last caller and connection, with a hasher that has taken them in: a session judges
    /// every statement under the same two, and comparing them is cheaper than hashing them.
    context: Option<(Identity, Connection, DefaultHasher)>,
}

/// A decision and the command's durable effect (which decides when its audit record must be
/// durable), both from the same facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub decision: Decision,
    pub effect: Effect,
}

impl Checkpoint {
    /// A checkpoint over a shared policy (one per session or task; the caches are its own).
    pub fn new(policy: impl Into<Arc<Policy>>) -> Self {
        Self::with_options(policy, SqlOptions::default())
    }

    pub fn with_options(policy: impl Into<Arc<Policy>>, options: SqlOptions) -> Self {
        Self {
            policy: policy.into(),
            options,
            by_text: HashMap::default(),
            by_shape: HashMap::default(),
            by_facts: HashMap::default(),
            entries: 0,
            context: None,
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
        self.judge(command).decision
    }

    /// Decides `command` and classifies its effect; total, like [`Checkpoint::decide`].
    pub fn judge(&mut self, command: &Command) -> Judgement {
        let context = self.context_key(command);
        let text = command.text.as_str();
        if let Some(hit) = self.by_text.get(&context).and_then(|m| m.get(text)) {
            return hit.clone();
        }
        let shape = self
            .shape_cache_usable()
            .then(|| airlock_inspect::shape_key(text))
            .flatten();
        let hit = shape
            .as_deref()
            .and_then(|key| self.by_shape.get(&context)?.get(key));
        if let Some(judgement) = hit {
            // Not remembered by text: texts that differ only in literals would fill the text
            // cache with copies of one judgement; the shape scan is cheap.
            return judgement.clone();
        }
        let facts = self.facts(command);
        let key = abstract_names(&self.policy, command, &facts).unwrap_or_else(|| facts.clone());
        let evaluation = match self.by_facts.get(&context).and_then(|m| m.get(&key)) {
            Some(hit) => hit.clone(),
            None => {
                let evaluation = evaluate(&self.policy, command, &facts);
                self.by_facts
                    .entry(context)
                    .or_default()
                    .insert(key, evaluation.clone());
                self.entries += 1;
                evaluation
            }
        };
        let judgement = Judgement {
            decision: render(&self.policy, &facts, &evaluation),
            effect: Effect::of(&facts),
        };
        let Facts::Sql(sql) = &facts;
        // Shapes are shared only by texts that parse: the facts of unparseable input come from
        // a fallback that may read anything in it.
        let shape = shape.filter(|_| !sql.literal_sensitive && sql.unparseable.is_none());
        self.remember(context, command, shape, &judgement);
        judgement
    }

    /// Decides `command` on `facts` the caller completed (a row estimate from upstream), not
    /// on the inspector's own; remembered by facts only (an estimate is not a property of the
    /// text). Total, like [`Checkpoint::judge`].
    pub fn judge_facts(&mut self, command: &Command, facts: &Facts) -> Judgement {
        if self.entries >= CACHE_CAPACITY {
            self.by_text.clear();
            self.by_shape.clear();
            self.by_facts.clear();
            self.entries = 0;
        }
        let context = self.context_key(command);
        let evaluation = match self.by_facts.get(&context).and_then(|m| m.get(facts)) {
            Some(hit) => hit.clone(),
            None => {
                let evaluation = evaluate(&self.policy, command, facts);
                self.by_facts
                    .entry(context)
                    .or_default()
                    .insert(facts.clone(), evaluation.clone());
                self.entries += 1;
                evaluation
            }
        };
        Judgement {
            decision: render(&self.policy, facts, &evaluation),
            effect: Effect::of(facts),
        }
    }

    /// Replaces the options the inspector reads (e.g. after the server reports a change of
    /// `standard_conforming_strings`); cached decisions made under other options are dropped.
    pub fn set_options(&mut self, options: SqlOptions) {
        if options != self.options {
            self.options = options;
            self.by_text.clear();
            self.by_shape.clear();
            self.by_facts.clear();
            self.entries = 0;
        }
    }

    pub fn options(&self) -> &SqlOptions {
        &self.options
    }

    /// The cache key of the command's caller, connection and protocol.
    fn context_key(&mut self, command: &Command) -> u64 {
        let known = self.context.as_ref().filter(|(identity, connection, _)| {
            *identity == command.identity && *connection == command.connection
        });
        let mut hasher = match known {
            Some((_, _, hasher)) => hasher.clone(),
            None => {
                let mut hasher = DefaultHasher::new();
                command.identity.hash(&mut hasher);
                command.connection.hash(&mut hasher);
                self.context = Some((
                    command.identity.clone(),
                    command.connection.clone(),
                    hasher.clone(),
                ));
                hasher
            }
        };
        command.protocol.hash(&mut hasher);
        hasher.finish()
    }

    fn shape_cache_usable(&self) -> bool {
        self.options.standard_conforming_strings && !self.options.both_string_modes
    }

    fn remember(
        &mut self,
        context: u64,
        command: &Command,
        shape: Option<String>,
        judgement: &Judgement,
    ) {
        if self.entries >= CACHE_CAPACITY {
            self.by_text.clear();
            self.by_shape.clear();
            self.by_facts.clear();
            self.entries = 0;
        }
        let texts = self.by_text.entry(context).or_default();
        texts.insert(command.text.clone(), judgement.clone());
        self.entries += 1;
        if let Some(key) = shape {
            self.by_shape
                .entry(context)
                .or_default()
                .insert(key, judgement.clone());
            self.entries += 1;
        }
    }
}
