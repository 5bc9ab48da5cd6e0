#!/usr/bin/env bash
# Instructions the gateway executes per pgbench transaction, counted by valgrind's callgrind:
# the same figure on a loaded machine and on one without hardware counters (a VM where
# `perf stat -e instructions` says "not supported"). Runs `airlock serve` under callgrind
# twice, for N and 3N transactions of one workload, and divides the difference by 2N, so
# start-up (policy compilation, key checks) cancels out. Every thread counts: the session
# threads, the audit writer and SQLite's.
#   bench/instructions.sh [--transactions N] [--airlock PATH] [-- pgbench workload args]
# Prints: instructions_per_tx=<n> (and keeps the callgrind files with --keep, for
# callgrind_annotate). Default workload: select-only, simple protocol, 1 client.
# Note: under valgrind, SHA-256 runs without the CPU's SHA extensions (valgrind does not
# report them), so hashing counts ≈ 15 times what it costs natively (≈ 3.7k instructions per
# 64-byte block instead of ≈ 250); compare builds with each other, not with perf figures.
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

N="${N:-1000}" AIRLOCK="${AIRLOCK:-}" KEEP=0
WORKLOAD=(-S -M simple -c 1 -j 1)
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --transactions) N="${2:?--transactions needs a value}"; shift ;;
    --airlock) AIRLOCK="${2:?--airlock needs a value}"; shift ;;
    --keep) KEEP=1 ;;
    --) shift; WORKLOAD=("$@"); break ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
require_positive N
command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install -y valgrind)"
command -v pgbench >/dev/null || die "pgbench is not installed (Debian: postgresql-client)"
resolve_airlock

DB=airlock_bench
tmp="$(mktemp -d -t airlock-instructions.XXXXXX)"
SERVE_PID=""
cleanup() {
  local rc=$?
  [[ -n "$SERVE_PID" ]] && { kill -TERM "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; } || true
  if [[ "$KEEP" == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT

psql -X -q -h 127.0.0.1 -p 5432 -U postgres -d "$DB" -tAc 'SELECT 1 FROM pgbench_branches LIMIT 1' >/dev/null 2>&1 ||
  pgbench -i -q -s 1 -h 127.0.0.1 -p 5432 -U postgres "$DB" >&2 ||
  { createdb -h 127.0.0.1 -p 5432 -U postgres "$DB" && pgbench -i -q -s 1 -h 127.0.0.1 -p 5432 -U postgres "$DB" >&2; } ||
  die "cannot prepare database $DB (is PostgreSQL up on 127.0.0.1:5432?)"

new_api_key
PORT="$(free_port 6598)"
write_bench_config "$tmp/airlock.toml" "$PORT" "$tmp/data"
"$AIRLOCK" config validate "$tmp/airlock.toml" >&2 || die "airlock rejects the generated config"

# Total instructions of one callgrind run of `airlock serve` over $1 transactions.
count() {
  local transactions="$1" out="$tmp/callgrind.$1.out" i
  rm -rf "$tmp/data"
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$AIRLOCK" serve --config "$tmp/airlock.toml" >"$tmp/serve.$transactions.log" 2>&1 &
  SERVE_PID=$!
  for ((i = 0; i < 300; i++)); do
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$tmp/serve.$transactions.log" >&2; die "airlock exited under valgrind"; }
    PGPASSWORD="$KEY" psql -X -h 127.0.0.1 -p "$PORT" -U bench -d bench -tAc 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.2
  done
  PGPASSWORD="$KEY" pgbench -n -h 127.0.0.1 -p "$PORT" -U bench -t "$transactions" "${WORKLOAD[@]}" bench >"$tmp/pgbench.$transactions.log" 2>&1 ||
    { cat "$tmp/pgbench.$transactions.log" >&2; die "pgbench failed"; }
  kill -TERM "$SERVE_PID"
  wait "$SERVE_PID" || true
  SERVE_PID=""
  awk '/^summary:/ { print $2 }' "$out"
}

log "callgrind: ${WORKLOAD[*]}, $N then $((3 * N)) transactions"
one="$(count "$N")"
three="$(count "$((3 * N))")"
[[ "$one" =~ ^[0-9]+$ && "$three" =~ ^[0-9]+$ ]] || die "no callgrind totals (valgrind output in $tmp)"
echo "instructions_per_tx=$(((three - one) / (2 * N)))"
