"""The platform's HTTP API as a check source: JSON reads, shared between checks.

Several checks read the same endpoint (the summary, the watchlist); one evaluation asks
each distinct URL once, concurrently-safe. Every failure becomes `SourceUnavailable`
with an operator-readable reason, so the checks that need it go `unknown`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from atp.integrity.sources import SourceUnavailable

DEFAULT_URL = "http://127.0.0.1:8002"
PAGE = 1000
MAX_ROWS = 20000


class ApiSource:
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = 5.0,
        token: str | None = None,
        client: httpx.AsyncClient | None = None,
        uds: str | None = None,
    ) -> None:
        """`uds`: reach the API through this Unix socket (an SSH forward) instead."""
        self.base_url = base_url.rstrip("/")
        self.has_token = bool(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._own = client is None
        # Plain HTTP never uses TLS: skip loading the CA bundle (~20 ms of `atp check`).
        verify = self.base_url.startswith("https:")
        self._client = client or httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers=headers, trust_env=False,
            verify=verify,
            transport=httpx.AsyncHTTPTransport(uds=uds, verify=verify) if uds else None,
        )
        self._cache: dict[str, asyncio.Future[Any]] = {}
        self.server_date: datetime | None = None

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def get(self, path: str, **params: Any) -> Any:
        """GET `path` once per evaluation; raises SourceUnavailable on any failure."""
        clean = {k: v for k, v in params.items() if v is not None}
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(clean.items()))
        future = self._cache.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._cache[key] = future
            try:
                future.set_result(await self._fetch(path, clean))
            except SourceUnavailable as exc:
                future.set_exception(exc)
        return await asyncio.shield(future)

    async def request(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        """One uncached request (the probe's POST and its polls): the status and the JSON
        body (None when not JSON); SourceUnavailable only when nothing answered."""
        where = f"{self.base_url}{path}"
        try:
            response = await self._client.request(method, path, json=json)
        except httpx.TimeoutException:
            raise SourceUnavailable("HTTP API", f"{where} timed out") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                "HTTP API", f"{where} not reachable ({type(exc).__name__}: {exc})"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body

    async def get_all(self, path: str, **params: Any) -> list[Any]:
        """A list endpoint with limit/offset paging, newest first, up to MAX_ROWS rows."""
        rows: list[Any] = []
        while len(rows) < MAX_ROWS:
            page = await self.get(path, limit=PAGE, offset=len(rows) or None, **params)
            if not isinstance(page, list):
                raise SourceUnavailable("HTTP API", f"{path} did not answer a list")
            rows.extend(page)
            if len(page) < PAGE:
                break
        return rows

    async def _fetch(self, path: str, params: dict[str, Any]) -> Any:
        where = f"{self.base_url}{path}"
        try:
            response = await self._client.get(path, params=params)
        except httpx.TimeoutException:
            raise SourceUnavailable("HTTP API", f"{where} timed out") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                "HTTP API", f"{where} not reachable ({type(exc).__name__}: {exc})"
            ) from None
        self._note_date(response)
        if response.status_code != 200:
            raise SourceUnavailable("HTTP API", f"{where} answered HTTP {response.status_code}",
                                    http_status=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise SourceUnavailable("HTTP API", f"{where} answered non-JSON") from None

    def _note_date(self, response: httpx.Response) -> None:
        if self.server_date is None and "date" in response.headers:
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = parsedate_to_datetime(response.headers["date"])


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp from the API as an aware UTC datetime (naive means UTC)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
