#!/usr/bin/env bash
# Build the compose stack's images offline (docker/compose.yaml), each cached by content hash like the sandbox
# image: `nanochat-lab-<name>:h-<hash>`, tagged `:latest` (the tag compose.yaml runs). A second run with the same
# inputs costs the hashing and one `docker image inspect` per image.
#
#   python    Debian python3 + venv + every pin but torch (docker/python.Dockerfile): the base of web and worker
#   web       runlab's production web tier + the built frontend + the handout figures
#   worker    Celery grading worker: python + torch + the app (docker/worker-entrypoint.sh)
#   postgres  Debian's postgresql-15;  redis  Debian's redis-server
#   sandbox   the job image (scripts/sandbox-image.sh, which also makes the Debian base all of these start FROM)
#   --gpu     also worker-gpu (outside CI; its sandbox image, nanochat-lab-sandbox:cuda, needs a CUDA torch index)
#
# No registry answers here: every image starts FROM the Debian rootfs the sandbox image uses, apt-get inside a
# build reaches the Debian mirror, and Python packages come from a wheelhouse (var/docker/wheels, `pip download`
# on the host: torch is a local wheel, and PyPI does not answer a build container). The frontend is built outside
# Docker (`make frontend`: Vite output with its Brotli and gzip variants); the figures by `make figures`.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=nanochat-lab-base:bookworm
work=var/docker
wheels=$work/wheels
gpu=0
[ "${1:-}" = --gpu ] && gpu=1
mkdir -p "$work"

bash scripts/sandbox-image.sh

if [ ! -f frontend/dist/.vite/manifest.json ]; then
  echo "stack images: frontend/dist is missing: run \`make frontend\` first" >&2
  exit 1
fi
# the handout figures the content sync copies into the pages (regenerated here only when missing or stale)
.venv/bin/python - <<'PY'
from pathlib import Path
from modules.figures import figures_ensure
index = figures_ensure(root=Path("var/figures"), repo_root=Path("."))
if index.error:
    raise SystemExit(f"stack images: the handout figures: {index.error}")
PY

# The app's files as the images carry them: tracked and new (not ignored) files of these paths (rustbpe: the
# crate is module 2's reference).
APP_PATHS=(manage.py labplatform modules grading sandbox content locale nanochat_ref rustbpe)
app_files() { git ls-files -z --cached --others --exclude-standard -- "${APP_PATHS[@]}" | sort -z; }
hash_of() { sha256sum | cut -c1-16; }
files_hash() { xargs -0 sha256sum -- | hash_of; }

# requirements.txt without torch (the python image; the worker adds torch)
grep -v '^torch==' requirements.txt >"$work/requirements-app.txt"
# the interpreter the venv was made from (a CPython built on this Debian release), without its own packages
python_prefix=$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')
python_version=$(.venv/bin/python -c 'import sys; print(sys.version)')
python_hash=$( (cat docker/python.Dockerfile "$work/requirements-app.txt" scripts/stack-images.sh
  echo "$python_version"; docker image inspect --format '{{.Id}}' "$BASE") | hash_of)
app_hash=$(app_files | files_hash)
dist_hash=$(cd frontend/dist && find . -type f -print0 | sort -z | files_hash)
figures_hash=$(cd var/figures && find . -type f -print0 | sort -z | files_hash)
web_hash=$(echo "$python_hash $app_hash $dist_hash $figures_hash $(sha256sum docker/web.Dockerfile)" | hash_of)
worker_hash=$(echo "$python_hash $app_hash $(cat docker/worker.Dockerfile docker/worker-entrypoint.sh | hash_of)" |
  hash_of)
postgres_hash=$( (cat docker/postgres.Dockerfile docker/postgres-entrypoint.sh
  docker image inspect --format '{{.Id}}' "$BASE") | hash_of)
redis_hash=$( (cat docker/redis.Dockerfile; docker image inspect --format '{{.Id}}' "$BASE") | hash_of)

have() { docker image inspect "$1" >/dev/null 2>&1; }
# build NAME HASH CONTEXT DOCKERFILE [--build-arg ...]: build nanochat-lab-NAME:h-HASH unless it exists; tag latest
build() {
  local name=$1 hash=$2 context=$3 dockerfile=$4
  shift 4
  local tag="nanochat-lab-$name:h-$hash" started=$SECONDS
  if have "$tag"; then
    docker tag "$tag" "nanochat-lab-$name:latest"
    echo "stack images: $tag (cached)"
    return
  fi
  echo "stack images: building $tag"
  if ! docker build -f "$dockerfile" "$@" -t "$tag" "$context" >"$work/build-$name.log" 2>&1; then
    echo "stack images: the $name build failed; the end of $work/build-$name.log:" >&2
    tail -n 30 "$work/build-$name.log" >&2
    exit 1
  fi
  docker tag "$tag" "nanochat-lab-$name:latest"
  echo "stack images: $tag (built in $((SECONDS - started)) s)"
}
# fresh_context NAME: an empty build context folder
fresh_context() {
  rm -rf "$work/context-$1" && mkdir -p "$work/context-$1" && echo "$work/context-$1"
}
wheelhouse() {
  # every wheel the images install, for an install with no index; setuptools and wheel build source packages
  .venv/bin/python -m pip download -q -d "$wheels" -r requirements.txt setuptools wheel \
    2> >(grep -v "is ignored: it is neither" >&2)
}
# app_context DIR: the app's files into DIR/app
app_context() {
  mkdir -p "$1/app"
  app_files | xargs -0 cp --parents -t "$1/app" --
}

wheels_ready=0
need_wheels() { [ $wheels_ready = 1 ] || { wheelhouse; wheels_ready=1; }; }

if ! have "nanochat-lab-python:h-$python_hash"; then
  need_wheels
  ctx=$(fresh_context python)
  mkdir -p "$ctx/wheels"
  find "$wheels" -maxdepth 1 -name '*.whl' ! -name 'torch-*' -exec cp -l -t "$ctx/wheels" {} +
  find "$wheels" -maxdepth 1 -name '*.tar.gz' -exec cp -l -t "$ctx/wheels" {} +
  cp "$work/requirements-app.txt" "$ctx/"
  tar -C "$python_prefix" -cf "$ctx/python.tar" --exclude=site-packages --exclude=test --exclude=tests \
    --exclude=idlelib --exclude=tkinter --exclude=turtledemo --exclude='config-3*' \
    bin/python3 bin/python3.11 lib/libpython3.11.so.1.0 lib/python3.11
fi
build python "$python_hash" "$work/context-python" docker/python.Dockerfile --build-arg BASE="$BASE"
python_image="nanochat-lab-python:h-$python_hash"

if ! have "nanochat-lab-web:h-$web_hash"; then
  ctx=$(fresh_context web)
  app_context "$ctx"
  mkdir -p "$ctx/app/frontend"
  cp -a frontend/dist "$ctx/app/frontend/dist"
  cp -a var/figures "$ctx/figures"
fi
build web "$web_hash" "$work/context-web" docker/web.Dockerfile --build-arg PYTHON_IMAGE="$python_image"

if ! have "nanochat-lab-worker:h-$worker_hash"; then
  need_wheels
  ctx=$(fresh_context worker)
  app_context "$ctx"
  mkdir -p "$ctx/wheels"
  # torch and what it pulls in (the rest is in the python image already)
  find "$wheels" -maxdepth 1 -name '*.whl' -exec cp -l -t "$ctx/wheels" {} +
  cp docker/worker-entrypoint.sh "$ctx/"
fi
build worker "$worker_hash" "$work/context-worker" docker/worker.Dockerfile \
  --build-arg PYTHON_IMAGE="$python_image" --build-arg LAB_IMAGE_HASH="$worker_hash"

if ! have "nanochat-lab-postgres:h-$postgres_hash"; then
  ctx=$(fresh_context postgres)
  cp docker/postgres-entrypoint.sh "$ctx/"
fi
build postgres "$postgres_hash" "$work/context-postgres" docker/postgres.Dockerfile --build-arg BASE="$BASE"
mkdir -p "$work/context-redis"
build redis "$redis_hash" "$work/context-redis" docker/redis.Dockerfile --build-arg BASE="$BASE"

if [ $gpu = 1 ]; then
  gpu_hash=$(echo "$worker_hash $(sha256sum docker/worker-gpu.Dockerfile)" | hash_of)
  mkdir -p "$work/context-worker-gpu"
  build worker-gpu "$gpu_hash" "$work/context-worker-gpu" docker/worker-gpu.Dockerfile \
    --build-arg WORKER_IMAGE="nanochat-lab-worker:h-$worker_hash"
fi
rm -rf "$work"/context-*
