"""When a scheduled report is due: once per local date, across DST changes (domain)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atp.config import SettingsError, load_settings
from atp.domain.reports import (
    CATCH_UP,
    PositionLine,
    Report,
    ReportData,
    SellLine,
    daily_summary_text,
    due_at,
    due_dates,
    due_now,
    latest_due,
    parse_local_time,
    sell_report_text,
    sltp_reminder_text,
    window,
)

BERLIN = ZoneInfo("Europe/Berlin")
SPRING = date(2026, 3, 29)  # last Sunday of March: 02:00 CET -> 03:00 CEST
AUTUMN = date(2026, 10, 25)  # last Sunday of October: 03:00 CEST -> 02:00 CET


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_an_ordinary_day_is_due_at_its_local_time() -> None:
    assert due_at(date(2026, 1, 15), time(8, 0), BERLIN) == utc(2026, 1, 15, 7, 0)
    assert due_at(date(2026, 7, 15), time(8, 0), BERLIN) == utc(2026, 7, 15, 6, 0)
    assert due_at(date(2026, 7, 15), time(8, 0), ZoneInfo("UTC")) == utc(2026, 7, 15, 8, 0)


def test_a_time_in_the_spring_gap_fires_once_at_the_jump() -> None:
    # 02:30 never shows on the clock that day: due at 03:00 CEST (01:00 UTC), once
    assert due_at(SPRING, time(2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    days = due_dates(utc(2026, 3, 27, 12), utc(2026, 3, 31, 12), time(2, 30), BERLIN)
    assert days == [date(2026, 3, 28), SPRING, date(2026, 3, 30), date(2026, 3, 31)]


def test_the_repeated_autumn_hour_fires_once_at_its_first_occurrence() -> None:
    # 02:30 shows twice (CEST then CET): due at the first, 00:30 UTC
    assert due_at(AUTUMN, time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    fired = due_dates(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3), time(2, 30), BERLIN)
    assert fired == [AUTUMN]


def test_08_00_across_both_changes_moves_by_one_hour_in_utc() -> None:
    at = time(8, 0)
    assert due_at(SPRING - timedelta(days=1), at, BERLIN) == utc(2026, 3, 28, 7)
    assert due_at(SPRING, at, BERLIN) == utc(2026, 3, 29, 6)
    assert due_at(AUTUMN - timedelta(days=1), at, BERLIN) == utc(2026, 10, 24, 6)
    assert due_at(AUTUMN, at, BERLIN) == utc(2026, 10, 25, 7)
    # the day a daily summary covers is 23 h in spring, 25 h in autumn
    since, until = window(SPRING, at, BERLIN)
    assert until - since == timedelta(hours=23)
    since, until = window(AUTUMN, at, BERLIN)
    assert until - since == timedelta(hours=25)


def test_latest_due_flips_exactly_at_the_due_instant() -> None:
    at = time(8, 0)
    before = utc(2026, 1, 15, 7, 59, 59)
    assert latest_due(before, at, ZoneInfo("UTC"))[0] == date(2026, 1, 14)
    assert latest_due(utc(2026, 1, 15, 8), at, ZoneInfo("UTC"))[0] == date(2026, 1, 15)


def test_a_report_due_longer_ago_than_the_catch_up_is_late() -> None:
    at, tz = time(8, 0), ZoneInfo("UTC")
    assert not due_now(utc(2026, 1, 15, 8) + CATCH_UP, at, tz).late
    assert due_now(utc(2026, 1, 15, 8) + CATCH_UP + timedelta(seconds=1), at, tz).late


ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney",
                         "Asia/Kolkata", "America/Santiago", "UTC", "Pacific/Chatham"])


@settings(max_examples=150, deadline=None)
@given(zone=ZONES, hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 59]),
       start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1)),
       days=st.integers(1, 60))
def test_every_local_date_fires_exactly_once(zone: str, hour: int, minute: int,
                                             start: datetime, days: int) -> None:
    """Over any span, the due dates are consecutive local dates, one each, in order, each
    due at the first instant its local clock shows the time or later."""
    tz, at = ZoneInfo(zone), time(hour, minute)
    since = start.replace(tzinfo=UTC)
    until = since + timedelta(days=days)
    fired = due_dates(since, until, at, tz)
    assert len(fired) in (days - 1, days, days + 1)
    assert all(b - a == timedelta(days=1) for a, b in pairwise(fired))
    # splitting the span anywhere fires the same dates (no double, no gap at the seam)
    cut = since + (until - since) / 3
    assert due_dates(since, cut, at, tz) + due_dates(cut, until, at, tz) == fired
    for day in fired:
        instant = due_at(day, at, tz)
        wall = datetime.combine(day, at)
        assert instant.astimezone(tz).replace(tzinfo=None) >= wall
        before = (instant - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
        assert before < wall


def test_settings_validate_the_zone_and_the_times() -> None:
    s = load_settings(_env_file=None, timezone="Europe/Berlin", daily_summary_at="7:05",
                      sell_report_at="OFF")
    assert s.zone == BERLIN
    assert s.report_times[Report.DAILY_SUMMARY] == time(7, 5)
    assert s.daily_summary_at == "07:05" and s.sell_report_at == "off"
    assert s.report_times[Report.SELL_REPORT] is None
    assert load_settings(_env_file=None).timezone == "UTC"
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None, timezone="Europe/Atlantis", sltp_reminder_at="24:00")
    text = str(err.value)
    assert "TIMEZONE: 'Europe/Atlantis' is not an IANA time zone name" in text
    assert "fix: set TIMEZONE to an IANA zone name" in text
    assert "SLTP_REMINDER_AT: '24:00' is not a local time HH:MM" in text
    with pytest.raises(ValueError):
        parse_local_time("8am")


def _data(**kw: object) -> ReportData:
    values: dict[str, object] = dict(instance="t", mode="paper", since=utc(2026, 1, 14, 8),
                                     until=utc(2026, 1, 15, 8))
    values.update(kw)
    return ReportData(**values)  # type: ignore[arg-type]


def test_texts_carry_the_figures() -> None:
    pos = [PositionLine("ETH_USDT", 0.5, 2000.0, 2100.0, 50.0, True, 1900.0, 2200.0),
           PositionLine("BTC_USDT", 0.01, 50000.0, 49000.0, -10.0, False)]
    sells = [SellLine("SOL_USDT", 2.0, 110.0, 19.5, utc(2026, 1, 15, 3), "take_profit")]
    d = _data(balances={"USDT": 9000.0}, positions=pos, sells=sells,
              decisions={"BUY": 3, "SELL": 1, "WAIT": 40}, alerts={"sent": 4},
              orders={"filled": 2})
    text = daily_summary_text(d, date(2026, 1, 15), ZoneInfo("UTC"))
    assert text.startswith("📊 ATP daily summary [t] 2026-01-15")
    for part in ("USDT 9,000", "realised +19.50", "unrealised +40.00", "BUY 3", "sent 4",
                 "filled 2"):
        assert part in text
    assert "ALERT_EMIT_FINAL" not in text
    sold = sell_report_text(d, ZoneInfo("UTC"))
    assert "SOL_USDT 2 @ 110 P&L +19.50 (take_profit" in sold
    reminder = sltp_reminder_text(d)
    assert reminder is not None and "BTC_USDT" in reminder and "ETH_USDT" not in reminder
    assert sltp_reminder_text(_data(positions=pos[:1])) is None  # all protected: nothing
    assert "No sells" in sell_report_text(_data(), ZoneInfo("UTC"))
