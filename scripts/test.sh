#!/usr/bin/env bash
# The test command (README): installs what the tests need, starts dockerd if none answers,
# fetches the real kubectl and helm, checks the house style (rustfmt, clippy, svelte-check, the
# generated UI types), builds the simulated node image, the UI and the whole workspace (Tauri
# included), runs all tests and prints the benchmarks' figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
# shellcheck source=scripts/docker-daemon.sh
source scripts/docker-daemon.sh

SLIPWAY_TOOLS=$(bash scripts/fetch-tools.sh)
export SLIPWAY_TOOLS

# House style, enforced: formatting, the workspace lints (clippy, warnings are errors) and the
# UI's type check (svelte-check with TypeScript strict).
cargo fmt --all --check
(cd ui && PATH="$SLIPWAY_TOOLS:$PATH" npm run --silent check)
cargo clippy --workspace --all-targets --locked -- -D warnings

# The UI's TypeScript types of everything that crosses IPC are generated from the Rust types
# (ts-rs); stale generated files fail here.
cargo test --workspace --locked --lib --bins -- export_bindings >/dev/null
if [[ -n $(git status --porcelain -- ui/src/api/generated) ]]; then
  git status --short -- ui/src/api/generated >&2
  echo "test: ui/src/api/generated is stale: run \`cargo test export_bindings\` and commit the result" >&2
  exit 1
fi

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
