"""What a check is given: its sources, the window and the time of the evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from atp.integrity.sources.http import ApiSource

if TYPE_CHECKING:
    from atp.integrity.sources.docker import DockerSource
    from atp.integrity.sources.logs import LogSource

PENDING_LIMIT_S = 120.0  # business-rules §5: pending alerts older than 2 min are reported
STALE_AFTER_S = 60.0  # product.md §4: last update < 60 s, no gap > 60 s


@dataclass
class CheckContext:
    api: ApiSource
    now: datetime
    window: timedelta
    logs: LogSource | None = None
    docker: DockerSource | None = None
    compose_project: str | None = None
    target: str = ""

    @property
    def since(self) -> datetime:
        return self.now - self.window

    def since_iso(self) -> str:
        return self.since.isoformat()
