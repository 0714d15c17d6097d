"""Compact storage of unchanged WAIT decisions (issue 14: 1,000 symbols every 30 s wrote
~2.9 million decision rows a day, 3 GB, almost all of them a WAIT identical to the one
before it).

A WAIT that decides exactly what its symbol's newest stored decision decided — same
preset, same eight flags, the same inputs unknown — is not a new fact: it extends that
row (`seen_until`, `repeats`, and the latest price, indicators and reasons) instead of
adding one. Anything else starts a new row: a BUY or SELL (each keeps its own row and
outcome), a flag that turned, an input that became known or unknown, a preset change, and
the hourly heartbeat (a row older than `heartbeat` is not extended), so the history keeps
a sample of every symbol's indicators at least once an hour and no row spans for ever.
A row covers [created_at, seen_until], one continuous run (a gap in the decisions starts
a new row); `repeats` counts the decisions folded into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_HEARTBEAT = timedelta(minutes=60)


@dataclass(frozen=True, slots=True)
class StoredRun:
    """What the fold rule needs of a symbol's newest stored decision."""

    id: str
    decision: str
    preset: str
    flags: Mapping[str, bool | None]
    unknown: frozenset[str]  # the names of its unknown inputs (their causes may vary)
    created_at: datetime
    seen_until: datetime | None = None  # None: as created_at
    alert_ref: str | None = None


def folds_into(previous: StoredRun | None, *, decision: str, preset: str,
               flags: Mapping[str, bool | None], unknown: Mapping[str, str],
               now: datetime, heartbeat: timedelta | None,
               max_gap: timedelta | None = None) -> bool:
    """True when the new decision extends `previous` instead of adding a row.

    `heartbeat` None (or zero) stores every decision, as before compaction. The causes
    of unknown inputs carry measured values ("price stale: 74 s old") that change every
    cycle, so only which inputs are unknown counts; the row keeps the latest cause. A row
    is one continuous run: when its last decision is more than `max_gap` old (the
    process was down, the shard moved, the monitor stalled), a new row starts, so the
    gap stays visible between two rows instead of hiding inside one."""
    if previous is None or not heartbeat or decision != "WAIT":
        return False
    last = previous.seen_until or previous.created_at
    return (previous.decision == "WAIT" and previous.alert_ref is None
            and previous.preset == preset
            and dict(previous.flags) == dict(flags)
            and previous.unknown == frozenset(unknown)
            and timedelta(0) <= now - previous.created_at < heartbeat
            and (max_gap is None or timedelta(0) <= now - last <= max_gap))
