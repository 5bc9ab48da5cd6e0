//! Reading one TOML table field by field, collecting every problem with its path and
//! reporting the fields nobody asked for as unknown.

use std::collections::BTreeSet;

use toml::{Table, Value};

use crate::Problem;

/// A table being read, its path (`connections[0]`) and the problems found so far.
pub(crate) struct Fields<'p> {
    path: String,
    table: Table,
    taken: BTreeSet<String>,
    problems: &'p mut Vec<Problem>,
}

impl<'p> Fields<'p> {
    pub(crate) fn new(
        path: impl Into<String>,
        table: Table,
        problems: &'p mut Vec<Problem>,
    ) -> Self {
        Self {
            path: path.into(),
            table,
            taken: BTreeSet::new(),
            problems,
        }
    }

    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn problem(&mut self, key: &str, reason: impl Into<String>) {
        let path = self.path_of(key);
        self.problems.push(Problem {
            path,
            reason: reason.into(),
        });
    }

    /// Records a problem found while reading a nested table.
    pub(crate) fn problem_at(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.taken.insert(key.to_owned());
        self.table.get(key).cloned()
    }

    fn wrong_type(&mut self, key: &str, expected: &str, found: &Value) {
        let reason = format!("expected {expected}, found {}", found.type_str());
        self.problem(key, reason);
    }

    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(key, "a string", &other);
                None
            }
        }
    }

    pub(crate) fn required_string(&mut self, key: &str) -> Option<String> {
        let value = self.string(key);
        if value.is_none() && !self.table.contains_key(key) {
            self.problem(key, "is required");
        }
        value
    }

    pub(crate) fn integer(&mut self, key: &str) -> Option<i64> {
        match self.take(key)? {
            Value::Integer(i) => Some(i),
            other => {
                self.wrong_type(key, "an integer", &other);
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(b) => Some(b),
            other => {
                self.wrong_type(key, "true or false", &other);
                None
            }
        }
    }

    pub(crate) fn strings(&mut self, key: &str) -> Vec<String> {
        let item = |v: Value| match v {
            Value::String(s) => Ok(s),
            other => Err(other),
        };
        self.array(key, "a string", "an array of strings", item)
    }

    pub(crate) fn table(&mut self, key: &str) -> Option<Table> {
        match self.take(key)? {
            Value::Table(t) => Some(t),
            other => {
                self.wrong_type(key, "a table", &other);
                None
            }
        }
    }

    pub(crate) fn tables(&mut self, key: &str) -> Vec<Table> {
        let item = |v: Value| match v {
            Value::Table(t) => Ok(t),
            other => Err(other),
        };
        self.array(key, "a table", "an array of tables (`[[…]]`)", item)
    }

    /// An optional array whose items `item` accepts; each rejected item is a problem at its
    /// own path (`key[i]`).
    fn array<T>(
        &mut self,
        key: &str,
        each: &str,
        whole: &str,
        item: impl Fn(Value) -> Result<T, Value>,
    ) -> Vec<T> {
        match self.take(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, value) in items.into_iter().enumerate() {
                    match item(value) {
                        Ok(v) => out.push(v),
                        Err(other) => self.wrong_type(&format!("{key}[{i}]"), each, &other),
                    }
                }
                out
            }
            Some(other) => {
                self.wrong_type(key, whole, &other);
                Vec::new()
            }
        }
    }

    /// Reports every field that was not read as unknown (typos, fields of a later version).
    pub(crate) fn finish(self) {
        for key in self.table.keys().filter(|k| !self.taken.contains(*k)) {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            self.problems.push(Problem {
                path,
                reason: "unknown field".into(),
            });
        }
    }
}
