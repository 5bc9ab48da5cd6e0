//! PostgreSQL inspection over libpg_query's parse tree.

mod ddl;
mod dml;
mod expr;
mod fallback;
mod fold;
mod functions;
mod names;
mod parser_settings;
mod placeholders;
mod plpgsql;
mod plvars;
mod privileges;
mod set_operation;
mod shape;
mod source;
mod statement;
mod strings;
mod truth;
mod utility;

use airlock_model::SqlFacts;
use pg_query::ParserOptions;

pub use parser_settings::safe_client_encoding;

/// How the server will parse the text (the gateway learns these from the session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlOptions {
    /// `standard_conforming_strings` (on by default since PostgreSQL 9.1). When unknown,
    /// inspect with both and merge: see [`SqlOptions::both_string_modes`].
    pub standard_conforming_strings: bool,
    /// Parse a second time with the other `standard_conforming_strings` mode and merge the
    /// facts, for callers that do not know the server's setting.
    pub both_string_modes: bool,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            standard_conforming_strings: true,
            both_string_modes: false,
        }
    }
}

/// Nesting bound for bodies and dynamic SQL inside each other; deeper input is opaque.
const MAX_DEPTH: u8 = 8;

/// Inspects PostgreSQL input (one or more statements).
pub fn inspect(text: &str, options: &SqlOptions) -> SqlFacts {
    let mut facts = inspect_mode(text, options.standard_conforming_strings);
    if options.both_string_modes {
        let other = inspect_mode(text, !options.standard_conforming_strings);
        facts.statements.extend(other.statements);
        facts.literal_sensitive |= other.literal_sensitive;
        if facts.unparseable.is_none() {
            facts.unparseable = other.unparseable;
        }
    }
    facts
}

fn inspect_mode(text: &str, standard_conforming_strings: bool) -> SqlFacts {
    let mut parser = ParserOptions::DEFAULT;
    if !standard_conforming_strings {
        parser |= ParserOptions::DISABLE_STANDARD_CONFORMING_STRINGS;
    }
    let mut inspector = statement::Inspector::new(parser);
    let top_level_count = inspector.inspect_text(text, airlock_model::Origin::TopLevel, 0);
    inspector.finish(top_level_count)
}

/// The input's tokens with every number and string literal replaced by a placeholder, or
/// `None` when the scanner cannot be sure how PostgreSQL tokenizes it ([`shape`] says why).
/// Two inputs with the same shape key have the same facts unless
/// [`SqlFacts::literal_sensitive`] is set for them: the key keeps every identifier, operator
/// and keyword, and literal sensitivity is decided from the tree's structure alone. Only
/// meaningful with `standard_conforming_strings = on`.
pub fn shape_key(text: &str) -> Option<String> {
    shape::shape_key(text)
}
