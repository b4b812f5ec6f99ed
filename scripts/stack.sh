#!/usr/bin/env bash
# The compose stack on this machine (docker/compose.yaml; docs/operations.md, "The compose stack"):
#
#   scripts/stack.sh up [compose up args]   engine + images (built when missing) + secrets (made when absent),
#                                           then `up -d`; returns once the web tier answers, and prints its URL
#   scripts/stack.sh down [-v]              stop and remove the containers (-v: the volumes too: data is lost)
#   scripts/stack.sh <any compose command>  e.g. ps, logs -f web, exec postgres psql -U lab lab
#
# Defaults (override in the environment): COMPOSE_PROJECT_NAME=nanochat-lab, LAB_HTTP_PORT=8080 (on
# LAB_HTTP_BIND=127.0.0.1), LAB_HOSTNAME=localhost, LAB_HTTPS=0 (plain HTTP on this machine; 1 behind a TLS
# proxy), LAB_SECRETS_DIR=var/stack/secrets, LAB_JOBS_DIR=var/stack/<project>/jobs, LAB_STACK_BUILD=1 (0: use the
# images as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-nanochat-lab}
export LAB_HTTP_PORT=${LAB_HTTP_PORT:-8080} LAB_HTTP_BIND=${LAB_HTTP_BIND:-127.0.0.1}
export LAB_HOSTNAME=${LAB_HOSTNAME:-localhost} LAB_HTTPS=${LAB_HTTPS:-0}
export LAB_SECRETS_DIR=${LAB_SECRETS_DIR:-$root/var/stack/secrets}
export LAB_JOBS_DIR=${LAB_JOBS_DIR:-$root/var/stack/$COMPOSE_PROJECT_NAME/jobs}

# this machine's additions (e.g. PostgreSQL and Redis published to worker machines) in an uncommitted override
files=(-f "$root/docker/compose.yaml")
[ -f "$root/docker/compose.override.yaml" ] && files+=(-f "$root/docker/compose.override.yaml")
compose() {
  if command -v docker-compose >/dev/null; then
    docker-compose "${files[@]}" "$@"
  else
    docker compose "${files[@]}" "$@"
  fi
}

# secret NAME: a random secret in LAB_SECRETS_DIR/NAME unless it exists (the folder is 0700: the files are 0644
# so the services' own users can read their bind mounts)
secret() {
  local path="$LAB_SECRETS_DIR/$1"
  [ -s "$path" ] && return
  (umask 022 && head -c 48 /dev/urandom | base64 | tr -d '/+=\n' >"$path")
}

up() {
  if [ "${LAB_STACK_BUILD:-1}" = 1 ]; then
    bash scripts/ensure-docker.sh
    if [ -f var/docker/no-engine.txt ]; then
      echo "stack: no Docker engine: $(cat var/docker/no-engine.txt)" >&2
      exit 1
    fi
    bash scripts/stack-images.sh
  fi
  if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker-compose >/dev/null
  fi
  mkdir -p "$LAB_SECRETS_DIR" "$LAB_JOBS_DIR"
  chmod 0700 "$LAB_SECRETS_DIR"
  secret django_secret_key
  secret postgres_password
  if ! compose up -d "$@"; then
    compose logs --no-color --tail 40 migrate >&2
    exit 1
  fi
  local url="http://$LAB_HOSTNAME:$LAB_HTTP_PORT/" deadline=$((SECONDS + 180))
  until curl -fsS -o /dev/null --resolve "$LAB_HOSTNAME:$LAB_HTTP_PORT:$LAB_HTTP_BIND" \
    "http://$LAB_HOSTNAME:$LAB_HTTP_PORT/accounts/login/" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "stack: the web tier did not answer on $url within 180 s:" >&2
      compose ps >&2
      compose logs --tail 30 migrate web >&2
      exit 1
    fi
    sleep 1
  done
  echo "stack: $COMPOSE_PROJECT_NAME is up: $url"
}

case "${1:-}" in
  up) shift && up "$@" ;;
  "") sed -n '2,14p' "$0" >&2 && exit 2 ;;
  *) compose "$@" ;;
esac
