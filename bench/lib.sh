# Shared by the bench scripts (sourced, not run): logging, argument checks, free ports, the
# airlock binary and fresh API keys. Expects `repo` (the checkout) to be set by the caller.

log() { printf '%s\n' "$*" >&2; }
die() { log "$(basename "$0"): $*"; exit 1; }

# Each named variable must hold a positive integer.
require_positive() {
  local n
  for n in "$@"; do
    [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer, not '${!n}'"
  done
}

# First port from $1 up on which nothing accepts connections.
free_port() {
  local p="$1"
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# Builds airlock (release) unless AIRLOCK names a binary, and checks it can serve: fail fast.
resolve_airlock() {
  if [[ -z "$AIRLOCK" ]]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/airlock-target}"
    log "building airlock (release) into $CARGO_TARGET_DIR"
    (cd "$repo" && cargo build --release -q -p airlock) || die "cargo build failed"
    AIRLOCK="$CARGO_TARGET_DIR/release/airlock"
  fi
  [[ -x "$AIRLOCK" ]] || die "no airlock binary at $AIRLOCK"
  "$AIRLOCK" serve --help >/dev/null 2>&1 || die "$AIRLOCK has no 'serve' command (build too old?)"
}

# A fresh API key: sets KEY (for the client) and VERIFIER (for the identity's api_keys).
new_api_key() {
  local keys
  keys="$("$AIRLOCK" keys create 2>/dev/null)" || die "airlock keys create failed"
  KEY="$(sed -n 's/^key: *//p' <<<"$keys")"
  VERIFIER="$(sed -n 's/^verifier: *//p' <<<"$keys")"
  [[ "$KEY" == alk_* && "$VERIFIER" == SCRAM-SHA-256* ]] ||
    die "cannot parse 'airlock keys create' output"
}

# The config both pgbench benches run airlock with: one listener on 127.0.0.1:$2 fronting the
# database $DB as connection `bench` (tagged prod, so the full default policy applies), identity
# `bench` with the key from new_api_key, durable audit `group` in $3 with a 10 ms read window.
# Writes it to $1.
write_bench_config() {
  local file="$1" port="$2" data_dir="$3"
  cat >"$file" <<EOF
data_dir = "$data_dir"
[audit]
durability = "group"
read_window_ms = 10
[policy]
files = []
[[listeners]]
name = "postgres"
protocol = "postgres"
address = "127.0.0.1:$port"
[[connections]]
name = "bench"
kind = "postgres"
host = "127.0.0.1"
port = 5432
database = "$DB"
user = "postgres"
environments = ["prod"]
[[identities]]
id = "bench"
kind = "human"
groups = ["dba"]
api_keys = ["$VERIFIER"]
EOF
}
