#!/usr/bin/env bash
# Source this: makes sure a Docker daemon answers, starting dockerd if none does, and stops only
# the daemon it started when the sourcing shell exits.
slipway_started_dockerd=""
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    echo "docker-daemon: no daemon answers and dockerd is not installed (run scripts/setup.sh)" >&2
    return 1 2>/dev/null || exit 1
  fi
  echo "docker-daemon: starting dockerd" >&2
  log=${TMPDIR:-/tmp}/slipway-dockerd.log
  dockerd >"$log" 2>&1 &
  slipway_started_dockerd=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$slipway_started_dockerd" 2>/dev/null || { echo "docker-daemon: dockerd exited:" >&2; tail -20 "$log" >&2; return 1 2>/dev/null || exit 1; }
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "docker-daemon: dockerd did not answer in 30 s" >&2; tail -20 "$log" >&2; return 1 2>/dev/null || exit 1; }
  stop_dockerd() {
    [ -n "$slipway_started_dockerd" ] || return 0
    echo "docker-daemon: stopping the dockerd this run started" >&2
    kill "$slipway_started_dockerd" 2>/dev/null && wait "$slipway_started_dockerd" 2>/dev/null || true
  }
  trap stop_dockerd EXIT
fi
