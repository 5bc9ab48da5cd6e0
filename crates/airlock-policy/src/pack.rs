//! The default guardrail pack and the schema, embedded in the binary as readable files.

use crate::load::PolicySource;

/// One embedded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackFile {
    pub name: &'static str,
    pub text: &'static str,
}

/// airlock's Cedar schema (`.cedarschema` text).
pub const SCHEMA: PackFile = PackFile {
    name: "airlock.cedarschema",
    text: include_str!("../policies/airlock.cedarschema"),
};

/// The default guardrail pack, in load order.
pub const DEFAULT_PACK: &[PackFile] = &[
    PackFile {
        name: "00-base.cedar",
        text: include_str!("../policies/00-base.cedar"),
    },
    PackFile {
        name: "10-pg-destructive.cedar",
        text: include_str!("../policies/10-pg-destructive.cedar"),
    },
    PackFile {
        name: "20-pg-server-access.cedar",
        text: include_str!("../policies/20-pg-server-access.cedar"),
    },
    PackFile {
        name: "30-pg-privileges.cedar",
        text: include_str!("../policies/30-pg-privileges.cedar"),
    },
    PackFile {
        name: "40-pg-audit-evasion.cedar",
        text: include_str!("../policies/40-pg-audit-evasion.cedar"),
    },
    PackFile {
        name: "50-pg-review.cedar",
        text: include_str!("../policies/50-pg-review.cedar"),
    },
];

/// The default pack as policy sources, named `default/<file>`.
pub fn default_sources() -> Vec<PolicySource> {
    DEFAULT_PACK
        .iter()
        .map(|f| PolicySource::new(format!("default/{}", f.name), f.text))
        .collect()
}

/// The whole default pack as one loadable file, each part headed by `// file: <name>`.
pub fn default_pack_text() -> String {
    let mut out = String::new();
    for file in DEFAULT_PACK {
        out.push_str("// file: ");
        out.push_str(file.name);
        out.push_str("\n\n");
        out.push_str(file.text);
        if !file.text.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out
}
