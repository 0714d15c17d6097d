"""A canary secret (API key = secret = proxy password) never shows in logs, events or errors.

Every failure path of the adapter runs with DEBUG logging on every logger (ccxt logs request
bodies at DEBUG); all log records, typed events, exception texts and diagnose answers are
searched for the canary.
"""

from __future__ import annotations

import json
import logging

import pytest

from atp.exchange import ExchangeFailure, MarketDataService
from atp.exchange.diagnose import diagnose, render_text

CANARY = "CANARY-5f1e9c2a-never-log-me"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.__dict__))


@pytest.fixture
def all_logs():
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_info)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


async def test_canary_secret_never_leaks(harness, emulator, proxy, clock, all_logs):
    emulator.add_key(CANARY, CANARY)
    texts: list[str] = []
    base = {"exchange_api_key": CANARY, "exchange_api_secret": CANARY}

    async def attempt(coro_factory):
        try:
            await coro_factory()
        except ExchangeFailure as exc:
            texts.extend([str(exc), repr(exc), exc.message, json.dumps(exc.as_event())])

    ok = harness.client(harness.settings(**base))
    await attempt(ok.fetch_balance)
    await attempt(lambda: ok.create_order("BTC_USDT", "sell", "market", 0.01))
    await attempt(lambda: ok.create_order("BTC_USDT", "sell", "market", 99.0))
    wrong = harness.client(harness.settings(exchange_api_key=CANARY,
                                            exchange_api_secret=CANARY + "x"))
    await attempt(wrong.fetch_balance)
    for fault in ("clock-skew:300", "ip-not-allowlisted", "rate-limit", "unavailable",
                  "malformed:BTC_USDT"):
        emulator.clear_faults()
        emulator.set_fault(fault)
        await attempt(ok.fetch_balance)
        snap = await MarketDataService(ok, clock=clock.now).refresh(["BTC_USDT", "ETH_USDT"])
        texts.extend(str(d) for d in snap.symbols.values())
    emulator.clear_faults()
    bad_proxy = harness.settings(exchange_proxy_url=proxy.url_with(CANARY, CANARY), **base)
    await attempt(harness.client(bad_proxy).fetch_balance)
    good_proxy = harness.settings(exchange_proxy_url=f"http://atp:{CANARY}@127.0.0.1:{proxy.port}",
                                  **base)
    await attempt(harness.client(good_proxy).fetch_tickers)
    for settings in (bad_proxy, harness.settings(**base)):
        result = await diagnose(settings)
        texts.extend([json.dumps(result.as_dict()), render_text(result)])
    texts.extend(json.dumps(f.as_event()) for f in harness.failures)
    texts.extend(str(f) for f in harness.failures)

    assert len(harness.failures) >= 8
    assert any("40101" in t for t in texts) and any("proxy" in t for t in texts)
    assert any("private/user-balance" in line for line in all_logs.lines)  # ccxt DEBUG ran
    leaks = [t for t in texts + all_logs.lines if CANARY in t]
    assert leaks == []
