#!/usr/bin/env bash
# Install what building and testing Slipway needs on a Debian machine, and build the UI.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  # the desktop app (Tauri 2 on Linux)
  build-essential pkg-config file libwebkit2gtk-4.1-dev libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev
  # the Docker daemon the cluster runs on, and the simulated node image's busybox
  docker.io busybox-static
  # the UI toolchain
  nodejs npm
  # the tests' private keyring: a Secret Service on their own D-Bus session, read with secret-tool
  dbus-daemon gnome-keyring libsecret-tools
  # the desktop app's WebDriver tests: a virtual display and WebKitGTK's WebDriver
  xvfb x11-utils webkit2gtk-driver
  # `slipway trust`'s tests: NSS's certutil on real NSS databases, Debian's system store, curl
  # checking HTTPS with the local CA
  libnss3-tools ca-certificates openssl curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A node/npm already on PATH (e.g. from nodesource) is fine; do not fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests check Slipway's Sealed Secrets encryption against an independent implementation on
# Python's `cryptography` (OpenSSL), from PyPI.
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "setup: installing python3 cryptography (PyPI)" >&2
  python3 -m pip install --quiet 'cryptography>=42' 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages 'cryptography>=42'
fi

echo "setup: building the UI" >&2
cd "$root/ui"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
