"""The Crypto.com adapter: one ccxt client per process, every failure classified at the edge.

Why it looks like this:
- One `ccxt.async_support.cryptocom` instance (one aiohttp session, one throttle) per process;
  markets are loaded once and refreshed hourly, never per call.
- Market data uses public endpoints only: ccxt would otherwise call the private
  get-currency-networks inside `load_markets`, and a bad key would blind the monitor.
- Network errors and rate limits are retried with exponential backoff through an injectable
  `sleep`, so tests run retries without waiting. Order creation is never retried here:
  after a network error its outcome is unknown, and the caller looks the order up by its
  client_oid (`atp.exchange.orders.LiveBroker`).
- ccxt 4.5.90 still sends trigger orders and OCO the old way and has no method for the
  exchange's advanced order endpoints: `private_request` reaches any private method by name
  through ccxt's own signing (`request`), never hand-signed.
- Failures become ATP's classes (`errors.py`), are reported to `on_error` (the engine
  records a typed event) and logged as one line; no secret reaches any of them.
- Symbols are the exchange's instrument names (`BTC_USDT`), as the runbook and the
  watchlist use them; ccxt's unified names stay inside this module.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from ccxt.async_support.cryptocom import cryptocom as _ccxt_cryptocom

from atp.config import Settings
from atp.exchange.errors import (
    ErrorSink,
    ExchangeFailure,
    MalformedReply,
    NetworkError,
    ProxyStatusError,
    RateLimited,
    Redactor,
    classify,
    log_failure,
)

T = TypeVar("T")
log = logging.getLogger("atp.exchange")

SuccessSink = Callable[[str, bool], None]  # (operation, private)


class _CryptoCom(_ccxt_cryptocom):  # type: ignore[misc]
    """ccxt's client plus a request counter and a mark on a proxy's own HTTP status."""

    request_count = 0

    async def fetch(self, url: str, method: str = "GET", headers: Any = None,
                    body: Any = None) -> Any:
        self.request_count += 1
        return await super().fetch(url, method, headers, body)

    def handle_errors(self, code: int, reason: str, url: str, method: str, headers: Any,
                      body: str, response: Any, request_headers: Any, request_body: Any) -> Any:
        if code == 407:
            raise ProxyStatusError(f"cryptocom {method} {url} {code} {reason}", code)
        return super().handle_errors(code, reason, url, method, headers, body, response,
                                     request_headers, request_body)


class _RedactingFilter(logging.Filter):
    """ccxt logs request bodies (api_key, sig) at DEBUG: scrub them before any handler.

    One filter on the shared ccxt logger, hiding the secrets of every client created in
    this process (tests and `diagnose` create several, with different keys).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._redact = Redactor()

    def add(self, secrets: list[str]) -> None:
        if not set(secrets) <= self._secrets:
            self._secrets.update(secrets)
            self._redact = Redactor(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = None
        return True


_CCXT_LOG = logging.getLogger("atp.exchange.ccxt")
_CCXT_FILTER = _RedactingFilter()
_CCXT_LOG.addFilter(_CCXT_FILTER)


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last: float | None
    timestamp_ms: int | None
    bid: float | None = None
    ask: float | None = None


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def ccxt_config(settings: Settings, *, timeout_ms: int = 10_000) -> dict[str, Any]:
    """ccxt constructor config from ATP settings (URLs, keys, proxy). Contains secrets."""
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
    base = settings.exchange_base_url
    if base:
        config["urls"] = {"api": {"base": base, "v1": base + "/exchange/v1",
                                  "v2": base + "/v2", "derivatives": base + "/v1"}}
    if settings.exchange_api_key is not None and settings.exchange_api_secret is not None:
        config["apiKey"] = settings.exchange_api_key.get_secret_value()
        config["secret"] = settings.exchange_api_secret.get_secret_value()
    if settings.exchange_proxy_url is not None:
        proxy = settings.exchange_proxy_url.get_secret_value()
        if proxy.startswith("socks"):
            config["socksProxy"] = proxy
        elif proxy.startswith("https://"):
            config["httpsProxy"] = proxy
        else:
            config["httpProxy"] = proxy
    return config


def secrets_of(settings: Settings) -> list[str]:
    out = []
    for s in (settings.exchange_api_key, settings.exchange_api_secret):
        if s is not None:
            out.append(s.get_secret_value())
    if settings.exchange_proxy_url is not None:
        url = settings.exchange_proxy_url.get_secret_value()
        out.append(url)
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if parts.password:
            out.append(unquote(parts.password))
    return out


class ExchangeClient:
    """ATP's port to Crypto.com Exchange. Create one per process; `await close()` at exit."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_error: ErrorSink | None = None,
        on_success: SuccessSink | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        markets_ttl: float = 3600.0,
        timeout_ms: int = 10_000,
        throttle: bool = True,
    ) -> None:
        self.settings = settings
        self.redact = Redactor(secrets_of(settings))
        config = ccxt_config(settings, timeout_ms=timeout_ms)
        config["enableRateLimit"] = throttle
        self._ccxt = _CryptoCom(config)
        # public market data must not depend on the private currency call
        self._ccxt.options["fetchCurrencies"] = {"skipFetchCurrencies": True}
        _CCXT_FILTER.add(secrets_of(settings))
        self._ccxt.logger = _CCXT_LOG
        self.on_error = on_error
        self.on_success = on_success
        self._sleep = sleep
        self._clock = clock
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.markets_ttl = markets_ttl
        self._markets_at: float | None = None
        self._id_to_symbol: dict[str, str] = {}
        self._markets_lock = asyncio.Lock()
        self.last_private_ok: float | None = None
        self.last_failure: ExchangeFailure | None = None
        # wall times of the last answered call and the last failure: health's "is the
        # exchange reachable now" (failure categories network / proxy after the last ok)
        self.last_ok: float | None = None
        self.last_failure_at: float | None = None

    # -- plumbing --------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (the benchmark's and tests' measure)."""
        return int(self._ccxt.request_count)

    @property
    def requests_per_second(self) -> float:
        """The rate ccxt's throttle keeps to (Crypto.com: 100/s for market data)."""
        rate_ms = float(getattr(self._ccxt, "rateLimit", 10) or 10)
        return 1000.0 / rate_ms

    @property
    def has_credentials(self) -> bool:
        return self.settings.has_exchange_credentials

    @property
    def proxy_in_use(self) -> bool:
        return self.settings.exchange_proxy_url is not None

    async def close(self) -> None:
        await self._ccxt.close()

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _backoff(self, attempt: int, failure: ExchangeFailure) -> float:
        delay = self.backoff_base * (2 ** (attempt - 1))
        if isinstance(failure, RateLimited):
            delay = max(delay, 1.0)
        return float(min(delay, self.backoff_max))

    async def _call(
        self,
        operation: str,
        fn: Callable[[], Awaitable[T]],
        *,
        private: bool = False,
        retry_on: tuple[type[ExchangeFailure], ...] = (NetworkError, RateLimited),
        malformed_ok: bool = False,
        expected_codes: frozenset[int] = frozenset(),
    ) -> T:
        """Run one exchange call with retries; `expected_codes` are answers the caller
        handles itself (40401 on a lookup): raised, but neither reported nor retried."""
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await fn()
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                if not malformed_ok:
                    raise
                # ccxt could not parse the answer: the data is bad, not our code
                malformed = MalformedReply(f"unreadable answer ({type(exc).__name__})",
                                           operation=operation, cause=type(exc).__name__)
                self.report(malformed)
                raise malformed from None
            except Exception as exc:
                failure = classify(exc, operation, self.redact)
                failure.attempt = attempt
                if failure.code is not None and failure.code in expected_codes:
                    raise failure from None
                failure.will_retry = isinstance(failure, retry_on) and attempt <= self.retries
                self.report(failure)
                if not failure.will_retry:
                    raise failure from None
                await self._sleep(self._backoff(attempt, failure))
                continue
            self.last_ok = time.time()
            if private:
                # Wall time: `_clock` may be an emulated market's accelerated clock.
                self.last_private_ok = self.last_ok
            if self.on_success is not None:
                self.on_success(operation, private)
            return result

    def report(self, failure: ExchangeFailure) -> None:
        """Record a failure: sink, log line, `last_failure` (also for callers' own checks)."""
        self.last_failure = failure
        self.last_failure_at = time.time()
        log_failure(failure)
        if self.on_error is not None:
            try:
                self.on_error(failure)
            except Exception:  # a broken sink must not break trading
                log.exception("exchange error sink failed")

    # -- markets ---------------------------------------------------------------------------

    async def ensure_markets(self) -> None:
        """Load markets on first use and again once `markets_ttl` has passed."""
        now = self._clock()
        if self._markets_at is not None and now - self._markets_at < self.markets_ttl:
            return
        async with self._markets_lock:
            if self._markets_at is not None and now - self._markets_at < self.markets_ttl:
                return
            reload = self._markets_at is not None
            markets = await self._call(
                "load_markets", lambda: self._ccxt.load_markets(reload=reload)
            )
            self._id_to_symbol = {m["id"]: s for s, m in markets.items() if m.get("spot")}
            self._markets_at = now

    async def symbols(self) -> list[str]:
        await self.ensure_markets()
        return sorted(self._id_to_symbol)

    def is_listed(self, symbol: str) -> bool:
        return symbol in self._id_to_symbol

    def _unified(self, symbol: str) -> str:
        try:
            return self._id_to_symbol[symbol]
        except KeyError:
            raise KeyError(f"{symbol} is not listed on the exchange") from None

    def instrument(self, symbol: str) -> dict[str, Any]:
        """Precision and limits of a listed symbol (ccxt's market structure)."""
        market: dict[str, Any] = self._ccxt.market(self._unified(symbol))
        return market

    # -- public data -----------------------------------------------------------------------

    async def fetch_tickers(self) -> dict[str, Ticker]:
        """Every ticker in one request, keyed by instrument name.

        Parsed entry by entry (not with ccxt's batch parser, which fails the whole batch on
        one bad entry): a malformed ticker yields None fields for that symbol only.
        """
        await self.ensure_markets()
        raw = await self._call("fetch_tickers",
                               lambda: self._ccxt.v1PublicGetPublicGetTickers({}))
        result = raw.get("result") if isinstance(raw, dict) else None
        data = result.get("data") if isinstance(result, dict) else None
        if not isinstance(data, list):
            failure = MalformedReply("get-tickers answered without result.data",
                                     operation="fetch_tickers")
            self.report(failure)
            raise failure
        out: dict[str, Ticker] = {}
        for item in data:
            if not isinstance(item, dict) or not isinstance(item.get("i"), str):
                continue
            ts = item.get("t")
            out[item["i"]] = Ticker(
                symbol=item["i"],
                last=_finite(item.get("a")),
                timestamp_ms=int(ts) if isinstance(ts, int | float) and ts > 0 else None,
                bid=_finite(item.get("b")),
                ask=_finite(item.get("k")),
            )
        return out

    async def fetch_candles(self, symbol: str, timeframe: str, limit: int) -> list[list[Any]]:
        """The last `limit` candles, the forming one included (the exchange's answer)."""
        await self.ensure_markets()
        unified = self._unified(symbol)
        # end_ts from our clock (µs, as ccxt sends by default): in production that is wall
        # time; against an accelerated emulator it is the emulated world's time.
        until = int(self._clock() * 1_000_000)
        rows: list[list[Any]] = await self._call(
            f"fetch_ohlcv {symbol}",
            lambda: self._ccxt.fetch_ohlcv(unified, timeframe, limit=min(limit, 300),
                                           params={"until": until}),
            malformed_ok=True,
        )
        return rows

    async def exchange_time_offset(self) -> float | None:
        """Exchange clock minus the host's wall clock (what signs nonces), in seconds.

        Read from the last reply's Date header (1 s resolution; the limit is 60 s).
        """
        headers = getattr(self._ccxt, "last_response_headers", None) or {}
        date = next((v for k, v in headers.items() if k.lower() == "date"), None)
        if not date:
            return None
        try:
            server = parsedate_to_datetime(str(date)).timestamp()
        except (TypeError, ValueError):
            return None
        return server - time.time()

    # -- private calls -----------------------------------------------------------------------

    async def fetch_balance(self) -> dict[str, dict[str, float]]:
        """{currency: {"total", "used", "free"}} — also the canonical 'a private call works'."""
        await self.ensure_markets()
        raw = await self._call("fetch_balance", lambda: self._ccxt.fetch_balance(),
                               private=True)
        out: dict[str, dict[str, float]] = {}
        for ccy, acct in raw.items():
            if isinstance(acct, dict) and "total" in acct and ccy not in ("info", "free",
                                                                            "used", "total"):
                out[ccy] = {k: float(acct.get(k) or 0.0) for k in ("total", "used", "free")}
        return out

    async def create_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        amount: float,
        price: float | None = None,
        *,
        client_order_id: str | None = None,
        notional: float | None = None,
    ) -> dict[str, Any]:
        """Place a plain MARKET or LIMIT order (what `private/create-order` still takes).

        A market buy may give `notional` (quote amount to spend) instead of `amount`.
        Trigger orders and SL/TP pairs go through the advanced endpoints: see
        `atp.exchange.orders.LiveBroker`. Never retried (the outcome of a lost answer is
        unknown).
        """
        otype = order_type.lower()
        if otype not in ("market", "limit"):
            raise ValueError(f"{order_type}: plain create-order takes market and limit only")
        await self.ensure_markets()
        unified = self._unified(symbol)
        params: dict[str, Any] = {}
        if client_order_id:
            params["client_oid"] = client_order_id
        if notional is not None:
            params["notional"] = self._ccxt.cost_to_precision(unified, notional)

        async def go() -> dict[str, Any]:
            if notional is not None:
                request = {"instrument_name": symbol, "side": side.upper(), "type": "MARKET",
                           **params}
                response = await self._ccxt.v1PrivatePostPrivateCreateOrder(request)
                result: dict[str, Any] = self._ccxt.parse_order(response.get("result") or {},
                                                               self._ccxt.market(unified))
                return result
            order: dict[str, Any] = await self._ccxt.create_order(
                unified, otype, side.lower(), amount, price, params
            )
            return order

        return await self._call(f"create_order {symbol}", go, private=True, retry_on=())

    async def private_request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        operation: str | None = None,
        retry: bool = True,
        expected_codes: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """One signed v1 private call by method name (`private/advanced/create-oco`, …),
        signed by ccxt's own `request`; returns the exchange's whole answer.

        `retry=False` for calls that place orders: a lost answer is not retried blindly.
        """
        raw = await self._call(
            operation or method,
            lambda: self._ccxt.request(method, ["v1", "private"], "POST", params),
            private=True,
            retry_on=(NetworkError, RateLimited) if retry else (),
            expected_codes=expected_codes,
        )
        if not isinstance(raw, dict):
            failure = MalformedReply(f"{method} answered {type(raw).__name__}, not an object",
                                     operation=operation or method)
            self.report(failure)
            raise failure
        return raw

    async def cancel_order(self, order_id: str, symbol: str | None = None) -> dict[str, Any]:
        await self.ensure_markets()
        unified = self._unified(symbol) if symbol else None
        result: dict[str, Any] = await self._call(
            "cancel_order", lambda: self._ccxt.cancel_order(order_id, unified), private=True
        )
        return result

    async def fetch_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        await self.ensure_markets()
        unified = self._unified(symbol) if symbol else None
        result: list[dict[str, Any]] = await self._call(
            "fetch_open_orders", lambda: self._ccxt.fetch_open_orders(unified), private=True
        )
        return result

    async def fetch_order(self, order_id: str, symbol: str | None = None) -> dict[str, Any]:
        await self.ensure_markets()
        unified = self._unified(symbol) if symbol else None
        result: dict[str, Any] = await self._call(
            "fetch_order", lambda: self._ccxt.fetch_order(order_id, unified), private=True
        )
        return result

