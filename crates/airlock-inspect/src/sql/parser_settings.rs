//! Settings that change how the server reads string literals. airlock reads them the way
//! PostgreSQL does with `standard_conforming_strings = on` and a client encoding in which no
//! byte of a multi-byte character is an ASCII quote or backslash. A statement whose changes to
//! these two settings provably keep both gets [`StatementFlag::SafeParserSettings`]; any other
//! value, or one airlock cannot read, does not (an allow-list: fail closed).

use airlock_model::{SettingChange, Statement, StatementFlag};

const STRINGS: &str = "standard_conforming_strings";
const ENCODING: &str = "client_encoding";
/// What the inspector records for `SET x TO DEFAULT` and `RESET x`.
const DEFAULT: &str = "DEFAULT";
/// PostgreSQL looks up no encoding name this long (`NAMEDATALEN`).
const MAX_ENCODING_NAME: usize = 64;

/// The names of PostgreSQL's encoding table (src/common/encnames.c, `pg_encname_tbl`) of the
/// encodings in which every byte of a multi-byte character has the high bit set, normalised
/// as PostgreSQL does (ASCII letters and digits only, lower-cased): UTF8, SQL_ASCII, EUC_*,
/// MULE_INTERNAL and the single-byte encodings. Left out on purpose: SJIS, SHIFT_JIS_2004,
/// BIG5, GBK, UHC, GB18030 and JOHAB (and their aliases mskanji, shiftjis, win932, win936,
/// win949, win950, windows93x…), whose trailing bytes can be `'` or `\`. Sorted.
const SAFE_ENCODINGS: &[&str] = &[
    "abc",
    "alt",
    "euccn",
    "eucjis2004",
    "eucjp",
    "euckr",
    "euctw",
    "iso88591",
    "iso885910",
    "iso885913",
    "iso885914",
    "iso885915",
    "iso885916",
    "iso88592",
    "iso88593",
    "iso88594",
    "iso88595",
    "iso88596",
    "iso88597",
    "iso88598",
    "iso88599",
    "koi8",
    "koi8r",
    "koi8u",
    "latin1",
    "latin10",
    "latin2",
    "latin3",
    "latin4",
    "latin5",
    "latin6",
    "latin7",
    "latin8",
    "latin9",
    "muleinternal",
    "sqlascii",
    "tcvn",
    "tcvn5712",
    "unicode",
    "utf8",
    "vscii",
    "win",
    "win1250",
    "win1251",
    "win1252",
    "win1253",
    "win1254",
    "win1255",
    "win1256",
    "win1257",
    "win1258",
    "win866",
    "win874",
    "windows1250",
    "windows1251",
    "windows1252",
    "windows1253",
    "windows1254",
    "windows1255",
    "windows1256",
    "windows1257",
    "windows1258",
    "windows866",
    "windows874",
];

/// Flags `st` when it changes `standard_conforming_strings` or `client_encoding` and every
/// such change keeps string literals read as airlock reads them.
pub(crate) fn mark(st: &mut Statement) {
    let mut changes = st
        .settings
        .iter()
        .filter(|s| s.name == STRINGS || s.name == ENCODING)
        .peekable();
    if changes.peek().is_some() && changes.all(keeps_literals) {
        st.flags.insert(StatementFlag::SafeParserSettings);
    }
}

/// True when the change provably leaves `standard_conforming_strings` on and the client
/// encoding safe (or resets it to the server's configured value).
fn keeps_literals(change: &SettingChange) -> bool {
    match change.value.as_deref() {
        None => false,
        Some(DEFAULT) => true,
        Some(value) if change.name == STRINGS => parse_bool(value) == Some(true),
        Some(value) => change.name == ENCODING && safe_client_encoding(value),
    }
}

/// True when PostgreSQL reads `name` as a client encoding in which no byte of a multi-byte
/// character is an ASCII quote or backslash. Unknown names are not safe.
pub fn safe_client_encoding(name: &str) -> bool {
    if name.len() >= MAX_ENCODING_NAME {
        return false;
    }
    let key: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SAFE_ENCODINGS.binary_search(&key.as_str()).is_ok()
}

/// PostgreSQL's `parse_bool` as the settings use it (no trimming): `true`, `yes`, `on`, `1`
/// and `false`, `no`, `off`, `0`, case-insensitive, and unique prefixes of the words (`t`,
/// `fa`, `of`; `o` alone is ambiguous).
fn parse_bool(value: &str) -> Option<bool> {
    let lower = value.to_ascii_lowercase();
    let prefix_of =
        |word: &str, shortest: usize| lower.len() >= shortest && word.starts_with(lower.as_str());
    match lower.as_bytes().first()? {
        b't' if prefix_of("true", 1) => Some(true),
        b'y' if prefix_of("yes", 1) => Some(true),
        b'o' if prefix_of("on", 2) => Some(true),
        b'1' if lower.len() == 1 => Some(true),
        b'f' if prefix_of("false", 1) => Some(false),
        b'n' if prefix_of("no", 1) => Some(false),
        b'o' if prefix_of("off", 2) => Some(false),
        b'0' if lower.len() == 1 => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use airlock_model::{Origin, SettingScope, StatementKind};

    use super::*;

    #[test]
    fn parse_bool_reads_what_postgresql_reads() {
        for on in [
            "on", "ON", "oN", "true", "TRUE", "t", "tr", "tru", "yes", "y", "Ye", "1",
        ] {
            assert_eq!(parse_bool(on), Some(true), "{on:?}");
        }
        for off in [
            "off", "OFF", "OfF", "of", "OF", "false", "f", "fals", "FA", "no", "n", "N", "0",
        ] {
            assert_eq!(parse_bool(off), Some(false), "{off:?}");
        }
        for neither in [
            "",
            "o",
            "onn",
            "offf",
            "truee",
            "yess",
            "nope",
            "10",
            "01",
            " on",
            "on ",
            "2",
            "-1",
            "1.0",
            "DEFAULT",
            "\u{0130}n",
        ] {
            assert_eq!(parse_bool(neither), None, "{neither:?}");
        }
    }

    #[test]
    fn the_encoding_list_is_sorted_and_normalised() {
        assert!(SAFE_ENCODINGS.windows(2).all(|w| w[0] < w[1]));
        for name in SAFE_ENCODINGS {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{name}"
            );
        }
    }

    #[test]
    fn client_encodings_are_judged_by_postgresql_normalised_name() {
        for safe in [
            "UTF8",
            "utf-8",
            "Utf_8",
            "UNICODE",
            "SQL_ASCII",
            "LATIN1",
            "latin-9",
            "ISO-8859-5",
            "iso_8859_15",
            "euc_jp",
            "EUC-JIS-2004",
            "KOI8-R",
            "WIN1252",
            "windows-1251",
            "MULE_INTERNAL",
            " utf8 ",
        ] {
            assert!(safe_client_encoding(safe), "{safe:?}");
        }
        for unsafe_ in [
            "SJIS",
            "sjis",
            "Shift_JIS",
            "shift-jis",
            "mskanji",
            "MS_KANJI",
            "WIN932",
            "windows-932",
            "SHIFT_JIS_2004",
            "BIG5",
            "win950",
            "Windows_950",
            "GBK",
            "win936",
            "CP936",
            "UHC",
            "win949",
            "GB18030",
            "gb-18030",
            "JOHAB",
            "cp932",
            "auto",
            "",
            "DEFAULT",
            "utf8\u{0}sjis",
        ] {
            assert!(!safe_client_encoding(unsafe_), "{unsafe_:?}");
        }
        // PostgreSQL refuses names of NAMEDATALEN bytes or more before normalising them.
        assert!(!safe_client_encoding(&format!("utf8{}", "-".repeat(60))));
        assert!(safe_client_encoding(&format!("utf8{}", "-".repeat(59))));
    }

    fn statement(settings: &[(&str, Option<&str>)]) -> Statement {
        let mut st = Statement::new(StatementKind::Set, Origin::TopLevel);
        st.settings = settings
            .iter()
            .map(|(name, value)| SettingChange {
                name: (*name).to_owned(),
                value: value.map(str::to_owned),
                scope: SettingScope::Session,
            })
            .collect();
        mark(&mut st);
        st
    }

    #[test]
    fn only_statements_whose_every_parser_setting_is_safe_are_flagged() {
        let flagged = |settings: &[(&str, Option<&str>)]| {
            statement(settings).has_flag(StatementFlag::SafeParserSettings)
        };
        assert!(flagged(&[(STRINGS, Some("on"))]));
        assert!(flagged(&[(STRINGS, Some("DEFAULT"))]));
        assert!(flagged(&[(ENCODING, Some("utf-8"))]));
        assert!(flagged(&[
            (ENCODING, Some("DEFAULT")),
            ("work_mem", Some("64MB"))
        ]));
        assert!(flagged(&[(ENCODING, Some("UTF8")), (STRINGS, Some("1"))]));
        assert!(!flagged(&[(STRINGS, Some("of"))]));
        assert!(!flagged(&[(STRINGS, None)]));
        assert!(!flagged(&[(ENCODING, Some("mskanji"))]));
        assert!(!flagged(&[(ENCODING, None)]));
        assert!(!flagged(&[
            (ENCODING, Some("UTF8")),
            (ENCODING, Some("SJIS"))
        ]));
        assert!(!flagged(&[(ENCODING, Some("UTF8")), (STRINGS, Some("n"))]));
        // Nothing to vouch for: no flag.
        assert!(!flagged(&[("work_mem", Some("64MB"))]));
        assert!(!flagged(&[]));
    }
}
