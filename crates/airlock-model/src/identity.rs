use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::Name;

/// What kind of principal is acting. Only humans may ever approve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Human,
    Agent,
    Service,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Agent => "agent",
            Self::Service => "service",
        }
    }
}

/// Who is asking. For an agent, `acting_for` names the human it works for; it appears in
/// every decision input and audit record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub id: Name,
    #[serde(default)]
    pub groups: BTreeSet<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_for: Option<Name>,
}

impl Identity {
    pub fn human(id: Name) -> Self {
        Self {
            kind: IdentityKind::Human,
            id,
            groups: BTreeSet::new(),
            acting_for: None,
        }
    }

    pub fn with_groups(mut self, groups: impl IntoIterator<Item = Name>) -> Self {
        self.groups.extend(groups);
        self
    }
}
