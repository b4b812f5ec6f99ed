#!/usr/bin/env bash
# Stop the dockerd that scripts/ensure-docker.sh started (its pid in var/docker/dockerd.pid), and only that one:
# an engine that was already running is not ours. SIGTERM lets dockerd stop its containers and the containerd it
# runs; the image store (/var/lib/docker) stays, so the next start finds the cached sandbox image.
set -euo pipefail
cd "$(dirname "$0")/.."
pidfile=var/docker/dockerd.pid
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
rm -f "$pidfile"
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
  exit 0  # gone already (or the pid was reused): nothing of ours to stop
fi
# the containerd this dockerd runs for itself, its child (it stops with dockerd; stopped below if it outlives it)
containerd=$(pgrep -P "$pid" -x containerd || true)
running() {  # running PID: it exists and is no zombie (one its parent has not reaped yet is gone all the same)
  [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
stop() {  # stop PID NAME
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 60); do
    running "$1" || { echo "stop-docker: $2 ($1) stopped"; return 0; }
    sleep 0.5
  done
  echo "stop-docker: $2 ($1) did not stop in 30 s; killing it" >&2
  kill -KILL "$1" 2>/dev/null || true
}
stop "$pid" dockerd
[ -z "$containerd" ] || stop "$containerd" containerd
