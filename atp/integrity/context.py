"""What a check is given: its sources, the window and the time of the evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from atp.integrity.sources.host import HostSource, Thresholds
from atp.integrity.sources.http import ApiSource

if TYPE_CHECKING:
    from atp.integrity.sources.docker import DockerSource
    from atp.integrity.sources.logs import LogSource

PENDING_LIMIT_S = 120.0  # business-rules §5: pending alerts older than 2 min are reported
STALE_AFTER_S = 60.0  # product.md §4: last update < 60 s, no gap > 60 s


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """`atp check --probe`: which symbol (None: the first enabled one), how long to wait
    for the message id, and what to say when no API token was found."""

    symbol: str | None = None
    timeout_s: float = 30.0
    token_hint: str = ("set API_TOKEN (the platform's, in the environment or ./.env) or "
                       "ATP_API_TOKEN, or pass --api-token")


@dataclass
class CheckContext:
    api: ApiSource
    now: datetime
    window: timedelta
    logs: LogSource | None = None
    docker: DockerSource | None = None
    compose_project: str | None = None
    target: str = ""
    # host_resources: the host to read, the paths on it (what, path), or why not
    host: HostSource | None = None
    host_paths: list[tuple[str, str]] = field(default_factory=list)
    host_skip_reason: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    probe: ProbeSpec | None = None  # end_to_end runs only when set (`atp check --probe`)

    @property
    def since(self) -> datetime:
        return self.now - self.window

    def since_iso(self) -> str:
        return self.since.isoformat()
