use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::Name;

/// The kind of system behind a connection; it selects the inspector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Postgres,
    Mysql,
    Shell,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Shell => "shell",
        }
    }
}

/// A named upstream that commands run against, tagged with environments such as `prod`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Connection {
    pub name: Name,
    pub kind: ConnectionKind,
    #[serde(default)]
    pub environments: BTreeSet<Name>,
}

impl Connection {
    pub fn is_tagged(&self, environment: &str) -> bool {
        self.environments.iter().any(|e| e.as_str() == environment)
    }
}
