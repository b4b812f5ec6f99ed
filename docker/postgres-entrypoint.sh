#!/bin/sh
# PostgreSQL 15 (Debian) for the compose stack. On the first start (an empty volume) make the cluster: superuser
# POSTGRES_USER with the password in POSTGRES_PASSWORD_FILE (SCRAM), database POSTGRES_DB; connections from
# other containers need that password. Then run the server as the postgres user (pid 1: SIGINT stops it fast).
set -eu
: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}" "${POSTGRES_PASSWORD_FILE:?}"
uid=$(id -u postgres)
gid=$(id -g postgres)
as_postgres() { setpriv --reuid="$uid" --regid="$gid" --init-groups -- "$@"; }
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  cat "$POSTGRES_PASSWORD_FILE" >"$pwfile"
  chown postgres "$pwfile"
  as_postgres initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  as_postgres createdb --username="$POSTGRES_USER" "$POSTGRES_DB"
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "lab-postgres: made the cluster (user $POSTGRES_USER, database $POSTGRES_DB)"
fi
exec setpriv --reuid="$uid" --regid="$gid" --init-groups -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
