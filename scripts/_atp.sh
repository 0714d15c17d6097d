# Shared by the runbook's entry points: find the `atp` command (PATH, else this checkout's
# .venv) and the production host's names, overridable from the environment.
ATP_BIN="${ATP_BIN:-$(command -v atp || echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin/atp")}"
ATP_SSH_HOST="${ATP_SSH_HOST:-hilovivo-aws}"
ATP_COMPOSE_PROJECT="${ATP_COMPOSE_PROJECT:-automated-trading-platform}"
