#!/usr/bin/env bash
# The test command (README): installs what the tests need, starts dockerd if none answers,
# builds the simulated node image, the UI and the whole workspace (Tauri included), runs all tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
# shellcheck source=scripts/docker-daemon.sh
source scripts/docker-daemon.sh

SLIPWAY_SIM_IMAGE=$(bash scripts/sim-node-image.sh)
export SLIPWAY_SIM_IMAGE
echo "test: simulated node image $SLIPWAY_SIM_IMAGE" >&2

cargo build --workspace --locked
cargo test --workspace --locked -- --nocapture

# Benchmarks print their figures; they assert nothing about time.
bash scripts/bench-up.sh
