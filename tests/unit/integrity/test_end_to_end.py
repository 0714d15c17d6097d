"""end_to_end's verdicts from the API's answers: each stage where a probe can stop is
named with its fix; a refused probe says why (token, no chat, unknown symbol)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atp.integrity.checks import end_to_end
from atp.integrity.context import CheckContext, ProbeSpec
from atp.integrity.report import Status


class Api:
    """POST /api/probe answers `created`; each GET /api/probe/{id} the next of `polls`."""

    def __init__(self, created: tuple[int, Any], polls: list[dict[str, Any]],
                 token: bool = True, health: list[str] | None = None) -> None:
        self.created, self.polls, self.has_token = created, polls, token
        self.health = health or []
        self.posted: list[Any] = []

    async def get(self, path: str, **_: Any) -> Any:
        assert path == "/api/watchlist"
        return [{"symbol": "OFF_USDT", "enabled": False}, {"symbol": "ETH_USDT", "enabled": True}]

    async def request(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        if method == "POST":
            self.posted.append(json)
            return self.created
        if path == "/api/health":
            return 200, {"problems": self.health}
        if path == "/api/monitoring/summary":
            return 200, {"outbox_pending": 7}
        return 200, self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]


def probe(stage: str, **extra: Any) -> dict[str, Any]:
    return {"id": "0f0e0d0c-1111-2222-3333-444455556666", "stage": stage, "attempts": 0,
            **extra}


async def run(api: Api, timeout: float = 0.5) -> Any:
    ctx = CheckContext(api=api, now=datetime.now(UTC), window=timedelta(minutes=15),  # type: ignore[arg-type]
                       probe=ProbeSpec(None, timeout))
    return await end_to_end.run(ctx)


async def test_delivered_is_ok_with_the_latency_and_the_first_enabled_symbol() -> None:
    api = Api((201, probe("queued")), [probe("sent", message_id=42, latency_ms=180.0)])
    result = await run(api)
    assert result.status is Status.OK and "delivered in 0.18 s" in result.summary
    assert "message 42" in result.summary and api.posted == [{"symbol": "ETH_USDT"}]


async def test_failed_at_telegram_is_critical_naming_the_error() -> None:
    api = Api((201, probe("queued")), [probe("failed", error="chat not found", attempts=1)])
    result = await run(api)
    assert result.status is Status.CRITICAL
    assert result.summary.endswith("failed at Telegram: chat not found")
    assert "telegram check" in result.remediation


async def test_queued_with_retries_names_telegrams_error() -> None:
    api = Api((201, probe("queued")), [probe("queued", attempts=3, last_error="HTTP 502")])
    result = await run(api)
    assert result.status is Status.CRITICAL
    assert result.summary == ("queued in the outbox for 0 s, not sent: Telegram: HTTP 502 "
                              "(3 attempts)")


async def test_never_attempted_names_the_backlog_or_the_worker() -> None:
    busy = Api((201, probe("queued")), [probe("queued")],
               health=["Telegram unreachable: connection refused"])
    result = await run(busy)
    assert "behind 6 other pending messages; Telegram unreachable" in result.summary
    idle = await run(Api((201, probe("queued")), [probe("queued")]))
    assert "the outbox worker is not delivering" in idle.summary
    assert "sender lease" in idle.remediation


@pytest.mark.parametrize(("answer", "status", "words"), [
    ((401, {"detail": "invalid API token"}), Status.UNKNOWN, "API token"),
    ((409, {"detail": "TELEGRAM_CHAT_ID is not set"}), Status.CRITICAL, "TELEGRAM_CHAT_ID"),
    ((422, {"detail": [{"msg": "ETH_USDT is not on the watchlist"}]}), Status.UNKNOWN,
     "--probe-symbol"),
    ((404, {"detail": "Not Found"}), Status.UNKNOWN, "upgrade"),
    ((503, {"detail": "database unavailable"}), Status.CRITICAL, "backend_health"),
])
async def test_refusals_say_why(answer: tuple[int, Any], status: Status, words: str) -> None:
    result = await run(Api(answer, [probe("queued")]))
    assert result.status is status and words in (result.remediation or ""), result


async def test_no_token_is_unknown_with_the_hint() -> None:
    result = await run(Api((201, probe("queued")), [], token=False))
    assert result.status is Status.UNKNOWN and "ATP_API_TOKEN" in result.remediation
