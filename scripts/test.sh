#!/usr/bin/env bash
# The whole test suite (the README's test command): unit, table-driven policy, CLI and
# audit-store tests, plus validation of every example config with the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/airlock-target}"
# Snapshot tests compare, never write: review changes with `cargo insta review`.
export INSTA_UPDATE="${INSTA_UPDATE:-no}"

# The wire-protocol tests talk to the real PostgreSQL on 127.0.0.1:5432 (trust, database test).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

cargo build --locked -p airlock
airlock="$CARGO_TARGET_DIR/debug/airlock"
echo "validating example policies"
"$airlock" policy show-default > "$CARGO_TARGET_DIR/default-pack.cedar"
"$airlock" policy validate "$CARGO_TARGET_DIR/default-pack.cedar" examples/policies/*.cedar
echo "validating example configs"
for config in examples/*.toml; do "$airlock" config validate "$config"; done

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace 2>&1 | tee "$log"
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
