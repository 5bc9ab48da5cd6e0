#!/usr/bin/env bash
# Resident memory of `airlock serve` holding many idle client sessions. Each client session
# has its own upstream backend, so this starts a throwaway PostgreSQL cluster (initdb into a
# temporary directory, max_connections above the client count), fronts it with airlock, opens
# CLIENTS pgbench connections that stay idle (a total of 1 transaction per second across all
# of them), and samples airlock's RSS while they are connected. Prints one line:
#   idle clients=<n> connected=<n> rss_before_kib=<n> rss_idle_kib=<n> per_session_kib=<n> rss_after_kib=<n>
# Needs PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<version>/bin) and pgbench.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/idle.sh [--clients N] [--hold S] [--airlock PATH] [--keep]
  --clients N     idle client connections               (CLIENTS, default 1000)
  --hold S        seconds they stay connected and idle  (HOLD, default 20)
  --airlock PATH  airlock binary (AIRLOCK; default: cargo build --release -p airlock into
                  ${CARGO_TARGET_DIR:-$HOME/.cache/airlock-target})
  --keep          keep the temporary directory          (KEEP=1)
EOF
}

CLIENTS="${CLIENTS:-1000}" HOLD="${HOLD:-20}" AIRLOCK="${AIRLOCK:-}" KEEP="${KEEP:-0}"
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --clients) CLIENTS="${2:?--clients needs a value}"; shift ;;
    --hold) HOLD="${2:?--hold needs a value}"; shift ;;
    --airlock) AIRLOCK="${2:?--airlock needs a value}"; shift ;;
    --keep) KEEP=1 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
require_positive CLIENTS HOLD

pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -x "$pgbin/initdb" ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
tmp="$(mktemp -d -t airlock-idle.XXXXXX)"
chmod 755 "$tmp"
AIRLOCK_PID="" PG_STARTED=0 BENCH_PID=""
as_pg=()
[[ "$(id -u)" == 0 ]] && as_pg=(runuser -u postgres --) # initdb refuses to run as root

cleanup() {
  local rc=$?
  [[ -n "$BENCH_PID" ]] && kill "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null
  if [[ -n "$AIRLOCK_PID" ]]; then
    kill -TERM "$AIRLOCK_PID" 2>/dev/null && wait "$AIRLOCK_PID" 2>/dev/null
  fi
  ((PG_STARTED)) && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1
  if [[ "$KEEP" == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# Every session holds a client socket and an upstream socket.
ulimit -n "$((CLIENTS * 2 + 1024))" 2>/dev/null ||
  die "cannot raise the open-file limit to $((CLIENTS * 2 + 1024)) (ulimit -n)"

resolve_airlock

PG_PORT="$(free_port 5499)"
log "starting a throwaway PostgreSQL on port $PG_PORT (max_connections $((CLIENTS + 20)))"
mkdir "$tmp/pg"
if [[ "$(id -u)" == 0 ]]; then chown postgres "$tmp/pg"; fi
"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/pg" -A trust -U postgres >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg/server.log" -w -o \
  "-p $PG_PORT -k $tmp/pg -c listen_addresses=127.0.0.1 -c max_connections=$((CLIENTS + 20)) -c shared_buffers=64MB -c fsync=off" \
  start >/dev/null || { cat "$tmp/pg/server.log" >&2; die "the throwaway PostgreSQL did not start"; }
PG_STARTED=1
pgbench -i -q -s 1 -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres >"$tmp/init.log" 2>&1 ||
  { cat "$tmp/init.log" >&2; die "pgbench -i failed"; }

new_api_key
AIRLOCK_PORT="$(free_port 6598)"
cat >"$tmp/airlock.toml" <<EOF
data_dir = "$tmp/data"
[policy]
files = []
[[listeners]]
name = "postgres"
protocol = "postgres"
address = "127.0.0.1:$AIRLOCK_PORT"
[[connections]]
name = "idle"
kind = "postgres"
host = "127.0.0.1"
port = $PG_PORT
database = "postgres"
user = "postgres"
environments = ["dev"]
[[identities]]
id = "bench"
kind = "human"
api_keys = ["$VERIFIER"]
EOF
"$AIRLOCK" config validate "$tmp/airlock.toml" >&2 || die "airlock rejects the generated config"
"$AIRLOCK" serve --config "$tmp/airlock.toml" >"$tmp/airlock.log" 2>&1 &
AIRLOCK_PID=$!
for ((i = 0; i < 100; i++)); do
  PGPASSWORD="$KEY" psql -X -h 127.0.0.1 -p "$AIRLOCK_PORT" -U bench -d idle -tAc 'SELECT 1' \
    >/dev/null 2>&1 && break
  kill -0 "$AIRLOCK_PID" 2>/dev/null || { cat "$tmp/airlock.log" >&2; die "airlock exited"; }
  sleep 0.1
done
before="$(rss "$AIRLOCK_PID")"
log "airlock ready, RSS ${before} KiB; connecting $CLIENTS idle clients for ${HOLD}s"

# The clients connect one after another (SCRAM, then an upstream backend each); pgbench runs
# far longer than needed and is stopped once they have all been idle for HOLD seconds. -R 1:
# one transaction per second across all clients, so they spend the run connected and idle.
PGPASSWORD="$KEY" pgbench -n -S -c "$CLIENTS" -j 2 -R 1 -T 3600 \
  -h 127.0.0.1 -p "$AIRLOCK_PORT" -U bench idle >"$tmp/bench.out" 2>"$tmp/bench.err" &
BENCH_PID=$!
upstream_sessions() {
  local n
  n="$(psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend'" 2>/dev/null)"
  echo "${n:-0}"
}
connected=0 started=$SECONDS
while ((connected < CLIENTS)); do
  kill -0 "$BENCH_PID" 2>/dev/null || { tail -n 5 "$tmp/bench.err" >&2; BENCH_PID=""; die "pgbench ended early"; }
  ((SECONDS - started < 300)) || die "only $connected of $CLIENTS sessions connected after 300 s"
  sleep 1
  connected="$(upstream_sessions)"
done
log "$connected sessions connected after $((SECONDS - started)) s; holding them idle for ${HOLD}s"
idle_rss=0
for ((i = 0; i < HOLD; i++)); do
  sleep 1
  r="$(rss "$AIRLOCK_PID")"
  ((r > idle_rss)) && idle_rss="$r"
done
connected="$(upstream_sessions)"
kill -TERM "$BENCH_PID" 2>/dev/null
wait "$BENCH_PID" 2>/dev/null || true
BENCH_PID=""
sleep 2
after="$(rss "$AIRLOCK_PID")"
((connected >= CLIENTS)) || die "sessions dropped while idle: $connected of $CLIENTS left"
per=$(((idle_rss - before) / CLIENTS))
echo "idle clients=$CLIENTS connected=$connected rss_before_kib=$before rss_idle_kib=$idle_rss per_session_kib=$per rss_after_kib=$after"
