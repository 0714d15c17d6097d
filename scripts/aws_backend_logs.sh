#!/usr/bin/env bash
# The backend's log from the production host, via atp logs. `--tail N` keeps working;
# without --log-file it reads `docker logs` of the compose project's backend container.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_atp.sh"
args=("$@")
for a in "$@"; do [[ "$a" == --log-file* ]] && exec "$ATP_BIN" logs --ssh "$ATP_SSH_HOST" "${args[@]}"; done
exec "$ATP_BIN" logs --ssh "$ATP_SSH_HOST" --compose-project "$ATP_COMPOSE_PROJECT" "${args[@]}"
