#!/usr/bin/env bash
# The whole test suite (the README's test command): unit, table-driven policy, CLI and
# audit-store tests, plus validation of every example config with the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/airlock-target}"
# Snapshot tests compare, never write: review changes with `cargo insta review`.
export INSTA_UPDATE="${INSTA_UPDATE:-no}"

cargo build --locked -p airlock
airlock="$CARGO_TARGET_DIR/debug/airlock"
echo "validating example policies"
"$airlock" policy show-default > "$CARGO_TARGET_DIR/default-pack.cedar"
"$airlock" policy validate "$CARGO_TARGET_DIR/default-pack.cedar" examples/policies/*.cedar

cargo test --locked --workspace
