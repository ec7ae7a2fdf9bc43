#!/usr/bin/env bash
# Benchmark: `slipway up` (cluster only, simulated node image) against the same Docker
# operations run one after another with the docker CLI. Prints both medians and their ratio.
# Needs: a Docker daemon, the slipway binary (SLIPWAY_BIN or target/debug/slipway), the image.
set -euo pipefail
trap 'echo "bench-up: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SLIPWAY_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/slipway}
image=${SLIPWAY_SIM_IMAGE:-$(bash "$root/scripts/sim-node-image.sh")}
runs=${BENCH_RUNS:-3}
work=$(mktemp -d)
name=bench-$$
net=slipway-bench-$$
cp=$name-control-plane
wk=$name-worker
export KUBECONFIG=$work/kubeconfig KIND_EXPERIMENTAL_DOCKER_NETWORK=$net SLIPWAY_UNPRIVILEGED_NODES=1
cleanup() {
  docker rm -f -v "$cp" "$wk" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -f "$KUBECONFIG"
}
trap 'cleanup; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
http=$(free_port); https=$(free_port); api=$(free_port)

slipway_times=()
for i in $(seq "$runs"); do
  cleanup
  t0=$(now)
  "$bin" up --cluster-only --name "$name" --node-image "$image" --http-port "$http" --https-port "$https" --api-port "$api" >/dev/null 2>"$work/up.log" \
    || { cat "$work/up.log" >&2; exit 1; }
  slipway_times+=("$(since "$t0")")
  # Keep what Slipway rendered, so the CLI run writes the same files.
  docker exec "$cp" cat /kind/kubeadm.conf >"$work/cp.conf"
  docker exec "$wk" cat /kind/kubeadm.conf >"$work/wk.conf"
done

cli_run() {
  # kind's IPv6 subnet, or IPv4 only when another network (a real kind cluster) holds it, as Slipway does.
  docker network create --ipv6 --subnet fc00:f853:ccd:e793::/64 -o com.docker.network.bridge.enable_ip_masquerade=true "$net" >/dev/null 2>&1 \
    || docker network create -o com.docker.network.bridge.enable_ip_masquerade=true "$net" >/dev/null
  common=(--label "io.x-k8s.kind.cluster=$name" --net "$net" --restart on-failure:1 --init=false --cgroupns=private
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --tmpfs /tmp --tmpfs /run -v /var -t)
  docker run -d --name "$cp" --hostname "$cp" --label io.x-k8s.kind.role=control-plane "${common[@]}" \
    -p "127.0.0.1:$api:6443" -p "127.0.0.1:$http:80" -p "127.0.0.1:$https:443" -e KUBECONFIG=/etc/kubernetes/admin.conf "$image" >/dev/null
  docker run -d --name "$wk" --hostname "$wk" --label io.x-k8s.kind.role=worker "${common[@]}" "$image" >/dev/null
  for n in "$cp" "$wk"; do
    # `docker logs -f | grep -m1` would hang (logs -f outlives grep), so poll as a script would.
    until docker logs "$n" 2>&1 | grep 'Reached target .*Multi-User System' >/dev/null; do sleep 0.05; done
    docker exec "$n" cat /kind/version >/dev/null
    docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$n" >/dev/null
  done
  docker exec -i "$cp" sh -c 'cat > /kind/kubeadm.conf' <"$work/cp.conf"
  docker exec -i "$wk" sh -c 'cat > /kind/kubeadm.conf' <"$work/wk.conf"
  docker exec "$cp" kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6 >/dev/null
  for m in default-cni default-storage; do
    docker exec "$cp" cat "/kind/manifests/$m.yaml" | sed 's#{{ .PodSubnet }}#10.244.0.0/16#' >"$work/$m.yaml"
    docker exec -i "$cp" kubectl get -f - -o name <"$work/$m.yaml" >/dev/null 2>&1 || true
    docker exec -i "$cp" kubectl apply -f - <"$work/$m.yaml" >/dev/null
  done
  docker exec "$cp" kubectl get nodes -o json >/dev/null
  docker exec "$wk" kubeadm join --config /kind/kubeadm.conf --v=6 >/dev/null
  docker exec "$cp" kubectl get nodes -o json >/dev/null
  docker exec "$cp" kubectl wait --for=condition=Ready nodes --all --timeout=120s >/dev/null
  docker exec "$cp" cat /etc/kubernetes/admin.conf | sed "s#server: .*#server: https://127.0.0.1:$api#" >"$work/cli-kubeconfig"
}

cli_times=()
for i in $(seq "$runs"); do
  cleanup
  t0=$(now)
  cli_run
  cli_times+=("$(since "$t0")")
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
s=$(median "${slipway_times[@]}")
c=$(median "${cli_times[@]}")
printf 'bench-up: slipway up (cluster only, simulated image): median %.2f s of %d runs [%s]\n' "$s" "$runs" "${slipway_times[*]}"
printf 'bench-up: same Docker operations, docker CLI one after another: median %.2f s of %d runs [%s]\n' "$c" "$runs" "${cli_times[*]}"
awk -v s="$s" -v c="$c" 'BEGIN { printf "bench-up: ratio slipway/docker-cli = %.2f\n", s / c }'
