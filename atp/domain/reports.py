"""Scheduled reports: when each is due, and what it says. Pure: `now` and the figures in.

A report is due once per local date, at a local wall time of the `TIMEZONE` setting. The
instant it is due is the first instant the local clock shows that time or later, so:

- on a spring-forward day a time inside the gap (02:30 in Berlin on the last Sunday of
  March) is due once, at the first valid instant after it (03:00 CEST, the jump);
- on a fall-back day a time inside the repeated hour is due once, at its first occurrence.

The dedupe key of a report is (report, local date); the store enforces it (one row per
key), this module only says which key is due.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A report due longer ago than this (the service was down) is not caught up: the next
# day's covers it. Within it, a restart after the due time still sends the day's report.
CATCH_UP = timedelta(hours=12)
OFF_WORDS = frozenset({"off", "none", "no", "false", "disabled", "-"})
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Report(StrEnum):
    """The report kinds; values are the stored `report` column and the event's field."""

    DAILY_SUMMARY = "daily_summary"
    SELL_REPORT = "sell_report"
    SLTP_REMINDER = "sltp_reminder"


def parse_local_time(value: str | None) -> time | None:
    """`HH:MM` (24 h) as a time; empty or `off` switches the report off (None)."""
    if value is None:
        return None
    text = value.strip().lower()
    if text == "" or text in OFF_WORDS:
        return None
    match = _HHMM.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a local time HH:MM (24 h) or 'off'")
    return time(int(match.group(1)), int(match.group(2)))


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA zone (`Europe/Berlin`, `UTC`); ValueError naming the bad name."""
    text = name.strip()
    try:
        if not text or text.startswith("/") or ".." in text:
            raise ValueError
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone name") from None


def _naive_local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def due_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant the report of local date `day` is due: the first instant whose
    local wall time is `day at` or later."""
    wall = datetime.combine(day, at)
    candidates = [wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    valid = [c for c in candidates if _naive_local(c, tz) == wall]
    if valid:
        return min(valid)
    # In a gap: the wall time never shows. Bisect (on whole seconds) for the first
    # instant after it whose local time is past the wall time: the jump itself.
    lo, hi = min(candidates), max(candidates)
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if _naive_local(mid, tz) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def due_dates(since: datetime, until: datetime, at: time, tz: ZoneInfo) -> list[date]:
    """Local dates whose report falls due in (since, until], oldest first."""
    if until <= since:
        return []
    day = since.astimezone(tz).date() - timedelta(days=1)
    last = until.astimezone(tz).date() + timedelta(days=1)
    out = []
    while day <= last:
        if since < due_at(day, at, tz) <= until:
            out.append(day)
        day += timedelta(days=1)
    return out


def latest_due(now: datetime, at: time, tz: ZoneInfo) -> tuple[date, datetime]:
    """The local date of the latest report due at or before `now`, and its due instant."""
    day = now.astimezone(tz).date() + timedelta(days=1)
    while True:
        instant = due_at(day, at, tz)
        if instant <= now:
            return day, instant
        day -= timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Due:
    """What the scheduler should do for one report now."""

    day: date
    at: datetime  # the due instant (UTC)
    late: bool  # due longer ago than CATCH_UP: record it skipped, do not send


def due_now(now: datetime, at: time, tz: ZoneInfo) -> Due:
    day, instant = latest_due(now, at, tz)
    return Due(day, instant, now - instant > CATCH_UP)


def window(day: date, at: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The day a daily report covers: from the previous report's instant to this one's
    (23 or 25 hours across a DST change, 24 otherwise)."""
    return due_at(day - timedelta(days=1), at, tz), due_at(day, at, tz)


# ── contents ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class PositionLine:
    symbol: str
    quantity: float
    avg_entry: float
    mark_price: float | None
    unrealised_pnl: float | None
    protected: bool
    stop_loss: float | None = None
    take_profit: float | None = None


@dataclass(frozen=True, slots=True)
class SellLine:
    symbol: str
    quantity: float
    price: float | None
    realised_pnl: float | None
    at: datetime
    by: str  # what closed it: sell signal, stop_loss, take_profit, …


@dataclass(frozen=True, slots=True)
class ReportData:
    """Every figure a report shows, read once from the stored records (engine/reports.py
    `gather`); the texts below only format it."""

    instance: str
    mode: str  # paper | live
    since: datetime
    until: datetime
    balances: Mapping[str, float] = field(default_factory=dict)
    positions: Sequence[PositionLine] = ()
    sells: Sequence[SellLine] = ()  # positions closed in the window
    decisions: Mapping[str, int] = field(default_factory=dict)  # BUY/SELL/WAIT counts
    alerts: Mapping[str, int] = field(default_factory=dict)  # outcome counts (lower case)
    orders: Mapping[str, int] = field(default_factory=dict)  # intent outcome counts

    @property
    def realised_pnl(self) -> float:
        return sum(s.realised_pnl or 0.0 for s in self.sells)

    @property
    def unrealised_pnl(self) -> float:
        return sum(p.unrealised_pnl or 0.0 for p in self.positions)

    @property
    def unprotected(self) -> list[PositionLine]:
        return [p for p in self.positions if not p.protected]


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:+,.2f}"


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.8g}"


def _counts(counts: Mapping[str, int]) -> str:
    shown = [f"{k} {v}" for k, v in counts.items() if v]
    return ", ".join(shown) if shown else "none"


def _local(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def daily_summary_text(d: ReportData, day: date, tz: ZoneInfo) -> str:
    lines = [f"📊 ATP daily summary [{d.instance}] {day.isoformat()} ({d.mode})",
             f"Period: {_local(d.since, tz)} → {_local(d.until, tz)}"]
    if d.balances:
        lines.append("Balances: " + ", ".join(f"{c} {_num(a)}"
                                              for c, a in sorted(d.balances.items())))
    else:
        lines.append("Balances: none recorded")
    lines.append(f"P&L: realised {_money(d.realised_pnl)}, unrealised "
                 f"{_money(d.unrealised_pnl)} ({len(d.positions)} open positions)")
    lines.append(f"Decisions: {_counts(d.decisions)}")
    lines.append(f"Alerts: {_counts(d.alerts)}")
    lines.append(f"Orders: {_counts(d.orders)}")
    return "\n".join(lines)


def sell_report_text(d: ReportData, tz: ZoneInfo) -> str:
    lines = [f"💰 ATP sell report [{d.instance}] last 24 h ({d.mode})"]
    if not d.sells:
        lines.append("No sells in the last 24 h.")
        return "\n".join(lines)
    for s in d.sells:
        lines.append(f"• {s.symbol} {_num(s.quantity)} @ {_num(s.price)} "
                     f"P&L {_money(s.realised_pnl)} ({s.by}, {_local(s.at, tz)})")
    lines.append(f"Total realised P&L: {_money(d.realised_pnl)} over {len(d.sells)} sells")
    return "\n".join(lines)


def sltp_reminder_text(d: ReportData) -> str | None:
    """The reminder, or None when every position is protected: nothing is sent then (a
    daily "all fine" message would teach the trader to ignore the reminder)."""
    naked = d.unprotected
    if not naked:
        return None
    lines = [f"⚠️ ATP SL/TP reminder [{d.instance}]: {len(naked)} position(s) without "
             f"protection ({d.mode})"]
    for p in naked:
        lines.append(f"• {p.symbol} {_num(p.quantity)} @ {_num(p.avg_entry)} "
                     f"mark {_num(p.mark_price)} P&L {_money(p.unrealised_pnl)}")
    lines.append("Place an SL/TP pair or close them.")
    return "\n".join(lines)
