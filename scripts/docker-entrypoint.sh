#!/bin/sh
# The image's entrypoint: apply the database migrations (idempotent: a no-op at head),
# then hand PID 1 to the command (`atp run`), so SIGTERM from `docker stop` reaches it.
set -e
if [ "$1" = "atp" ] && [ "$2" = "run" ] && [ "${ATP_MIGRATE:-1}" != "0" ]; then
  atp db upgrade
fi
exec "$@"
