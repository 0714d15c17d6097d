"""A recorded-payload stand-in for the HTTP API source (same get / get_all surface)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from atp.integrity.context import CheckContext
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.http import parse_time

PAYLOADS = Path(__file__).parent / "payloads"
_TIME_KEYS = ("at", "created_at", "started_at")


def load(name: str = "healthy") -> dict[str, Any]:
    return copy.deepcopy(json.loads((PAYLOADS / f"{name}.json").read_text()))


class FakeApi:
    base_url = "http://recorded"

    def __init__(self, payloads: dict[str, Any], broken: tuple[str, ...] = ()) -> None:
        self.payloads, self.broken = payloads, broken
        self.server_date: datetime | None = None
        self.calls: list[str] = []

    async def get(self, path: str, **params: Any) -> Any:
        self.calls.append(path)
        if path in self.broken or "*" in self.broken:
            raise SourceUnavailable("HTTP API", f"{path} not reachable (recorded outage)")
        if path not in self.payloads:  # an endpoint the recorded target does not have
            raise SourceUnavailable("HTTP API", f"{path} answered HTTP 404", http_status=404)
        data = copy.deepcopy(self.payloads[path])
        if not isinstance(data, list):
            return data
        if params.get("type"):
            kinds = set(str(params["type"]).split(","))
            data = [r for r in data if r.get("type") in kinds]
        if params.get("decision"):
            kinds = set(str(params["decision"]).split(","))
            data = [r for r in data if r.get("decision") in kinds]
        if params.get("since"):
            since = parse_time(params["since"])
            assert since is not None
            data = [r for r in data if _time(r) is None or _time(r) >= since]  # type: ignore[operator]
        return data

    async def get_all(self, path: str, **params: Any) -> list[Any]:
        result: list[Any] = await self.get(path, **params)
        return result

    async def aclose(self) -> None:
        pass


def _time(row: dict[str, Any]) -> datetime | None:
    for key in _TIME_KEYS:
        if key in row:
            return parse_time(row[key])
    return None


def context(payloads: dict[str, Any], *, broken: tuple[str, ...] = (), logs: Any = None,
            docker: Any = None, now: datetime | None = None) -> CheckContext:
    at = now or parse_time(payloads["now"])
    assert at is not None
    return CheckContext(api=FakeApi(payloads, broken), now=at,  # type: ignore[arg-type]
                        window=timedelta(minutes=15), logs=logs, docker=docker,
                        target="recorded")
