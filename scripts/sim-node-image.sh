#!/usr/bin/env bash
# Build the SIMULATED kind node image (test harness only; see tests/sim-node/README.md) from
# Debian's static busybox, the stubs in tests/sim-node/rootfs, the kube-sim binary (the API
# server, with the shared libraries it links) and the real static kubectl, without any registry.
# Prints the image reference. The tag is a hash of the inputs, so an unchanged image is reused.
#   KUBE_SIM  kube-sim binary (default: target/debug/kube-sim; `cargo build -p slipway-e2e`)
#   KUBECTL   static kubectl (default: .tools/bin/kubectl; scripts/fetch-tools.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tests/sim-node/rootfs"
busybox=${BUSYBOX:-/bin/busybox}
kube_sim=${KUBE_SIM:-${CARGO_TARGET_DIR:-$root/target}/debug/kube-sim}
kubectl=${KUBECTL:-$root/.tools/bin/kubectl}
[ -x "$kube_sim" ] || { echo "sim-node-image: no kube-sim at $kube_sim (cargo build -p slipway-e2e)" >&2; exit 1; }
if ! file -L "$kubectl" 2>/dev/null | grep -q "statically linked"; then
  echo "sim-node-image: need a static kubectl at $kubectl (scripts/fetch-tools.sh)" >&2
  exit 1
fi
kube_sim=$(realpath "$kube_sim") kubectl=$(realpath "$kubectl")
# kube-sim is linked dynamically: its libraries go in at the same paths.
libs=$(ldd "$kube_sim" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }')

if ! "$busybox" --list >/dev/null 2>&1 || ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
  echo "sim-node-image: need a static busybox at $busybox (Debian package busybox-static)" >&2
  exit 1
fi

hash=$( (cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum "$busybox" "$kube_sim" "$kubectl" $libs | cut -d' ' -f1) | sha256sum | cut -c1-12)
ref="slipway-sim-node:$hash"
if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "$ref"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/sbin" "$work/usr/bin" "$work/usr/sbin" "$work/etc" "$work/tmp" "$work/run" "$work/var" "$work/proc" "$work/sys" "$work/dev"
cp -a "$src/." "$work/"
cp "$busybox" "$work/bin/busybox"
mkdir -p "$work/usr/local/bin" "$work/root"
cp "$kube_sim" "$work/usr/local/bin/kube-sim"
cp "$kubectl" "$work/usr/bin/kubectl"
for lib in $libs; do
  mkdir -p "$work$(dirname "$lib")"
  cp -L "$lib" "$work$lib"
done
for applet in $("$busybox" --list); do
  [ -e "$work/bin/$applet" ] || [ -e "$work/usr/bin/$applet" ] || ln -s busybox "$work/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$work/etc/passwd"
echo "root:x:0:" > "$work/etc/group"

tar -C "$work" --numeric-owner --owner=0 --group=0 -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint"]' \
  --change 'ENV container=docker PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
  --change 'LABEL dev.slipway.simulation="kind node (test harness)"' \
  - "$ref" >/dev/null
echo "$ref"
