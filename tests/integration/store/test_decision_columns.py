"""The compact decision columns on both backends: decisions written through the repository
(insert and fold) read back equal through the ORM, the Core queries and the read API's
query module; the stored values are the compact forms; rows written before, JSON text
inserted with raw SQL, read back too (no data migration)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from atp.domain.signals import FLAG_NAMES
from atp.store import queries
from atp.store import repository as repo
from atp.store.models import DecisionRow
from atp.store.types import UtcDateTime, indicator_keys

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FLAGS = dict(zip(FLAG_NAMES, (False, False, False, True, True, False, None, False),
                 strict=True))
INDICATORS = {"price": 64_123.456789012345, "rsi": 43.21000000000001, "ma50": 0.1 + 0.2,
              "ma200": 1e-12, "ema10": -0.0, "atr": 123.456, "volume_ratio": 1 / 3,
              "ma10w": None, "price_age_seconds": 2.125}


def _row(symbol: str, flags: dict[str, Any], indicators: dict[str, Any],
         at: datetime = AT) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "cycle_id": None, "symbol": symbol,
            "preset": "swing-conservative", "decision": "WAIT", "buy_index": 40,
            "price": indicators.get("price"), "flags": flags, "indicators": indicators,
            "reasons": ["rsi 43.2 > 40"], "unknown_inputs": {}, "created_at": at,
            "seen_until": at, "repeats": 0}


def test_decisions_round_trip_through_the_repository(migrated_db) -> None:
    rows = [_row("BTC_USDT", FLAGS, INDICATORS),
            _row("ETH_USDT", dict.fromkeys(FLAG_NAMES), dict.fromkeys(indicator_keys())),
            _row("SOL_USDT", {"buy_rsi_ok": True}, {"price": 1.5})]  # not canonical: JSON
    with migrated_db.session_factory.begin() as s:
        repo.add_symbols(s, [r["symbol"] for r in rows], "swing-conservative")
        repo.insert_decisions(s, rows)
    with migrated_db.session_factory() as s:
        stored = {r.symbol: r for r in s.scalars(select(DecisionRow))}
        latest = queries.latest_decisions(s)
        runs = repo.newest_runs(s, [r["symbol"] for r in rows])
    for r in rows:
        assert (stored[r["symbol"]].flags, stored[r["symbol"]].indicators) == \
            (r["flags"], r["indicators"])
        assert (latest[r["symbol"]]["flags"], latest[r["symbol"]]["indicators"]) == \
            (r["flags"], r["indicators"])
        assert runs[r["symbol"]].flags == r["flags"]
    assert repr(stored["BTC_USDT"].indicators["ema10"]) == "-0.0"
    with migrated_db.engine.connect() as conn:
        raw = dict(conn.execute(text("SELECT symbol, CAST(flags AS TEXT) || ' ' || "
                                     "CAST(indicators AS TEXT) FROM decisions")).all())
    assert raw["BTC_USDT"].startswith(f'"FFFTTF-F" [{INDICATORS["price"]!r},')
    assert raw["ETH_USDT"] == '"--------" [' + ",".join(["null"] * 9) + "]"
    assert json.loads(raw["SOL_USDT"].split(" ", 1)[0]) == {"buy_rsi_ok": True}


def test_a_folded_decision_stores_its_new_values_compactly(migrated_db) -> None:
    first = _row("BTC_USDT", FLAGS, INDICATORS)
    later = {**INDICATORS, "price": 64_200.5, "rsi": 44.75, "price_age_seconds": None}
    turned = {**FLAGS, "buy_rsi_ok": True}
    with migrated_db.session_factory.begin() as s:
        repo.add_symbols(s, ["BTC_USDT"], "swing-conservative")
        repo.insert_decisions(s, [first])
    with migrated_db.session_factory.begin() as s:
        repo.extend_decisions(s, [{**first, "seen_until": AT + timedelta(seconds=30),
                                   "price": later["price"], "indicators": later,
                                   "flags": turned, "flag_changes": [[0, "FFFTTF-F"]]}])
    with migrated_db.session_factory() as s:
        row = s.get(DecisionRow, first["id"])
        assert row is not None
        assert (row.flags, row.indicators, row.repeats) == (turned, later, 1)
    with migrated_db.engine.connect() as conn:
        raw = conn.execute(text("SELECT CAST(flags AS TEXT), CAST(indicators AS TEXT) "
                                "FROM decisions")).one()
    assert raw[0] == '"TFFTTF-F"' and raw[1].startswith("[64200.5,44.75,")


def test_rows_written_before_as_json_objects_read_back(migrated_db) -> None:
    """What every row held before the compact encoding, inserted as raw JSON text (the
    padded form of the default serializer too): read back unchanged, no migration."""
    stamp = UtcDateTime().process_bind_param(AT, migrated_db.engine.dialect)
    with migrated_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO watchlist (symbol, exchange, preset) "
                          "VALUES ('BTC_USDT', 'gate', 'swing-conservative')"))
        for i, (flags, indicators) in enumerate([(json.dumps(FLAGS), json.dumps(INDICATORS)),
                                                 ("{}", '{"price":1.5}')]):
            conn.execute(text("INSERT INTO decisions (id, symbol, preset, decision, buy_index, "
                              "flags, indicators, reasons, created_at, seen_until) VALUES "
                              "(:id, 'BTC_USDT', 'swing-conservative', 'WAIT', 40, :f, :i, "
                              "'[]', :at, :at)"),
                         {"id": f"old-{i}", "f": flags, "i": indicators,
                          "at": stamp + timedelta(seconds=i)})
    with migrated_db.session_factory() as s:
        old = {r.id: (r.flags, r.indicators) for r in s.scalars(select(DecisionRow))}
        latest = queries.latest_decisions(s)["BTC_USDT"]
        run = repo.newest_runs(s, ["BTC_USDT"])["BTC_USDT"]
    assert old == {"old-0": (FLAGS, INDICATORS), "old-1": ({}, {"price": 1.5})}
    assert (latest["id"], latest["flags"], run.flags) == ("old-1", {}, {})
