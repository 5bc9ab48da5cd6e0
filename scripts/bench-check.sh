#!/usr/bin/env bash
# Throughput of `airlock check --jsonl` (one core: the replay is single-threaded) on a mix of
# short OLTP statements, the shape of a real query log: pgbench's transaction (random keys),
# point reads, selective updates and deletes, transactions, and a few catalog queries.
#
#   scripts/bench-check.sh [N]      (default N = 200000 statements)
#
# Prints: mix=<name> statements=<n> seconds=<s> statements_per_second=<n> for
# - typical: repeating shapes with varying literals (what a query log looks like);
# - unique_shapes: every statement a shape of its own (a column alias of its own), facts repeat:
#   every statement is parsed and inspected, the policy evaluation is cached;
# - unique_tables: every statement touches a table of its own: parsed and inspected, and the
#   policy evaluation is shared through name abstraction (no rule of the default pack names a
#   table);
# - diverse: 40 statement templates of every kind (reads, joins, DML, DDL, GRANT, SET, COPY,
#   DO blocks, CTEs) over random table and column names and literals.
# The fully cold path (every statement new in structure: parse + inspection + Cedar over the
# whole pack) is `checkpoint/cold` in `cargo bench -p airlock-policy --bench checkpoint`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/airlock-target}"
n="${1:-200000}"
cargo build --release --locked -q -p airlock
airlock="$CARGO_TARGET_DIR/release/airlock"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$n" "$work" <<'PY'
import json, random, sys
n, work = int(sys.argv[1]), sys.argv[2]
random.seed(7)
typical = [
    lambda: f"SELECT abalance FROM pgbench_accounts WHERE aid = {random.randint(1, 10**7)}",
    lambda: f"UPDATE pgbench_accounts SET abalance = abalance + {random.randint(-5000, 5000)} WHERE aid = {random.randint(1, 10**7)}",
    lambda: f"UPDATE pgbench_tellers SET tbalance = tbalance + {random.randint(-5000, 5000)} WHERE tid = {random.randint(1, 100)}",
    lambda: f"UPDATE pgbench_branches SET bbalance = bbalance + {random.randint(-5000, 5000)} WHERE bid = {random.randint(1, 10)}",
    lambda: f"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ({random.randint(1,100)}, {random.randint(1,10)}, {random.randint(1,10**7)}, {random.randint(-5000,5000)}, CURRENT_TIMESTAMP)",
    lambda: "BEGIN",
    lambda: "COMMIT",
    lambda: f"SELECT id, email, created_at FROM users WHERE id = {random.randint(1, 10**6)}",
    lambda: f"SELECT o.id, o.total FROM orders o JOIN users u ON u.id = o.user_id WHERE u.id = {random.randint(1, 10**6)} ORDER BY o.created_at DESC LIMIT 20",
    lambda: f"SELECT count(*) FROM orders WHERE status = 'open' AND created_at > now() - interval '{random.randint(1,30)} days'",
    lambda: f"DELETE FROM sessions WHERE id = '{random.getrandbits(64):016x}'",
    lambda: f"UPDATE users SET last_seen = now() WHERE id = {random.randint(1, 10**6)}",
    lambda: "SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY n_live_tup DESC LIMIT 10",
]
with open(f"{work}/typical.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"id": i, "command": random.choice(typical)()}) + "\n")
with open(f"{work}/unique_shapes.jsonl", "w") as f:
    for i in range(n // 4):
        f.write(json.dumps({"id": i, "command": f"SELECT abalance AS c{i} FROM pgbench_accounts WHERE aid = {i}"}) + "\n")
with open(f"{work}/unique_tables.jsonl", "w") as f:
    for i in range(n // 4):
        f.write(json.dumps({"id": i, "command": f"SELECT abalance FROM accounts_{i} WHERE aid = {i}"}) + "\n")
def t(): return random.choice(["users", "orders", "invoices", "events", "accounts", "items"]) + f"_{random.randint(1, 5000)}"
def c(): return random.choice(["id", "name", "email", "status", "created_at", "amount"]) + str(random.randint(1, 50))
def v(): return random.randint(1, 10**6)
diverse = [
    lambda: f"SELECT {c()}, {c()} FROM {t()} WHERE {c()} = {v()}",
    lambda: f"SELECT * FROM {t()} WHERE {c()} > {v()} ORDER BY {c()} LIMIT {random.randint(1, 100)}",
    lambda: f"SELECT count(*), max({c()}) FROM {t()} WHERE {c()} BETWEEN {v()} AND {v()}",
    lambda: f"SELECT a.{c()} FROM {t()} a JOIN {t()} b ON b.{c()} = a.{c()} WHERE a.{c()} = {v()}",
    lambda: f"SELECT {c()} FROM {t()} WHERE {c()} IN (SELECT {c()} FROM {t()} WHERE {c()} = {v()})",
    lambda: f"WITH x AS (SELECT {c()} FROM {t()} WHERE {c()} = {v()}) SELECT * FROM x",
    lambda: f"SELECT {c()}, sum({c()}) FROM {t()} GROUP BY {c()} HAVING sum({c()}) > {v()}",
    lambda: f"SELECT lower({c()}), coalesce({c()}, 0) FROM {t()} WHERE {c()} = '{v()}'",
    lambda: f"INSERT INTO {t()} ({c()}, {c()}) VALUES ({v()}, '{v()}') RETURNING {c()}",
    lambda: f"INSERT INTO {t()} ({c()}) VALUES ({v()}) ON CONFLICT ({c()}) DO UPDATE SET {c()} = excluded.{c()}",
    lambda: f"INSERT INTO {t()} SELECT * FROM {t()} WHERE {c()} < {v()}",
    lambda: f"UPDATE {t()} SET {c()} = {c()} + {v()} WHERE {c()} = {v()}",
    lambda: f"UPDATE {t()} SET {c()} = now() WHERE {c()} IN ({v()}, {v()}, {v()})",
    lambda: f"DELETE FROM {t()} WHERE {c()} < now() - interval '{random.randint(1, 90)} days'",
    lambda: f"DELETE FROM {t()} WHERE {c()} = {v()} RETURNING *",
    lambda: f"DELETE FROM {t()}",
    lambda: f"UPDATE {t()} SET {c()} = 0",
    lambda: f"DELETE FROM {t()} WHERE 1 = 1",
    lambda: f"TRUNCATE {t()}",
    lambda: f"DROP TABLE IF EXISTS {t()}",
    lambda: f"ALTER TABLE {t()} ADD COLUMN {c()} text",
    lambda: f"ALTER TABLE {t()} DROP COLUMN {c()}",
    lambda: f"CREATE INDEX ON {t()} ({c()})",
    lambda: f"CREATE TABLE {t()} (id bigint PRIMARY KEY, {c()} text)",
    lambda: f"GRANT SELECT ON {t()} TO role_{v()}",
    lambda: f"SET statement_timeout = '{random.randint(1, 60)}s'",
    lambda: f"SET search_path = app_{v()}, public",
    lambda: f"SHOW {random.choice(['search_path', 'work_mem', 'timezone'])}",
    lambda: "BEGIN",
    lambda: "COMMIT",
    lambda: f"SAVEPOINT sp_{v()}",
    lambda: f"COPY {t()} TO STDOUT WITH CSV",
    lambda: f"COPY {t()} FROM STDIN",
    lambda: f"EXPLAIN SELECT * FROM {t()} WHERE {c()} = {v()}",
    lambda: f"EXPLAIN ANALYZE DELETE FROM {t()} WHERE {c()} = {v()}",
    lambda: f"SELECT pg_read_file('/tmp/{v()}')",
    lambda: f"DO $$ BEGIN EXECUTE 'DELETE FROM {t()} WHERE {c()} = {v()}'; END $$",
    lambda: f"SELECT json_agg(x) FROM {t()} x",
    lambda: f"SELECT {c()} FROM {t()} WHERE {c()} = $1",
    lambda: f"SELECT relname FROM pg_class WHERE relname = '{t()}'",
]
with open(f"{work}/diverse.jsonl", "w") as f:
    for i in range(n // 4):
        f.write(json.dumps({"id": i, "command": random.choice(diverse)()}) + "\n")
PY

for mix in typical unique_shapes unique_tables diverse; do
  lines=$(wc -l < "$work/$mix.jsonl")
  start=$(date +%s.%N)
  "$airlock" check --jsonl --input "$work/$mix.jsonl" > "$work/$mix.out" 2>/dev/null
  end=$(date +%s.%N)
  out=$(wc -l < "$work/$mix.out")
  [ "$out" -eq "$lines" ] || { echo "expected $lines decisions, got $out" >&2; exit 1; }
  python3 -c "import sys; n,s,e=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print(f'mix=$mix statements={n} seconds={e-s:.2f} statements_per_second={n/(e-s):.0f}')" "$lines" "$start" "$end"
done
denied=$(grep -c '"decision":"deny"' "$work/typical.out" || true)
echo "typical mix: $denied denied (expected 0: every statement is selective)"
