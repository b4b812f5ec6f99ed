#!/usr/bin/env bash
# A Docker engine for the Docker sandbox backend's tests (`make sandbox-image`, the `docker` area of `make test`):
# install Debian's docker.io (and mmdebstrap, for the image's base) when missing, start dockerd when no engine
# answers, then build the sandbox image (scripts/sandbox-image.sh, cached by content hash).
#
# A dockerd started here writes its pid to var/docker/dockerd.pid: `scripts/stop-docker.sh` stops that one (and
# only that one) after the tests that need it, so the machine is left as we found it. An engine that already
# answered is used and left alone.
#
# Where no engine can run (no root, no install, dockerd fails), say why, write the reason to
# var/docker/no-engine.txt and exit 0: the Docker tests then skip with that reason (tests/sandbox/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/docker
log=var/docker/dockerd.log
why=var/docker/no-engine.txt
rm -f "$why"
answers() { timeout 20 docker info >/dev/null 2>&1; }
no_engine() {
  echo "ensure-docker: $1: the Docker tests will skip" >&2
  echo "$1" >"$why"
  exit 0
}

if ! answers; then
  if [ "$(id -u)" != 0 ]; then
    no_engine "no Docker engine answers and we are not root (dockerd needs root)"
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null || ! command -v mmdebstrap >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io mmdebstrap >/dev/null) || no_engine "apt-get could not install docker.io and mmdebstrap"
  fi
  nohup dockerd --host unix:///var/run/docker.sock >"$log" 2>&1 &
  echo $! >var/docker/dockerd.pid
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  if ! answers; then
    echo "ensure-docker: dockerd did not come up; its log:" >&2
    tail -n 20 "$log" >&2 || true
    bash scripts/stop-docker.sh
    no_engine "dockerd did not come up (var/docker/dockerd.log)"
  fi
fi
exec bash scripts/sandbox-image.sh
