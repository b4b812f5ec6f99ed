#!/bin/sh
# The grading worker's start: sandbox containers are siblings made by the host's engine, so every path the
# engine binds into them (job dirs under TMPDIR; the engine's harness, test kit, nanochat_ref and the course
# under the app) must exist at the same path on the host. LAB_JOBS_DIR is bound at its own path, so the app is
# copied there once per image (app-<image hash>, made atomically: workers starting together share one copy) and
# the worker runs from that copy.
set -eu
jobs=${LAB_JOBS_DIR:?LAB_JOBS_DIR: the jobs folder, bound at the same path on the host}
app="$jobs/app-${LAB_IMAGE_HASH:?}"
if [ ! -d "$app" ]; then
  tmp=$(mktemp -d "$jobs/.app-XXXXXX")
  cp -a /srv/lab/app/. "$tmp/"
  chmod 0755 "$tmp"
  mv -T "$tmp" "$app" 2>/dev/null || rm -rf "$tmp"
fi
export TMPDIR="$jobs" LAB_CONTENT_DIR="$app/content"
cd "$app"
exec "$@"
