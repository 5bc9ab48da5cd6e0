#![allow(clippy::print_stdout)]
fn main() {
    for sql in std::env::args().skip(1) {
        println!(
            "{}",
            pg_query::parse_plpgsql(&sql)
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e.to_string())
        );
    }
}
