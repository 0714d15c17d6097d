"""The fold rule of compact WAIT storage (domain/compaction.py): only the same WAIT, on
the same preset, with the same flags and the same inputs unknown, inside the heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain.compaction import DEFAULT_HEARTBEAT, StoredRun, folds_into

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
FLAGS = {"buy_rsi_ok": False, "buy_ma_ok": True, "sell_rsi_ok": None}
RUN = StoredRun(id="r1", decision="WAIT", preset="swing-aggressive", flags=FLAGS,
                unknown=frozenset({"ma10w"}), created_at=T0)


def _folds(previous: StoredRun | None = RUN, **changes: object) -> bool:
    args: dict[str, object] = {"decision": "WAIT", "preset": "swing-aggressive",
                               "flags": dict(FLAGS),
                               "unknown": {"ma10w": "no daily candle closed (47 s)"},
                               "now": T0 + timedelta(seconds=30),
                               "heartbeat": DEFAULT_HEARTBEAT}
    args.update(changes)
    return folds_into(previous, **args)  # type: ignore[arg-type]


def test_the_same_wait_folds_whatever_the_unknown_inputs_causes_say() -> None:
    assert _folds()
    assert _folds(unknown={"ma10w": "another measured age"})
    assert _folds(now=T0 + DEFAULT_HEARTBEAT - timedelta(seconds=1))
    assert _folds(max_gap=timedelta(seconds=60))
    extended = StoredRun(**{**_fields(RUN), "seen_until": T0 + timedelta(minutes=50)})
    assert _folds(extended, now=T0 + timedelta(minutes=51), max_gap=timedelta(seconds=60))
    assert not _folds(extended, now=T0 + timedelta(minutes=52), max_gap=timedelta(seconds=60))


@pytest.mark.parametrize("changes", [
    {"decision": "BUY"}, {"decision": "SELL"},
    {"preset": "scalp-aggressive"},
    {"flags": {**FLAGS, "buy_rsi_ok": True}},
    {"flags": {**FLAGS, "sell_rsi_ok": False}},  # unknown -> known is a change too
    {"unknown": {}}, {"unknown": {"ma10w": "x", "price": "stale"}},
    {"now": T0 + DEFAULT_HEARTBEAT},  # the hourly heartbeat starts a row
    {"now": T0 - timedelta(seconds=1)},  # a clock stepped back never rewrites the past
    {"heartbeat": None}, {"heartbeat": timedelta(0)},
    {"max_gap": timedelta(seconds=29)},  # a missed cycle: the gap shows between rows
], ids=lambda c: next(iter(c)))
def test_anything_else_starts_a_row(changes: dict[str, object]) -> None:
    assert not _folds(**changes)


def test_no_previous_row_and_non_wait_rows_never_fold() -> None:
    assert not _folds(None)
    for decision in ("BUY", "SELL"):
        assert not _folds(StoredRun(**{**_fields(RUN), "decision": decision}))
    # a BUY/SELL covered by a BLOCKED run is never a WAIT, but a row with a ref stays put
    assert not _folds(StoredRun(**{**_fields(RUN), "alert_ref": "d0"}))


def _fields(run: StoredRun) -> dict[str, object]:
    return {name: getattr(run, name) for name in StoredRun.__slots__}
