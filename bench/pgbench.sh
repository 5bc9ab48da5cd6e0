#!/usr/bin/env bash
# pgbench through airlock, against PostgreSQL direct and pgbouncer (session pooling), on the same
# machine and data. Every workload runs ROUNDS rounds; in each round every target runs once, in
# rotating order; the median per target is reported. Progress goes to stderr, results to stdout:
#   <workload> direct_tps=<n> pgbouncer_tps=<n> airlock_tps=<n> ratio=<airlock/direct> pgbouncer_ratio=<pgbouncer/direct>
# and, on stderr, each proxy's CPU time per transaction and (with perf installed) its user-space
# instructions per transaction: a figure that barely moves with the machine's other load.
# With both proxies running, each line adds
#   vs_pgbouncer=<airlock/pgbouncer>
# the median over rounds of each round's airlock/pgbouncer (the two ran minutes apart at most):
# the reading that carries across machines, where direct's own speed differs by 10x.
# With --baseline, a second airlock build runs in the same rotation and each line adds
#   baseline_tps=<n> vs_baseline=<airlock/baseline>
# the paired comparison to judge a change by on a machine whose speed drifts between runs.
# Needs PostgreSQL on 127.0.0.1:5432 with trust authentication for user postgres.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/pgbench.sh [options]
  --rounds N        rounds per workload, median reported   (ROUNDS, default 3)
  --duration S      seconds per pgbench run                (DURATION, default 10)
  --scale N         pgbench scale factor                   (SCALE, default 10)
  --workloads LIST  comma list, default all:               (WORKLOADS)
                    select-only-simple-c1, select-only-simple-c8, select-only-extended-c8,
                    select-only-prepared-c8, tpcb-like-c8, large-result-c8;
                    also, on request: tpcb-like-c1 (one client: each COMMIT's
                    audit barrier is in the latency, nothing hides it)
  --targets LIST    comma list of direct,pgbouncer,airlock,baseline (TARGETS, default
                    direct,pgbouncer,airlock, and baseline with --baseline)
  --airlock PATH    airlock binary (AIRLOCK; default: cargo build --release -p airlock into
                    ${CARGO_TARGET_DIR:-$HOME/.cache/airlock-target})
  --baseline PATH   another airlock binary (e.g. main's) run as target "baseline" with the
                    same config, data and rotation (BASELINE)
  --keep            keep the temporary directory (KEEP=1)
Exit status: 0 if every pgbench run succeeded, 1 otherwise.
EOF
}

ALL_WORKLOADS="select-only-simple-c1,select-only-simple-c8,select-only-extended-c8,select-only-prepared-c8,tpcb-like-c8,large-result-c8"
EXTRA_WORKLOADS="tpcb-like-c1"
ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-10}" SCALE="${SCALE:-10}" KEEP="${KEEP:-0}"
WORKLOADS="${WORKLOADS:-$ALL_WORKLOADS}" TARGETS="${TARGETS:-}"
AIRLOCK="${AIRLOCK:-}" BASELINE="${BASELINE:-}"
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --rounds) ROUNDS="${2:?--rounds needs a value}"; shift ;;
    --duration) DURATION="${2:?--duration needs a value}"; shift ;;
    --scale) SCALE="${2:?--scale needs a value}"; shift ;;
    --workloads) WORKLOADS="${2:?--workloads needs a value}"; shift ;;
    --targets) TARGETS="${2:?--targets needs a value}"; shift ;;
    --airlock) AIRLOCK="${2:?--airlock needs a value}"; shift ;;
    --baseline) BASELINE="${2:?--baseline needs a value}"; shift ;;
    --keep) KEEP=1 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"
require_positive ROUNDS DURATION SCALE
IFS=, read -ra workloads <<<"$WORKLOADS"
if [[ -z "$TARGETS" ]]; then
  TARGETS="direct,pgbouncer,airlock"
  [[ -n "$BASELINE" ]] && TARGETS+=",baseline"
fi
IFS=, read -ra targets <<<"$TARGETS"
for w in "${workloads[@]}"; do
  [[ ",$ALL_WORKLOADS,$EXTRA_WORKLOADS," == *",$w,"* ]] || die "unknown workload '$w'"
done
for t in "${targets[@]}"; do [[ "$t" =~ ^(direct|pgbouncer|airlock|baseline)$ ]] || die "unknown target '$t'"; done
wants() { [[ ",$TARGETS," == *",$1,"* ]]; }
if wants baseline; then
  [[ -n "$BASELINE" ]] || die "target 'baseline' needs --baseline PATH"
  [[ -x "$BASELINE" ]] || die "no airlock binary at $BASELINE"
  "$BASELINE" serve --help >/dev/null 2>&1 || die "$BASELINE has no 'serve' command (build too old?)"
fi

DB=airlock_bench
tmp="$(mktemp -d -t airlock-pgbench.XXXXXX)"
chmod 711 "$tmp" # pgbouncer may run as postgres: it must reach its ini and auth file
AIRLOCK_PID="" PGB_PID="" AIRLOCK_PORT="" PGB_PORT="" KEY="" BASELINE_PID="" BASELINE_PORT=""

# SIGTERM a process we started, SIGKILL it if it is still there after 5 s.
stop_pid() {
  local pid="$1" i
  [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$AIRLOCK_PID"
  stop_pid "$BASELINE_PID"
  stop_pid "$PGB_PID"
  if [[ "$KEEP" == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_direct() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres "$@"; }

# The bench database, initialised at $SCALE (re-initialised only if the row counts differ).
setup_db() {
  if [[ "$(psql_direct -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]]; then
    createdb -h 127.0.0.1 -p 5432 -U postgres "$DB" || die "createdb $DB failed (is PostgreSQL up on 127.0.0.1:5432?)"
  fi
  local counts
  counts="$(psql_direct -d "$DB" -tAc "SELECT (SELECT count(*) FROM pgbench_branches) || ' ' || (SELECT count(*) FROM pgbench_accounts)" 2>/dev/null || true)"
  if [[ "$counts" != "$SCALE $((SCALE * 100000))" ]]; then
    log "initialising $DB at scale $SCALE"
    pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p 5432 -U postgres "$DB" >&2 || die "pgbench -i failed"
  else
    psql_direct -d "$DB" -c "TRUNCATE pgbench_history" # tpcb-like appends to it
  fi
  cat >"$tmp/large-result.sql" <<'EOF'
\set a random(1, 100000 * :scale - 10000)
SELECT aid, bid, abalance, filler FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + 9999;
EOF
}

# Our own pgbouncer (not Debian's service), session pooling, trust authentication.
start_pgbouncer() {
  command -v pgbouncer >/dev/null || apt-get install -y pgbouncer >&2 ||
    (apt-get update && apt-get install -y pgbouncer) >&2 || die "cannot install pgbouncer"
  PGB_PORT="$(free_port 6499)"
  printf '"postgres" ""\n' >"$tmp/pgbouncer.users"
  cat >"$tmp/pgbouncer.ini" <<EOF
[databases]
$DB = host=127.0.0.1 port=5432 dbname=$DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $tmp/pgbouncer.users
pool_mode = session
max_client_conn = 200
default_pool_size = 40
log_connections = 0
log_disconnections = 0
EOF
  chmod 644 "$tmp/pgbouncer.ini" "$tmp/pgbouncer.users"
  local -a as_user=()
  [[ "$(id -u)" == 0 ]] && as_user=(-u postgres) # pgbouncer refuses to run as root
  # No logfile: it would be opened after the switch to postgres; stderr is opened by us.
  pgbouncer "${as_user[@]}" "$tmp/pgbouncer.ini" 2>"$tmp/pgbouncer.log" &
  PGB_PID=$!
  wait_ready pgbouncer "$PGB_PID" "$tmp/pgbouncer.log" -p "$PGB_PORT" -U postgres -d "$DB"
}

# Poll `SELECT 1` through a target for up to 10 s; on failure print its log and exit.
wait_ready() {
  local name="$1" pid="$2" logfile="$3" i
  shift 3
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; die "$name exited during startup (log above)"; }
    psql -X -h 127.0.0.1 "$@" -tAc 'SELECT 1' >/dev/null 2>&1 && { log "$name ready"; return; }
    sleep 0.1
  done
  cat "$logfile" >&2
  die "$name not ready after 10 s (log above)"
}

# `airlock serve` of binary $2 in the background as target $1: the bench config fronting the bench
# database with the key from new_api_key, its own port and data directory. Sets SERVED_PID and
# SERVED_PORT.
serve_build() {
  local name="$1" binary="$2"
  SERVED_PORT="$(free_port 6498)"
  write_bench_config "$tmp/$name.toml" "$SERVED_PORT" "$tmp/$name-data"
  "$binary" config validate "$tmp/$name.toml" >&2 || die "$name rejects the generated config"
  "$binary" serve --config "$tmp/$name.toml" >"$tmp/$name.log" 2>&1 &
  SERVED_PID=$!
  PGPASSWORD="$KEY" wait_ready "$name" "$SERVED_PID" "$tmp/$name.log" -p "$SERVED_PORT" -U bench -d bench
}

workload_args() {
  case "$1" in
    select-only-simple-c1) WL_ARGS=(-S -M simple -c 1 -j 1) ;;
    select-only-simple-c8) WL_ARGS=(-S -M simple -c 8 -j 2) ;;
    select-only-extended-c8) WL_ARGS=(-S -M extended -c 8 -j 2) ;;
    select-only-prepared-c8) WL_ARGS=(-S -M prepared -c 8 -j 2) ;;
    tpcb-like-c1) WL_ARGS=(-M simple -c 1 -j 1) ;;
    tpcb-like-c8) WL_ARGS=(-M simple -c 8 -j 2) ;;
    large-result-c8) WL_ARGS=(-f "$tmp/large-result.sql" -D "scale=$SCALE" -M simple -c 8 -j 2) ;;
  esac
}

# One pgbench run of workload $2 against target $1; sets TPS (0 if the run failed).
FAILED=()
run_pgbench() {
  local target="$1" workload="$2" rc=0
  local -a conn env=(-u PGPASSWORD)
  case "$target" in
    direct) conn=(-p 5432 -U postgres "$DB") ;;
    pgbouncer) conn=(-p "$PGB_PORT" -U postgres "$DB") ;;
    airlock) conn=(-p "$AIRLOCK_PORT" -U bench bench) env=("PGPASSWORD=$KEY") ;;
    baseline) conn=(-p "$BASELINE_PORT" -U bench bench) env=("PGPASSWORD=$KEY") ;;
  esac
  local pid="" cpu0=0
  case "$target" in
    pgbouncer) pid="$PGB_PID" ;;
    airlock) pid="$AIRLOCK_PID" ;;
    baseline) pid="$BASELINE_PID" ;;
  esac
  [[ -n "$pid" ]] && cpu0="$(cpu_ticks "$pid")" && start_instr "$pid"
  env "${env[@]}" pgbench -n -T "$DURATION" "${WL_ARGS[@]}" -h 127.0.0.1 "${conn[@]}" \
    >"$tmp/run.out" 2>"$tmp/run.err" || rc=$?
  CPU_TICKS=0 INSTR=0
  [[ -n "$pid" ]] && CPU_TICKS=$(($(cpu_ticks "$pid") - cpu0)) && stop_instr
  TX="$(awk '/number of transactions actually processed/ { split($NF, n, "/"); print n[1] }' "$tmp/run.out")"
  # pgbench >= 14: "tps = N (without initial connection time)"; older: "(excluding connections
  # establishing)" after an "(including ...)" line.
  TPS="$(awk '/^tps = / { t = $3 } /^tps = .*(without initial|excluding)/ { print $3; exit } END { if (t) print t }' "$tmp/run.out" | head -n 1)"
  if ((rc != 0)) || [[ -z "$TPS" ]]; then
    log "FAILED: $workload $target (exit $rc):"
    tail -n 5 "$tmp/run.err" >&2
    FAILED+=("$workload/$target")
    TPS=0
  fi
  TPS="$(printf '%.0f' "$TPS")"
}

# User-space instructions a process executes during a run (perf stat), when perf is there:
# unlike time, the count per transaction barely moves with the machine's other load.
PERF_PID=""
start_instr() {
  command -v perf >/dev/null || return 0
  perf stat -x, -e instructions:u -p "$1" -o "$tmp/perf.out" >/dev/null 2>&1 &
  PERF_PID=$!
}
stop_instr() {
  [[ -n "$PERF_PID" ]] || return 0
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  PERF_PID=""
  INSTR="$(awk -F, '/instructions/ { print $1; exit }' "$tmp/perf.out" 2>/dev/null || true)"
  [[ "$INSTR" =~ ^[0-9]+$ ]] || INSTR=0
}

# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ="$(getconf CLK_TCK)"

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { printf "%.0f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

{ wants airlock || wants baseline; } && resolve_airlock # its `keys create` makes the key
setup_db
wants pgbouncer && start_pgbouncer
{ wants airlock || wants baseline; } && new_api_key
if wants airlock; then
  serve_build airlock "$AIRLOCK"
  AIRLOCK_PID="$SERVED_PID" AIRLOCK_PORT="$SERVED_PORT"
fi
if wants baseline; then
  serve_build baseline "$BASELINE"
  BASELINE_PID="$SERVED_PID" BASELINE_PORT="$SERVED_PORT"
fi

declare -A RESULTS CPU INSTRS
wi=0
for w in "${workloads[@]}"; do
  workload_args "$w"
  paired=()
  for ((r = 0; r < ROUNDS; r++)); do
    declare -A round=()
    for ((i = 0; i < ${#targets[@]}; i++)); do
      t="${targets[(i + r + wi) % ${#targets[@]}]}" # rotate the order every round
      run_pgbench "$t" "$w"
      RESULTS[$w/$t]+=" $TPS"
      round[$t]="$TPS"
      # CPU microseconds the proxy spent per transaction in this run.
      if [[ "$t" != direct && "$TPS" != 0 ]]; then
        CPU[$w/$t]+=" $(awk -v c="$CPU_TICKS" -v hz="$HZ" -v tps="$TPS" -v d="$DURATION" 'BEGIN { printf "%.0f", c / hz * 1e6 / (tps * d) }')"
        if ((INSTR > 0 && ${TX:-0} > 0)); then INSTRS[$w/$t]+=" $((INSTR / TX))"; fi
      fi
      log "round $((r + 1))/$ROUNDS $w $t $TPS tps"
    done
    if wants airlock && wants pgbouncer && ((round[pgbouncer] > 0)); then
      paired+=("$(awk -v a="${round[airlock]}" -v b="${round[pgbouncer]}" 'BEGIN { printf "%d", a * 1000 / b }')")
    fi
    unset round
  done
  declare -A med=([direct]=- [pgbouncer]=- [airlock]=- [baseline]=-)
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2086 # the run figures are space-separated integers
    med[$t]="$(median ${RESULTS[$w/$t]})"
  done
  line="$w direct_tps=${med[direct]} pgbouncer_tps=${med[pgbouncer]} airlock_tps=${med[airlock]}"
  line+=" ratio=$(ratio "${med[airlock]}" "${med[direct]}") pgbouncer_ratio=$(ratio "${med[pgbouncer]}" "${med[direct]}")"
  if ((${#paired[@]})); then
    line+=" vs_pgbouncer=$(ratio "$(median "${paired[@]}")" 1000)"
  fi
  if wants baseline; then
    line+=" baseline_tps=${med[baseline]} vs_baseline=$(ratio "${med[airlock]}" "${med[baseline]}")"
  fi
  echo "$line"
  cpu_line=""
  for t in pgbouncer airlock baseline; do
    # shellcheck disable=SC2086 # the run figures are space-separated integers
    [[ -n "${CPU[$w/$t]:-}" ]] && cpu_line+=" ${t}_cpu_us_per_tx=$(median ${CPU[$w/$t]})"
    # shellcheck disable=SC2086 # the run figures are space-separated integers
    [[ -n "${INSTRS[$w/$t]:-}" ]] && cpu_line+=" ${t}_user_instructions_per_tx=$(median ${INSTRS[$w/$t]})"
  done
  [[ -n "$cpu_line" ]] && log "$w proxy CPU:$cpu_line"
  wi=$((wi + 1))
done

if [[ -n "$AIRLOCK_PID" && -r "/proc/$AIRLOCK_PID/status" ]]; then
  log "airlock max RSS: $(awk '/^VmHWM/ { print $2, $3 }' "/proc/$AIRLOCK_PID/status")"
fi
if ((${#FAILED[@]})); then
  die "${#FAILED[@]} run(s) failed: ${FAILED[*]}"
fi
