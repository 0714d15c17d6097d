#!/bin/sh
# First start on an empty volume: initdb with the superuser and password from the
# environment and create POSTGRES_DB; then run the server as PID 1.
set -e
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -A scram-sha-256 \
    --auth-local=trust --no-sync >/dev/null
  rm -f "$pwfile"
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -k /var/run/postgresql" start >/dev/null
  if [ "$POSTGRES_DB" != "postgres" ]; then
    createdb -h /var/run/postgresql -U "$POSTGRES_USER" "$POSTGRES_DB"
  fi
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
fi
[ "$1" = postgres ] && set -- "$@" -k /var/run/postgresql
exec "$@"
