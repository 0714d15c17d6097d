"""Compact storage of WAIT decisions (issue 14: 1,000 symbols every 30 s wrote ~2.9 million
decision rows a day, 3 GB, almost all of them a WAIT like the one before it).

A WAIT that follows a WAIT of its symbol's newest stored row — same preset, the same
inputs unknown — is not a new row: it extends that row (`seen_until`, `repeats`, and the
latest price, flags, indicators and reasons). When its flags differ from the row's, the
change is kept in the row's flag timeline (`flag_changes`: seconds since the row began and
the flags as an eight-character code, domain/flagcode.py), so every turn of a flag stays on
record with its time at ~20 bytes instead of a ~1 KB row: on the real 5-minute candles, 43 %
of closes turn some flag, and a row per turn was 5 GB a month at 1,000 symbols.

A BUY or SELL starts a new row with its own outcome, except when it only repeats its
row's: the same decision again, throttled again after a THROTTLED or blocked by the same
flag after a BLOCKED (on the real 5-minute candles a preset decides BUY/SELL on 4 % to
62 % of closes, most of them inside the throttle's cooldown). That run is one row with one
outcome, as business-rules §5.1 already records BLOCKED once per run: nothing was
sent, accepted or traded for the repeats, and `repeats` counts them.

Anything else starts a new row: a BUY or SELL after anything else, an input that became
known or unknown, a preset change, a gap in the decisions, a full flag timeline, and the
hourly heartbeat (a row older than `heartbeat` is not extended), so the
history keeps a sample of every symbol's indicators at least once an hour and no row spans
for ever. A row covers [created_at, seen_until], one continuous run; `repeats` counts the
decisions folded into it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from atp.domain.flagcode import decode_flags, encode_flags, is_canonical

# A row begins at least every 4 h: a sample of each symbol's indicators 6 times a day
# (each turn of a flag is in the timeline anyway). Hourly samples cost ~40 % more rows:
# 1.3 GB instead of 0.9 GB over 30 days at 1,000 symbols (bench/db_30days.py).
DEFAULT_HEARTBEAT = timedelta(minutes=240)
# A row's flag timeline holds at most this many entries (its first flags included): at
# 30-s cycles an hour has 120 decisions; a faster monitor starts a new row instead of
# rewriting an ever longer one.
MAX_FLAG_CHANGES = 240

# the outcomes a BUY/SELL run may repeat without a row (nothing was sent or accepted)
REPEATABLE = frozenset({"THROTTLED", "BLOCKED"})

FlagChanges = list[list[Any]]  # [[whole seconds since the row began, flag code], ...]


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
    flag_changes: Sequence[Sequence[Any]] = ()  # its timeline so far; () = flags never turned
    outcome: str | None = None  # a BUY/SELL row's alert outcome (THROTTLED, BLOCKED, ...)
    outcome_reason: str | None = None


def folds_into(previous: StoredRun | None, *, decision: str, preset: str,
               flags: Mapping[str, bool | None], unknown: Mapping[str, str],
               now: datetime, heartbeat: timedelta | None,
               max_gap: timedelta | None = None, repeats_outcome: bool = False) -> bool:
    """True when the new decision extends `previous` instead of adding a row.

    Flags may differ (the change goes to the row's timeline, `flag_changes_after`) when
    both sets have a code and the timeline has room.

    `heartbeat` None (or zero) stores every decision, as before compaction. The causes
    of unknown inputs carry measured values ("price stale: 74 s old") that change every
    cycle, so only which inputs are unknown counts; the row keeps the latest cause. A row
    is one continuous run: when its last decision is more than `max_gap` old (the
    process was down, the shard moved, the monitor stalled), a new row starts, so the
    gap stays visible between two rows instead of hiding inside one.

    A BUY or SELL folds only into a row of the same decision, and only when the alert
    pipeline found that it repeats the row's outcome (`repeats_outcome`: throttled again
    after a THROTTLED, blocked by the same flag after a BLOCKED, engine/alerts.py): the
    run keeps its one outcome, business-rules §5."""
    if previous is None or not heartbeat:
        return False
    if decision != "WAIT" and not (repeats_outcome and previous.outcome in REPEATABLE):
        return False
    last = previous.seen_until or previous.created_at
    return (previous.decision == decision and previous.alert_ref is None
            and previous.preset == preset
            and (dict(previous.flags) == dict(flags)
                 or (is_canonical(previous.flags) and is_canonical(flags)
                     and len(previous.flag_changes) < MAX_FLAG_CHANGES - 1))
            and previous.unknown == frozenset(unknown)
            and timedelta(0) <= now - previous.created_at < heartbeat
            and (max_gap is None or timedelta(0) <= now - last <= max_gap))


def flag_changes_after(previous: StoredRun, flags: Mapping[str, bool | None],
                       now: datetime) -> FlagChanges | None:
    """The flag timeline of `previous` once a WAIT with `flags` at `now` extends it.

    None while the flags never turned (most rows: no timeline stored at all). The first
    change writes the row's first flags at offset 0 too, so the timeline alone tells
    every flag set of the run and when it began; its last entry is the row's `flags`."""
    if dict(previous.flags) == dict(flags):
        return [list(c) for c in previous.flag_changes] or None
    changes = [list(c) for c in previous.flag_changes] or [[0, encode_flags(previous.flags)]]
    # whole seconds: a cycle is 30 s (5 s at the least), and each entry stays ~17 bytes
    changes.append([round((now - previous.created_at).total_seconds()),
                    encode_flags(flags)])
    return changes


def expand_flag_changes(created_at: datetime, changes: Sequence[Sequence[Any]] | None
                        ) -> list[dict[str, Any]]:
    """A stored timeline as readers show it: [{"at": when, "flags": {...}}, ...]."""
    return [{"at": created_at + timedelta(seconds=float(offset)),
             "flags": decode_flags(str(code))} for offset, code in changes or ()]
