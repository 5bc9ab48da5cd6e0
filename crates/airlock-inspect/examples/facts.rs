//! Prints the facts airlock derives from each argument: `cargo run -p airlock-inspect --example facts -- "SQL"`.
#![allow(clippy::print_stdout)]

fn main() {
    for sql in std::env::args().skip(1) {
        let facts = airlock_inspect::inspect(
            airlock_model::ConnectionKind::Postgres,
            &sql,
            &airlock_inspect::SqlOptions::default(),
        );
        println!("{}", serde_json::to_string(&facts).unwrap_or_default());
    }
}
