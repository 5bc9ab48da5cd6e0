//! Bad input never panics, hangs or is silently allowed: random and adversarial inputs through
//! the real parser and the inspector. Deterministic (a fixed-seed generator), so a failure
//! reproduces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use airlock_inspect::{SqlOptions, inspect};
use airlock_model::{ConnectionKind, Facts, SqlFacts};

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "DELETE",
    "FROM",
    "WHERE",
    "DROP",
    "TABLE",
    "users",
    "t",
    "(",
    ")",
    ",",
    ";",
    "'",
    "\"",
    "$$",
    "$q$",
    "--",
    "/*",
    "*/",
    "1",
    "=",
    "OR",
    "AND",
    "NOT",
    "NULL",
    "IS",
    "E'\\x41'",
    "U&'\\0041'",
    "DO",
    "BEGIN",
    "END",
    "EXECUTE",
    "format(",
    "'%I'",
    "||",
    "WITH",
    "AS",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "COPY",
    "TO",
    "PROGRAM",
    "EXPLAIN",
    "ANALYZE",
    "CREATE",
    "FUNCTION",
    "RETURNS",
    "LANGUAGE",
    "plpgsql",
    "RULE",
    "ON",
    "INSTEAD",
    "NOTHING",
    "GRANT",
    "ALTER",
    "ROLE",
    "SUPERUSER",
    "\0",
    "é",
    "\u{feff}",
    "\\",
    "::",
    "int",
    "[",
    "]",
    "$1",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn sql_facts(text: &str) -> SqlFacts {
    let Facts::Sql(facts) = inspect(ConnectionKind::Postgres, text, &SqlOptions::default());
    facts
}

#[test]
fn random_fragment_soup_never_panics() {
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    for _ in 0..3000 {
        let len = 1 + rng.below(30);
        let text: Vec<&str> = (0..len)
            .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
            .collect();
        let text = text.join(if rng.below(2) == 0 { " " } else { "" });
        let facts = sql_facts(&text);
        // Either it is reported unparseable, or every top-level statement is listed.
        assert!(
            facts.unparseable.is_some() || facts.statements.len() >= facts.top_level_count,
            "{text:?}: {facts:?}"
        );
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let bytes: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = sql_facts(&text);
    }
}

#[test]
fn deep_nesting_is_bounded_and_fails_closed() {
    let start = Instant::now();
    for depth in [10usize, 100, 1000, 10_000, 100_000] {
        let parens = format!("SELECT {}1{}", "(".repeat(depth), ")".repeat(depth));
        let _ = sql_facts(&parens);
        let nots = format!("DELETE FROM t WHERE {}true", "NOT ".repeat(depth));
        let facts = sql_facts(&nots);
        assert!(facts.unparseable.is_some() || !facts.statements.is_empty());
        let subqueries = format!(
            "SELECT {}1{}",
            "(SELECT ".repeat(depth.min(5000)),
            ")".repeat(depth.min(5000))
        );
        let _ = sql_facts(&subqueries);
    }
    // DO blocks nested in dynamic SQL beyond the inspector's depth bound are opaque.
    let mut text = String::from("DROP TABLE t");
    for i in 0..12 {
        text = format!("DO $d{i}$ BEGIN EXECUTE {}; END $d{i}$", quote(&text));
    }
    let facts = sql_facts(&text);
    assert!(
        facts.unparseable.is_some(),
        "nesting beyond the bound must be opaque: {facts:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn huge_inputs_are_handled() {
    let many = "SELECT 1;".repeat(20_000);
    let facts = sql_facts(&many);
    assert_eq!(facts.top_level_count, 20_000);
    let long_literal = format!("SELECT '{}'", "x".repeat(1 << 20));
    assert!(sql_facts(&long_literal).unparseable.is_none());
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
