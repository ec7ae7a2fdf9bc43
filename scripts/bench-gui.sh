#!/usr/bin/env bash
# Benchmark: the desktop app's release binary size, cold start to first interactive render and
# RSS after start, under Xvfb (tests/benches/gui.rs). Prints figures; asserts nothing about time.
# Needs what scripts/test.sh installs (Xvfb, WebKitWebDriver, tauri-driver, the built UI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -p slipway --locked
bin=${CARGO_TARGET_DIR:-$root/target}/release/slipway
echo "bench-gui: release binary $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1)); stripped: $(strip -o /tmp/slipway-stripped.$$ "$bin" && stat -c %s /tmp/slipway-stripped.$$ && rm -f /tmp/slipway-stripped.$$) bytes"
SLIPWAY_BIN=$bin cargo bench -p slipway-e2e --bench gui --locked
