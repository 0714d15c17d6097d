"""The emulator's admin endpoints, and the `atp exchange diagnose` / `atp emulate` commands."""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
import pytest
from typer.testing import CliRunner

from atp.cli.main import app
from atp.emulators.cryptocom import CryptoComEmulator, parse_fault


async def test_admin_faults_and_scenarios_over_http(emulator):
    async with aiohttp.ClientSession(emulator.base_url) as http:
        async with http.post("/_emulator/faults", json={"faults": ["malformed:BTC_USDT"],
                                                        "rate_limit_next": 1}) as r:
            body = await r.json()
        assert body["malformed_symbol"] == "BTC_USDT" and body["rate_limit_next"] == 1
        async with http.get("/exchange/v1/public/get-tickers") as r:
            assert r.status == 429 and (await r.json())["code"] == 42901
        async with http.post("/_emulator/faults", json={"clear": True}) as r:
            assert (await r.json())["malformed_symbol"] is None
        async with http.post("/_emulator/scenario",
                             json={"symbol": "ETH_USDT", "kind": "rsi_low", "candles": 12}) as r:
            sc = await r.json()
        assert sc["kind"] == "rsi_low" and sc["end"] - sc["start"] == 12 * 3600
        bad = {"symbol": "NOPE", "kind": "rsi_low"}
        async with http.post("/_emulator/scenario", json=bad) as r:
            assert r.status == 400
        async with http.post("/_emulator/symbols", json={"count": 1000}) as r:
            assert (await r.json())["count"] == 1000
        async with http.post("/_emulator/clock", json={"advance": 60}) as r:
            assert r.status == 200
        async with http.get("/_emulator/state") as r:
            state = await r.json()
        assert state["symbols"] == 1000 and state["scenarios"][0]["symbol"] == "ETH_USDT"
        async with http.get("/exchange/v1/public/get-candlestick",
                            params={"instrument_name": "BTC_USDT", "timeframe": "1D",
                                    "count": "3"}) as r:
            data = (await r.json())["result"]["data"]
        assert len(data) == 3 and all(set(d) == {"o", "h", "l", "c", "v", "t"} for d in data)


def test_parse_fault_names():
    assert parse_fault("exchange-auth") == {"bad_credentials": True}
    assert parse_fault("clock-skew") == {"clock_skew_seconds": 120.0}
    assert parse_fault("malformed:X_USDT:ticker") == {"malformed_symbol": "X_USDT",
                                                      "malformed_part": "ticker"}
    assert parse_fault("stale-ticker:X_USDT") == {"stale_tickers": ["X_USDT"]}
    with pytest.raises(ValueError, match="stale-ticker needs a symbol"):
        parse_fault("stale-ticker")
    with pytest.raises(ValueError):
        parse_fault("nonsense")


def test_demo_accepts_stale_ticker_for_its_own_symbols_only():
    from atp.demo import unknown_faults

    assert unknown_faults(["stale-ticker:ETH_USDT", "alert-drop"]) == []
    assert unknown_faults(["stale-ticker:NOPE_USDT", "stale-ticker"]) == [
        "stale-ticker:NOPE_USDT", "stale-ticker"]


@pytest.fixture
def threaded_emulator():
    """An emulator on its own loop in a thread, for synchronous CLI tests."""
    loop = asyncio.new_event_loop()
    emu = CryptoComEmulator(symbols=5)
    emu.add_key("cli-key-1", "cli-secret-1")
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(emu.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield emu
    asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_diagnose_command_json(threaded_emulator, monkeypatch):
    monkeypatch.setenv("EXCHANGE_BASE_URL", threaded_emulator.base_url)
    monkeypatch.setenv("EXCHANGE_API_KEY", "cli-key-1")
    monkeypatch.setenv("EXCHANGE_API_SECRET", "wrong-secret")
    monkeypatch.delenv("EXCHANGE_PROXY_URL", raising=False)
    result = CliRunner().invoke(app, ["exchange", "diagnose", "--json"])
    assert result.exit_code == 2, result.output
    out = json.loads(result.output)
    checks = {c["id"]: c for c in out["checks"]}
    assert out["status"] == "critical"
    assert checks["public_api"]["verdict"] == "ok"
    assert "wrong key or signature" in checks["private_api"]["summary"]
    assert checks["private_api"]["fix"]
    assert "wrong-secret" not in result.output

    monkeypatch.setenv("EXCHANGE_API_SECRET", "cli-secret-1")
    result = CliRunner().invoke(app, ["exchange", "diagnose"])
    assert result.exit_code == 0, result.output
    assert "Exchange: ok" in result.output


def test_emulate_command_rejects_bad_fault():
    result = CliRunner().invoke(app, ["emulate", "exchange", "--fault", "nonsense"])
    assert result.exit_code == 2
    assert "unknown exchange fault" in result.output
    result = CliRunner().invoke(app, ["emulate", "exchange", "--symbols", "3",
                                      "--fault", "stale-ticker:NOPE_USDT"])
    assert result.exit_code == 2 and "NOPE_USDT" in result.output
