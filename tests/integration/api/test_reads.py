"""Every read endpoint against a platform that has run a cycle, on SQLite and PostgreSQL:
shapes, filters, and that the numbers are the engine's own (failure mode 3)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from atp.engine.service import POLLER_LEASE
from atp.store.models import LeaseRow
from tests.integration.api.conftest import AUTH, SYMBOLS, Api, field_named
from tests.integration.engine.conftest import CHAT


async def test_health_is_ok_after_a_cycle_and_degraded_when_stale(api: Api) -> None:
    body = (await api.client.get("/api/health")).json()
    assert body["status"] == "ok"
    assert body["signal_monitor_ticks"] == 1
    api.clock.advance(120)
    body = (await api.client.get("/api/health")).json()
    assert body["status"] == "degraded"
    assert "last monitor cycle" in body["reason"]


async def test_summary_has_every_product_field(api: Api) -> None:
    body = (await api.client.get("/api/monitoring/summary")).json()
    for key in ("scheduler_ticks", "signal_monitor_ticks", "last_update_seconds_ago",
                "last_cycle_duration_ms", "last_cycle_symbols", "decision_counts",
                "alert_outcome_counts"):
        assert key in body, key
    assert body["decision_counts"] == {"BUY": 1, "SELL": 1, "WAIT": 1}
    assert body["alert_outcome_counts"] == {"sent": 2, "throttled": 0, "blocked": 0,
                                            "failed": 0, "pending": 0, "abandoned": 0}
    assert body["last_cycle_symbols"] == 3


async def test_cycles_newest_first_with_since(api: Api) -> None:
    await api.cycle()
    rows = (await api.client.get("/api/monitoring/cycles")).json()
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert len(rows) == 2
    assert set(rows[0]) >= {"id", "started_at", "finished_at", "duration_ms", "symbols",
                            "processed", "skipped", "lag_ms"}
    assert rows[0]["processed"] == 3
    since = rows[0]["started_at"]
    assert len((await api.client.get("/api/monitoring/cycles",
                                      params={"since": since})).json()) == 1
    assert len((await api.client.get("/api/monitoring/cycles", params={"limit": 1})).json()) == 1


async def test_decisions_filtered_by_kind_and_symbol(api: Api) -> None:
    rows = (await api.client.get("/api/decisions", params={"decision": "BUY,SELL"})).json()
    assert sorted((r["symbol"], r["decision"]) for r in rows) == [
        ("AAA_USDT", "BUY"), ("BBB_USDT", "SELL")]
    row = rows[0]
    assert set(row) == {"id", "cycle_id", "symbol", "preset", "decision", "buy_index",
                        "price", "flags", "indicators", "reasons", "unknown_inputs",
                        "alert_ref", "created_at", "seen_until", "repeats", "flag_changes"}
    assert row["unknown_inputs"] == {}
    only = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert [r["decision"] for r in only] == ["WAIT"]
    bad = await api.client.get("/api/decisions", params={"decision": "HOLD"})
    assert bad.status_code == 422 and field_named(bad.json(), "decision")


async def test_outcomes_carry_the_message_text_and_id(api: Api) -> None:
    rows = (await api.client.get("/api/alerts/outcomes", params={"outcome": "SENT"})).json()
    assert {r["symbol"] for r in rows} == {"AAA_USDT", "BBB_USDT"}
    sent = {m.message_id for m in api.tg.received(CHAT)}
    for r in rows:
        assert r["message_id"] in sent
        assert r["decision_id"] in r["message"]
        assert r["delivery_status"] == "sent"
    none = (await api.client.get("/api/alerts/outcomes", params={"outcome": "FAILED"})).json()
    assert none == []
    bad = await api.client.get("/api/alerts/outcomes", params={"outcome": "LOST"})
    assert bad.status_code == 422 and field_named(bad.json(), "outcome")


async def test_events_paged_and_filtered(api: Api) -> None:
    decision = (await api.client.get("/api/decisions",
                                     params={"symbol": "AAA_USDT"})).json()[0]
    rows = (await api.client.get("/api/events",
                                 params={"decision_id": decision["id"]})).json()
    assert {r["type"] for r in rows} == {"alert_pending", "alert_sent"}
    assert all(r["decision_id"] == decision["id"] for r in rows)
    first = (await api.client.get("/api/events", params={"limit": 2})).json()
    second = (await api.client.get("/api/events", params={"limit": 2, "offset": 2})).json()
    assert len(first) == 2 and len(second) == 2
    assert not {r["id"] for r in first} & {r["id"] for r in second}
    typed = (await api.client.get("/api/events", params={"type": "monitor_cycle"})).json()
    assert [r["type"] for r in typed] == ["monitor_cycle"]
    assert set(typed[0]) == {"id", "at", "type", "severity", "symbol", "decision_id",
                             "instance", "message", "payload"}


async def test_throttle_state_after_sends(api: Api) -> None:
    rows = (await api.client.get("/api/throttle")).json()
    assert {(r["symbol"], r["side"]) for r in rows} == {("AAA_USDT", "BUY"), ("BBB_USDT", "SELL")}


async def test_top_coins_is_what_the_engine_returned(api: Api) -> None:
    rows = (await api.client.get("/api/market/top-coins-data")).json()
    assert [r["symbol"] for r in rows] == sorted(SYMBOLS)
    by = {r["symbol"]: r for r in rows}
    stored = (await api.client.get("/api/decisions", params={"limit": 1000})).json()
    newest: dict[str, dict[str, object]] = {}
    for d in stored:  # newest first
        newest.setdefault(str(d["symbol"]), d)
    assert set(newest) == set(SYMBOLS)
    for symbol, d in newest.items():
        row = by[symbol]
        assert row["decision_id"] == d["id"]
        for key in ("decision", "flags", "buy_index", "indicators", "price", "reasons"):
            assert row[key] == d[key], key
    assert by["AAA_USDT"]["decision_age_seconds"] == 30.0  # the fixture's clock moved 30 s


async def test_candles_with_overlays_aligned(api: Api) -> None:
    body = (await api.client.get("/api/market/candles/AAA_USDT", params={"limit": 40})).json()
    assert body["decision"] == "BUY"
    assert len(body["candles"]) == 40
    assert set(body["overlays"]) == {"ma50", "ma200", "ema10"}
    assert all(len(v) == 40 for v in body["overlays"].values())
    assert body["overlays"]["ema10"][-1] is not None
    assert (await api.client.get("/api/market/candles/ZZZ_USDT")).status_code == 404


async def test_telegram_state(api: Api) -> None:
    with api.platform.db.sessions.begin() as session:
        now = api.clock.now()
        from datetime import timedelta

        session.add(LeaseRow(name=POLLER_LEASE, holder="other-host", acquired_at=now,
                             renewed_at=now, expires_at=now + timedelta(seconds=30)))
    body = (await api.client.get("/api/telegram/state")).json()
    assert body["token_configured"] and body["chat_configured"] and body["production"]
    assert body["lease_holder"] == "other-host"
    assert body["sent"] == 2 and body["failed"] == 0
    assert body["conflicts"] == {"count": 0, "last_at": None, "last_description": None}
    assert body["outbox_pending"] == 0 and body["oldest_pending_age_seconds"] is None
    assert body["last_send_at"] is not None


async def test_exchange_state_without_a_client(api: Api) -> None:
    body = (await api.client.get("/api/exchange/state")).json()
    assert body == {"credentials_configured": False, "proxy_in_use": False,
                    "last_private_ok_at": None, "last_failure": None}


async def test_exchange_state_reports_the_diagnosed_failure(api: Api) -> None:
    from atp.exchange.errors import AuthError

    class Client:
        has_credentials, proxy_in_use = True, False
        last_private_ok = 1_767_225_600.0
        last_failure = AuthError("refused", kind=next(iter(AuthError._KINDS)), code=40101)

    api.platform.exchange_client = Client()
    try:
        api.platform.on_exchange_failure(Client.last_failure)
        await asyncio.gather(*api.platform._event_tasks)
        body = (await api.client.get("/api/exchange/state")).json()
    finally:
        api.platform.exchange_client = None
    assert body["credentials_configured"] is True
    assert body["last_private_ok_at"].startswith("2026-01-01T00:00:00")
    failure = body["last_failure"]
    assert failure["category"] == "auth" and failure["fix"] and failure["diagnosis"]
    assert failure["code"] == 40101
    assert failure["at"] is not None


async def test_audit_list_is_empty_without_changes(api: Api) -> None:
    assert (await api.client.get("/api/audit")).json() == []


async def test_integrity_is_503_until_plugged_in(api: Api) -> None:
    response = await api.client.get("/api/monitoring/integrity")
    assert response.status_code == 503
    assert response.json() == {"detail": "integrity check not available"}

    async def report() -> dict[str, object]:
        return {"status": "ok", "checks": [], "counts": {}}

    api.app.state.integrity = report
    assert (await api.client.get("/api/monitoring/integrity")).json()["status"] == "ok"


async def test_bad_times_are_422_naming_the_field(api: Api) -> None:
    response = await api.client.get("/api/events", params={"since": "yesterday"})
    assert response.status_code == 422 and field_named(response.json(), "since")
    response = await api.client.get("/api/decisions",
                                    params={"until": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 422 and field_named(response.json(), "until")


async def test_dashboard_pages_render(api: Api) -> None:
    for path in ("/", "/messages", "/events", "/settings", "/integrity"):
        response = await api.client.get(path)
        assert response.status_code == 200, path
        assert "/static/app.js" in response.text
    js = await api.client.get("/static/app.js")
    assert js.status_code == 200 and "top-coins-data" in js.text


async def test_an_unchanged_wait_extends_its_row_and_a_change_starts_one(api: Api) -> None:
    """Compact storage (issue 14): CCC_USDT decides the same WAIT three more cycles: one
    row, seen at the last cycle, three repeats, the latest price; a BUY starts a row of its
    own and the WAIT after it another; the counts still count every decision."""
    first = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert [r["repeats"] for r in first] == [0]
    for price in (101.0, 102.0, 103.0):
        api.market.set("CCC_USDT", "flat", price)
        await api.cycle()
    rows = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["repeats"], row["price"]) == (first[0]["id"], 3, 103.0)
    assert row["seen_until"] > row["created_at"] == first[0]["created_at"]
    coins = (await api.client.get("/api/market/top-coins-data")).json()
    coin = next(c for c in coins["coins"] if c["symbol"] == "CCC_USDT") \
        if isinstance(coins, dict) else next(c for c in coins if c["symbol"] == "CCC_USDT")
    assert coin["decision_age_seconds"] < 31  # the last cycle's decision, not the first's
    # a window starting after the row began still sees the row (it covers until now)
    since = (await api.client.get("/api/monitoring/cycles", params={"limit": 1})).json()
    window = (await api.client.get("/api/decisions", params={
        "symbol": "CCC_USDT", "since": since[0]["started_at"]})).json()
    assert [r["id"] for r in window] == [row["id"]]

    api.market.set("CCC_USDT", "down")
    await api.cycle()
    api.market.set("CCC_USDT", "flat")
    await api.cycle()
    rows = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert [(r["decision"], r["repeats"]) for r in rows] == [
        ("WAIT", 0), ("BUY", 0), ("WAIT", 3)]
    summary = (await api.client.get("/api/monitoring/summary")).json()
    assert summary["decision_counts"]["WAIT"] >= 5  # every WAIT made, folded or not


async def test_a_missed_cycle_starts_a_new_row_so_the_gap_shows(api: Api) -> None:
    """A row is one continuous run: after more than two intervals without a decision
    (the process down, the monitor stalled), the same WAIT starts a new row."""
    await api.cycle()
    [run] = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert run["repeats"] == 1
    api.clock.advance(120)  # four intervals without a cycle
    await api.cycle()
    rows = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert [(r["decision"], r["repeats"]) for r in rows] == [("WAIT", 0), ("WAIT", 1)]
    newer, older = rows
    assert older["id"] == run["id"] and older["seen_until"] == run["seen_until"]
    gap = (datetime.fromisoformat(newer["created_at"])
           - datetime.fromisoformat(older["seen_until"])).total_seconds()
    assert gap > 120


async def test_a_wait_whose_flags_turn_extends_its_row_with_the_timeline(api: Api) -> None:
    """A flag that turns inside a WAIT run is a timeline entry, not a row (issue 14: on
    real candles 43 % of closes turn a flag): CCC_USDT gets a buy target under its price
    (buy_target_ok turns false) and loses it again; one row, three flag sets, each with
    the cycle that first decided it, and `flags` is the latest."""
    [before] = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert before["flag_changes"] == [] and before["flags"]["buy_target_ok"] is True
    turns = []
    for target in (50.0, None):
        patched = await api.client.patch("/api/watchlist/CCC_USDT", headers=AUTH,
                                          json={"buy_target": target})
        assert patched.status_code == 200, patched.text
        await api.cycle()
        [cycle] = (await api.client.get("/api/monitoring/cycles", params={"limit": 1})).json()
        turns.append(cycle["started_at"])
        await api.cycle()  # the same flags again: no entry
    rows = (await api.client.get("/api/decisions", params={"symbol": "CCC_USDT"})).json()
    assert [(r["id"], r["decision"], r["repeats"]) for r in rows] == [
        (before["id"], "WAIT", 4)]
    [row] = rows
    timeline = row["flag_changes"]
    assert [c["flags"]["buy_target_ok"] for c in timeline] == [True, False, True]
    assert timeline[0]["flags"] == before["flags"]
    assert timeline[0]["at"] == row["created_at"]
    for entry, started in zip(timeline[1:], turns, strict=True):
        assert abs((datetime.fromisoformat(entry["at"])
                    - datetime.fromisoformat(started)).total_seconds()) < 5
    assert row["flags"] == timeline[-1]["flags"]
    # the latest flags are what every channel shows
    coins = (await api.client.get("/api/market/top-coins-data")).json()
    coin = next(c for c in (coins["coins"] if isinstance(coins, dict) else coins)
                if c["symbol"] == "CCC_USDT")
    assert coin["flags"]["buy_target_ok"] is True


async def test_decision_runs_are_the_decisions_rows_without_their_explanation(api: Api
                                                                             ) -> None:
    """GET /api/decisions/runs (what `atp check` counts): the same rows as
    /api/decisions, in the same order and window, with only span, repeats and the
    unknown inputs; a bad `since` is a 422 naming it."""
    for _ in range(2):
        await api.cycle()
    [cycle] = (await api.client.get("/api/monitoring/cycles", params={"limit": 1})).json()
    for params in ({}, {"since": cycle["started_at"]}, {"limit": 2, "offset": 1}):
        full = (await api.client.get("/api/decisions", params=params)).json()
        runs = (await api.client.get("/api/decisions/runs", params=params)).json()
        keys = ("id", "symbol", "decision", "created_at", "seen_until", "repeats",
                "unknown_inputs")
        assert runs == [{k: d[k] for k in keys} for d in full], params
        assert runs  # never vacuous
    bad = await api.client.get("/api/decisions/runs", params={"since": "yesterday"})
    assert bad.status_code == 422 and field_named(bad.json(), "since")
