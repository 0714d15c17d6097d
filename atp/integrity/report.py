"""The integrity report: checks as data (id, status, summary, details, remediation).

Statuses and exit codes are a contract (product.md §4): 0 ok, 1 warning, 2 critical,
3 unknown. The verdict is the worst check, where worst follows Icinga's ordering
ok < warning < unknown < critical: a definite failure outranks "could not tell", and
"could not tell" outranks a warning. `skipped` never changes the verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"

    @property
    def exit_code(self) -> int:
        return _EXIT[self]

    @property
    def severity(self) -> int:
        """Rank for "worst wins"; skipped ranks with ok so it never changes the verdict."""
        return _SEVERITY[self]


_EXIT = {Status.OK: 0, Status.SKIPPED: 0, Status.WARNING: 1, Status.CRITICAL: 2,
         Status.UNKNOWN: 3}
_SEVERITY = {Status.OK: 0, Status.SKIPPED: 0, Status.WARNING: 1, Status.UNKNOWN: 2,
             Status.CRITICAL: 3}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer. `data` holds the figures behind the text, for JSON readers."""

    id: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)
    remediation: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Wall time until this check answered (the runner sets it; checks run concurrently,
    # so it includes waiting for reads another check shares): where `atp check` spends.
    duration_ms: float | None = None

    def __post_init__(self) -> None:
        if self.status not in (Status.OK, Status.SKIPPED) and not self.remediation:
            raise ValueError(f"check {self.id}: a {self.status} result needs a remediation")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": str(self.status),
            "summary": self.summary,
            "details": list(self.details),
            "remediation": self.remediation,
            "data": self.data,
            **({} if self.duration_ms is None else {"duration_ms": self.duration_ms}),
        }


def worst(statuses: list[Status]) -> Status:
    """The verdict of several statuses; OK when there is nothing (or only skipped)."""
    verdict = Status.OK
    for status in statuses:
        if status.severity > verdict.severity:
            verdict = status
    return verdict


@dataclass(frozen=True, slots=True)
class Report:
    checks: list[CheckResult]
    target: str = ""
    window_seconds: float = 900.0
    generated_at: datetime | None = None
    duration_ms: float | None = None

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    @property
    def counts(self) -> dict[str, int]:
        """The contract's keys: passed, warnings, failed, unknown, skipped."""
        by = {s: sum(1 for c in self.checks if c.status is s) for s in Status}
        return {"passed": by[Status.OK], "warnings": by[Status.WARNING],
                "failed": by[Status.CRITICAL], "unknown": by[Status.UNKNOWN],
                "skipped": by[Status.SKIPPED]}

    def check(self, check_id: str) -> CheckResult:
        return next(c for c in self.checks if c.id == check_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "checks": [c.as_dict() for c in self.checks],
            "counts": self.counts,
            "target": self.target,
            "window_seconds": self.window_seconds,
            "generated_at": self.generated_at.isoformat() if self.generated_at else None,
            "duration_ms": self.duration_ms,
        }


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`15m`, `90s`, `2h`, `1d` or plain seconds; raises ValueError with the accepted forms."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"'{text}' is not a duration (use e.g. 90s, 15m, 2h, 1d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2).lower()])


def ago(seconds: float | None) -> str:
    """A short human age: `42 s`, `3.5 min`, `2.0 h`."""
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
