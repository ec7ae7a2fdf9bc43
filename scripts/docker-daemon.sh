#!/usr/bin/env bash
# Source this: makes sure a Docker daemon answers, starting dockerd if none does, and stops only
# the daemon it started when the sourcing shell exits. A daemon it started can be restarted by
# the tests (scripts/restart-dockerd.sh, through SLIPWAY_TEST_DOCKERD_PIDFILE).
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    echo "docker-daemon: no daemon answers and dockerd is not installed (run scripts/setup.sh)" >&2
    return 1 2>/dev/null || exit 1
  fi
  export SLIPWAY_TEST_DOCKERD_PIDFILE=${TMPDIR:-/tmp}/slipway-dockerd.pid
  export SLIPWAY_TEST_DOCKERD_LOG=${TMPDIR:-/tmp}/slipway-dockerd.log
  bash "$(dirname "${BASH_SOURCE[0]}")/restart-dockerd.sh" start || { return 1 2>/dev/null || exit 1; }
  stop_dockerd() {
    echo "docker-daemon: stopping the dockerd this run started" >&2
    bash "$(dirname "${BASH_SOURCE[0]}")/restart-dockerd.sh" stop || true
  }
  trap stop_dockerd EXIT
fi
