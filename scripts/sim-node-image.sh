#!/usr/bin/env bash
# Build the SIMULATED kind node image (test harness only; see tests/sim-node/README.md) from
# Debian's static busybox and the stubs in tests/sim-node/rootfs, without any registry.
# Prints the image reference. The tag is a hash of the inputs, so an unchanged image is reused.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tests/sim-node/rootfs"
busybox=${BUSYBOX:-/bin/busybox}

if ! "$busybox" --list >/dev/null 2>&1 || ! file -L "$busybox" 2>/dev/null | grep -q "statically linked"; then
  echo "sim-node-image: need a static busybox at $busybox (Debian package busybox-static)" >&2
  exit 1
fi

hash=$( (cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum "$busybox" | cut -d' ' -f1) | sha256sum | cut -c1-12)
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
