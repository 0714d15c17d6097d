"""The runtime integrity check (`atp check`): ten independent checks over what an
operator can reach — the HTTP API, log files, the Docker Engine, SSH — never engine
internals. See product.md §4 for the ids, statuses, outputs and exit codes."""

from __future__ import annotations

from atp.integrity.checks import CHECK_IDS
from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Report, Status
from atp.integrity.runner import evaluate

__all__ = ["CHECK_IDS", "CheckContext", "CheckResult", "Report", "Status", "evaluate"]
