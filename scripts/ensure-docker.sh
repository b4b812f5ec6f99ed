#!/usr/bin/env bash
# A Docker engine for the Docker sandbox backend's tests: install Debian's docker.io (and mmdebstrap, for the
# image's base) when missing, start dockerd when no engine answers, then build the sandbox image
# (scripts/sandbox-image.sh, cached by content hash). Where no engine can run (no root, no cgroups), say why and
# exit 0: the Docker tests then skip with that reason (tests/sandbox/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/docker
log=var/docker/dockerd.log
answers() { timeout 20 docker info >/dev/null 2>&1; }

if ! answers; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker engine answers and we are not root: the Docker tests will skip" >&2; exit 0
  fi
  if ! command -v dockerd >/dev/null || ! command -v mmdebstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io mmdebstrap >/dev/null
  fi
  # Started here, for this machine's session; it outlives `make test` like the PostgreSQL and Redis we start.
  nohup dockerd --host unix:///var/run/docker.sock >"$log" 2>&1 &
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  if ! answers; then
    echo "ensure-docker: dockerd did not come up (the Docker tests will skip); its log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 0
  fi
fi
exec bash scripts/sandbox-image.sh
