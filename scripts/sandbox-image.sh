#!/usr/bin/env bash
# Build the Docker sandbox image offline, cached by content hash: `nanochat-lab-sandbox:h-<hash>`, tagged
# `nanochat-lab-sandbox:latest` (SANDBOX_DOCKER_IMAGE's default). No registry is reachable here, so the base is a
# Debian rootfs made with mmdebstrap (python3 + venv) and loaded with `docker import`; the torch wheel is a local
# file on our machines, so a wheelhouse made with `pip download` goes into the build context. A second run with
# the same inputs costs one `docker image inspect`.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=nanochat-lab-sandbox
BASE=nanochat-lab-base:bookworm
BASE_PACKAGES=python3,python3-venv,ca-certificates
work=var/docker
mkdir -p "$work"
hash=$( (cat docker/sandbox/Dockerfile docker/sandbox/requirements.txt scripts/sandbox-image.sh; echo "$BASE_PACKAGES") |
  sha256sum | cut -c1-16)
tag="$IMAGE:h-$hash"
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$IMAGE:latest"
  echo "sandbox image: $tag (cached)"; exit 0
fi
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  echo "sandbox image: making the base rootfs with mmdebstrap (about a minute)"
  rm -f "$work/rootfs.tar"
  mmdebstrap --quiet --variant=minbase --include="$BASE_PACKAGES" bookworm "$work/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  docker import "$work/rootfs.tar" "$BASE" >/dev/null
  rm -f "$work/rootfs.tar"
fi
context="$work/context"
rm -rf "$context" && mkdir -p "$context/wheels"
cp docker/sandbox/Dockerfile docker/sandbox/requirements.txt "$context/"
# Every wheel the image needs, for an install with no index inside the build: torch is a local file here, and
# PyPI answers the host only (through its own certificate authority), not a build container. setuptools and
# wheel build the few source packages.
.venv/bin/python -m pip download -q -d "$context/wheels" torch==2.13.0 -r docker/sandbox/requirements.txt \
  setuptools wheel 2> >(grep -v "is ignored: it is neither" >&2)
echo "sandbox image: building $tag"
if ! docker build --build-arg BASE="$BASE" -t "$tag" "$context" >"$work/build.log" 2>&1; then
  echo "sandbox image: the build failed; the end of $work/build.log:" >&2
  tail -n 30 "$work/build.log" >&2
  exit 1
fi
docker tag "$tag" "$IMAGE:latest"
rm -rf "$context"
echo "sandbox image: $tag (built)"
