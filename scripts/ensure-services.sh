#!/usr/bin/env bash
# Start the local services the tests use when they are installed but stopped.
set -euo pipefail
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  fi
fi
if ! command -v pg_isready >/dev/null; then
  echo "PostgreSQL is not installed; installing it (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  runuser -u postgres -- psql -qc "ALTER USER postgres WITH PASSWORD NULL" || true
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 0.5
done
echo "PostgreSQL at 127.0.0.1:5432 is not accepting connections" >&2
exit 1
