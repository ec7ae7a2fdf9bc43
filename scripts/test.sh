#!/usr/bin/env bash
# The test command (README): installs what the tests need, starts dockerd if none answers,
# fetches the real kubectl and helm, builds the simulated node image, the UI and the whole
# workspace (Tauri included), runs all tests and prints the benchmarks' figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
# shellcheck source=scripts/docker-daemon.sh
source scripts/docker-daemon.sh

SLIPWAY_TOOLS=$(bash scripts/fetch-tools.sh)
export SLIPWAY_TOOLS

# The UI's component tests (vitest + Tauri's IPC mocks, jsdom) need Node >= 22: run them with Node 24.
(cd ui && PATH="$SLIPWAY_TOOLS:$PATH" npm test --silent)

cargo build --workspace --locked
# The simulated node image carries the kube-sim just built and the real kubectl.
SLIPWAY_SIM_IMAGE=$(KUBECTL="$SLIPWAY_TOOLS/kubectl" bash scripts/sim-node-image.sh)
export SLIPWAY_SIM_IMAGE
echo "test: simulated node image $SLIPWAY_SIM_IMAGE; kubectl and helm in $SLIPWAY_TOOLS" >&2
cargo test --workspace --locked -- --nocapture

# Benchmarks print their figures; they assert nothing about time.
bash scripts/bench-up.sh
cargo bench -p slipway-e2e --bench portforward --locked
bash scripts/bench-gui.sh
