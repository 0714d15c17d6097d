"""Signed calls, and the four ways they fail, told apart (runbook step h)."""

from __future__ import annotations

import logging
import socket

import pytest

from atp.exchange import AuthError, ProxyError
from atp.exchange.diagnose import diagnose

from .conftest import KEY, SECRET


async def test_signed_private_call_succeeds(harness, emulator):
    client = harness.client()
    balances = await client.fetch_balance()
    assert balances["USDT"]["total"] == 100000.0
    assert emulator.counts["private/user-balance"] == 1
    assert client.last_private_ok is not None
    assert harness.failures == []


async def test_wrong_secret_is_40101_wrong_key_or_signature(harness, caplog):
    caplog.set_level(logging.INFO, logger="atp.exchange")
    client = harness.client(harness.settings(exchange_api_secret="not-the-secret"))
    with pytest.raises(AuthError) as info:
        await client.fetch_balance()
    assert info.value.code == 40101 and info.value.kind == "wrong_key_or_signature"
    assert "API management" in info.value.fix
    assert [f.code for f in harness.failures] == [40101]  # auth is never retried
    lines = [r.getMessage() for r in caplog.records if "[CRYPTO_AUTH_DIAG]" in r.getMessage()]
    assert len(lines) == 1 and "diagnosis=wrong key or signature" in lines[0]

    result = await diagnose(harness.settings(exchange_api_secret="not-the-secret"))
    check = result.check("private_api")
    assert check.verdict == "critical" and "wrong key or signature" in check.summary
    assert result.check("public_api").verdict == "ok"


async def test_skewed_clock_is_40102_clock(harness, emulator):
    emulator.set_fault("clock-skew:120")
    client = harness.client()
    with pytest.raises(AuthError) as info:
        await client.fetch_balance()
    assert info.value.code == 40102 and info.value.diagnosis == "clock"
    assert "NTP" in info.value.fix

    result = await diagnose(harness.settings())
    assert "clock" in result.check("private_api").summary
    clock_check = result.check("clock")
    assert clock_check.verdict == "critical"
    assert 115 <= clock_check.details["offset_seconds"] <= 125


async def test_address_off_the_allowlist_is_40103_ip_allowlist(harness, emulator):
    emulator.add_key(KEY, SECRET, allowlist=["127.0.0.2"])
    with pytest.raises(AuthError) as info:
        await harness.client().fetch_balance()
    assert info.value.code == 40103 and info.value.diagnosis == "IP allowlist"
    result = await diagnose(harness.settings())
    assert "IP allowlist" in result.check("private_api").summary

    emulator.add_key(KEY, SECRET, allowlist=["127.0.0.1"])
    await harness.client().fetch_balance()


async def test_bad_credentials_fault_switch(harness, emulator):
    emulator.set_fault("exchange-auth")
    with pytest.raises(AuthError):
        await harness.client().fetch_balance()
    emulator.clear_faults()
    await harness.client().fetch_balance()


async def test_through_the_proxy_with_good_credentials(harness, proxy, emulator):
    client = harness.client(harness.settings(exchange_proxy_url=proxy.url))
    assert (await client.fetch_balance())["BTC"]["total"] == 1.0
    assert client.proxy_in_use
    result = await diagnose(harness.settings(exchange_proxy_url=proxy.url))
    assert result.status == "ok", result.as_dict()


async def test_wrong_proxy_credentials_are_diagnosed_as_proxy(harness, proxy, caplog):
    caplog.set_level(logging.INFO, logger="atp.exchange")
    settings = harness.settings(exchange_proxy_url=proxy.url_with("atp", "wrong-pw"))
    with pytest.raises(ProxyError) as info:
        await harness.client(settings).fetch_tickers()
    assert info.value.kind == "proxy_auth"
    assert "EXCHANGE_PROXY_URL" in info.value.fix
    assert any("[CRYPTO_AUTH_DIAG]" in r.getMessage() and "proxy authentication"
               in r.getMessage() for r in caplog.records)

    result = await diagnose(settings)
    assert result.check("proxy").verdict == "critical"
    assert "proxy authentication" in result.check("proxy").summary
    assert "proxy authentication" in result.check("public_api").summary


async def test_unreachable_proxy(harness):
    # Bound but never listening, and held for the whole test: connections to it are
    # refused, and no other process can take the port meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        settings = harness.settings(exchange_proxy_url=f"http://u:p@127.0.0.1:{port}")
        with pytest.raises(ProxyError) as info:
            await harness.client(settings, retries=0).fetch_tickers()
        assert info.value.kind == "proxy_unreachable"
        result = await diagnose(settings)
        assert result.check("proxy").verdict == "critical"
        assert "not reachable" in result.check("proxy").summary


async def test_diagnose_without_credentials(harness):
    result = await diagnose(harness.settings(exchange_api_key=None, exchange_api_secret=None))
    assert result.check("credentials").verdict == "critical"
    assert result.check("private_api").verdict == "skipped"
    assert result.check("public_api").verdict == "ok"
    assert result.check("clock").verdict == "ok"
