//! Prints the parse tree's serde form: `cargo run -p airlock-inspect --example ast_json -- "SQL"`.
#![allow(clippy::print_stdout)]

fn main() {
    for sql in std::env::args().skip(1) {
        match pg_query::parse(&sql, 0) {
            Ok(tree) => println!(
                "{}",
                serde_json::to_string(&tree.protobuf).unwrap_or_default()
            ),
            Err(error) => println!("error: {error}"),
        }
    }
}
