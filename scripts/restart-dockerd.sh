#!/usr/bin/env bash
# start | stop | restart the dockerd that scripts/docker-daemon.sh started (its pid in
# $SLIPWAY_TEST_DOCKERD_PIDFILE, its log in $SLIPWAY_TEST_DOCKERD_LOG). The restart test uses it
# to take the daemon away under a running cluster, as `systemctl restart docker` does.
set -euo pipefail
pidfile=${SLIPWAY_TEST_DOCKERD_PIDFILE:?not a dockerd started by scripts/docker-daemon.sh}
log=${SLIPWAY_TEST_DOCKERD_LOG:-${TMPDIR:-/tmp}/slipway-dockerd.log}

stop() {
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && { echo "restart-dockerd: dockerd $pid did not stop" >&2; return 1; }
  rm -f "$pidfile"
}

start() {
  echo "restart-dockerd: starting dockerd" >&2
  nohup dockerd >>"$log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "restart-dockerd: dockerd exited:" >&2; tail -20 "$log" >&2; return 1; }
    sleep 0.5
  done
  echo "restart-dockerd: dockerd did not answer in 30 s" >&2
  tail -20 "$log" >&2
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
