#!/usr/bin/env bash
# The runbook's full integrity check, now `atp check` over SSH (all eleven checks, never
# aborting at the first failure). Extra arguments pass through, e.g. --format json.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_atp.sh"
exec "$ATP_BIN" check --ssh "$ATP_SSH_HOST" --compose-project "$ATP_COMPOSE_PROJECT" "$@"
