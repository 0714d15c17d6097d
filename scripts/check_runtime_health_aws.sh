#!/usr/bin/env bash
# Runbook step a: the backend health summary (API 200, ticks, last update), via atp check.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_atp.sh"
exec "$ATP_BIN" check --ssh "$ATP_SSH_HOST" --compose-project "$ATP_COMPOSE_PROJECT" \
  --check backend_health "$@"
