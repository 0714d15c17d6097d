"""The fold rule of compact WAIT storage (domain/compaction.py): a WAIT after a WAIT, on
the same preset, with the same inputs unknown, inside the heartbeat and without a gap; a
turn of its flags goes to the row's flag timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atp.domain.compaction import (
    DEFAULT_HEARTBEAT,
    MAX_FLAG_CHANGES,
    StoredRun,
    expand_flag_changes,
    flag_changes_after,
    folds_into,
)
from atp.domain.flagcode import decode_flags, encode_flags
from atp.domain.signals import FLAG_NAMES

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
FLAGS = {"buy_rsi_ok": False, "buy_ma_ok": True, "sell_rsi_ok": None}  # not the eight: no code
EIGHT: dict[str, bool | None] = {**dict.fromkeys(FLAG_NAMES, True), "buy_rsi_ok": False,
                                 "sell_trend_ok": None}
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
    # flags without a code (not the eight) that turned: nothing to put in a timeline
    {"flags": {**FLAGS, "buy_rsi_ok": True}},
    {"flags": {**FLAGS, "sell_rsi_ok": False}},
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


def test_a_turn_of_the_eight_flags_folds_and_goes_to_the_timeline() -> None:
    run = StoredRun(**{**_fields(RUN), "flags": EIGHT})
    turned = {**EIGHT, "buy_rsi_ok": True, "sell_trend_ok": False}
    assert _folds(run, flags=turned)
    at = T0 + timedelta(seconds=30.0004)
    changes = flag_changes_after(run, turned, at)
    assert changes == [[0, "FTTTTT-T"], [30, "TTTTTTFT"]]
    assert flag_changes_after(run, dict(EIGHT), at) is None  # never turned: no timeline
    later = StoredRun(**{**_fields(run), "flags": turned, "flag_changes": changes})
    assert flag_changes_after(later, turned, at) == changes  # unchanged again: kept
    back = flag_changes_after(later, EIGHT, T0 + timedelta(minutes=2))
    assert back == [*changes, [120, "FTTTTT-T"]]
    assert expand_flag_changes(T0, back) == [
        {"at": T0, "flags": EIGHT}, {"at": T0 + timedelta(seconds=30), "flags": turned},
        {"at": T0 + timedelta(minutes=2), "flags": EIGHT}]
    assert expand_flag_changes(T0, None) == []


def test_a_full_timeline_starts_a_row() -> None:
    turned = {**EIGHT, "buy_rsi_ok": True}
    room = [[float(i), encode_flags(EIGHT)] for i in range(MAX_FLAG_CHANGES - 2)]
    assert _folds(StoredRun(**{**_fields(RUN), "flags": EIGHT, "flag_changes": room}),
                  flags=turned)
    full = [*room, [999.0, encode_flags(EIGHT)]]
    assert not _folds(StoredRun(**{**_fields(RUN), "flags": EIGHT, "flag_changes": full}),
                      flags=turned)
    # the same flags still fold into a full timeline: it does not grow
    assert _folds(StoredRun(**{**_fields(RUN), "flags": EIGHT, "flag_changes": full}),
                  flags=dict(EIGHT))


@pytest.mark.parametrize("bad", [{}, {**EIGHT, "extra": True}, {**EIGHT, "buy_ma_ok": 1}])
def test_only_the_eight_three_valued_flags_have_a_code(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not the eight"):
        encode_flags(bad)  # type: ignore[arg-type]
    for code in ("", "TTTTTTTTT", "TTTTTTTX"):
        with pytest.raises(ValueError, match="not a flag code"):
            decode_flags(code)
    assert decode_flags(encode_flags(EIGHT)) == EIGHT


@pytest.mark.parametrize("outcome", ["THROTTLED", "BLOCKED"])
def test_a_buy_or_sell_folds_only_when_it_repeats_its_rows_outcome(outcome: str) -> None:
    buy = StoredRun(**{**_fields(RUN), "decision": "BUY", "outcome": outcome})
    assert _folds(buy, decision="BUY", repeats_outcome=True)
    assert not _folds(buy, decision="BUY")  # the pipeline did not say it repeats
    assert not _folds(buy, decision="SELL", repeats_outcome=True)  # the other side
    assert not _folds(buy, repeats_outcome=True)  # a WAIT after a BUY starts a row
    assert not _folds(buy, decision="BUY", repeats_outcome=True,
                      now=T0 + DEFAULT_HEARTBEAT)  # the heartbeat holds for them too


@pytest.mark.parametrize("outcome", ["SENT", "PENDING", "FAILED", "ABANDONED", None])
def test_a_row_whose_alert_went_or_has_no_outcome_is_never_extended(
        outcome: str | None) -> None:
    buy = StoredRun(**{**_fields(RUN), "decision": "BUY", "outcome": outcome})
    assert not _folds(buy, decision="BUY", repeats_outcome=True)
