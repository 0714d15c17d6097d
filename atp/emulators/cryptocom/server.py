"""The Crypto.com Exchange v1 API emulator: an aiohttp server the real ccxt client talks to.

Start it in-process (tests, demo, benchmarks) on an ephemeral loopback port:

    async with CryptoComEmulator(clock=ManualClock(t0), symbols=50) as emu:
        emu.add_key("k", "s")
        client_config = {"urls": {"api": emu.ccxt_urls()}, "apiKey": "k", "secret": "s"}

or alone with `atp emulate exchange --port P`. Admin endpoints (no auth; loopback only):
`GET|POST /_emulator/faults`, `POST /_emulator/scenario`, `POST /_emulator/symbols`,
`POST /_emulator/keys`, `POST /_emulator/clock` (manual clocks), `POST /_emulator/fees`
(`{"maker": "0.0025", "taker": "0.005"}`), `GET /_emulator/state` (with `order_requests`:
private order calls received per method, what proves that a dry run sent none).
Faults at run time: `POST /_emulator/faults {"faults": ["stale-ticker:ETH_USDT"]}` (names as
on the command line, added to those set), `{"stale_tickers": []}` (fields, replaced) or
`{"clear": true}`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from email.utils import formatdate
from typing import Any

from aiohttp import web

from atp.emulators.clock import EmulatorClock, ManualClock, RealClock
from atp.emulators.cryptocom.auth import NONCE_WINDOW_MS, ApiKey, verify
from atp.emulators.cryptocom.faults import Faults, parse_fault
from atp.emulators.cryptocom.market import (
    TIMEFRAMES,
    MarketConfig,
    Scenario,
    SyntheticMarket,
    TickerRow,
)
from atp.emulators.cryptocom.trading import (
    DEFAULT_MAKER_FEE,
    DEFAULT_TAKER_FEE,
    TRIGGER_TYPES,
    ApiError,
    TradingDesk,
    reject,
)

PREFIX = "/exchange/v1"
DEFAULT_BALANCES = {"USDT": "100000", "USD": "100000", "BTC": "1", "ETH": "10"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADV = "private/advanced/"
# Methods that place orders: what `order-reject`, `order-answer-lost`, `-slow` act on.
CREATE_METHODS = frozenset({"private/create-order", "private/create-order-list",
                            ADV + "create-order", ADV + "create-oco"})
# The exchange's "create/cancel" rate-limit class: 15 requests per 100 ms per API key.
CREATE_CANCEL_METHODS = CREATE_METHODS | {
    "private/cancel-order", "private/cancel-order-list", "private/cancel-all-orders",
    ADV + "cancel-order", ADV + "cancel-oco", ADV + "cancel-all-orders",
}
# Every private method that touches orders (counted in /_emulator/state `order_requests`).
ORDER_METHODS = CREATE_CANCEL_METHODS | {
    "private/get-open-orders", "private/get-order-detail", "private/get-order-history",
    ADV + "get-open-orders", ADV + "get-order-detail", ADV + "get-order-history",
}
CREATE_CANCEL_LIMIT = 15
CREATE_CANCEL_WINDOW = 0.1


def _to_seconds(ts: Any) -> float:
    """start_ts / end_ts arrive in ms, µs (what ccxt sends) or ns: tell them by size."""
    value = float(ts)
    if value > 1e17:
        return value / 1e9
    if value > 1e14:
        return value / 1e6
    return value / 1e3


def _envelope(req_id: Any, method: str, result: Any) -> dict[str, Any]:
    return {"id": req_id, "method": method, "code": 0, "result": result}


class CryptoComEmulator:
    """An emulated exchange: synthetic market, accounts, signature checks, fault switches."""

    def __init__(
        self,
        *,
        clock: EmulatorClock | None = None,
        seed: int = 1,
        symbols: int | Iterable[str] = 20,
        keys: Iterable[ApiKey] = (),
        faults: Faults | None = None,
        rate_limit_per_second: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        auth_clock: EmulatorClock | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
        grid_seconds: int = 300,
        scenario_timeframe: int = 3600,
        maker_fee: Decimal | str | float = DEFAULT_MAKER_FEE,
        taker_fee: Decimal | str | float = DEFAULT_TAKER_FEE,
        min_notional: dict[str, Decimal] | None = None,
        order_rate_limit: bool = True,
    ) -> None:
        self.clock: EmulatorClock = clock or RealClock()
        # Nonces are checked against wall time: ccxt stamps requests with the caller's real
        # clock, whatever speed the synthetic market runs at.
        self.auth_clock: EmulatorClock = auth_clock or RealClock()
        syms: int | list[str] = symbols if isinstance(symbols, int) else list(symbols)
        self.market = SyntheticMarket(self.clock, MarketConfig(
            seed=seed, symbols=syms, grid_seconds=grid_seconds,
            scenario_timeframe=scenario_timeframe,
        ))
        self.desk = TradingDesk(self.market, maker_fee=maker_fee, taker_fee=taker_fee,
                                min_notional=min_notional)
        self.order_rate_limit = order_rate_limit
        self._order_calls: dict[str, deque[float]] = {}
        self.keys: dict[str, ApiKey] = {}
        for key in keys:
            self.add_key(key.key, key.secret, key.allowlist, key.balances or None)
        self.faults = faults or Faults()
        self._frozen: dict[str, TickerRow] = {}  # `stale-ticker`: the row as it froze
        self._freeze()
        self.rate_limit_per_second = rate_limit_per_second
        self._rate_clock = rate_clock
        self._recent: dict[str, deque[float]] = {}
        self.counts: Counter[str] = Counter()
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on (host, port); port 0 picks a free one. Returns the base URL."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(PREFIX + "/public/get-instruments", self._instruments)
        app.router.add_get(PREFIX + "/public/get-tickers", self._tickers)
        app.router.add_get(PREFIX + "/public/get-candlestick", self._candlestick)
        app.router.add_post(PREFIX + "/private/{method:.+}", self._private)
        app.router.add_get("/_emulator/faults", self._admin_faults)
        app.router.add_post("/_emulator/faults", self._admin_faults)
        app.router.add_post("/_emulator/scenario", self._admin_scenario)
        app.router.add_post("/_emulator/symbols", self._admin_symbols)
        app.router.add_post("/_emulator/keys", self._admin_keys)
        app.router.add_post("/_emulator/clock", self._admin_clock)
        app.router.add_get("/_emulator/state", self._admin_state)
        app.router.add_post("/_emulator/fees", self._admin_fees)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> CryptoComEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ccxt_urls(self) -> dict[str, str]:
        """The `urls.api` block that points ccxt's cryptocom client here."""
        b = self.base_url
        return {"base": b, "v1": b + PREFIX, "v2": b + "/v2", "derivatives": b + "/v1"}

    # -- Python control API ----------------------------------------------------------------

    def add_key(
        self,
        key: str,
        secret: str,
        allowlist: Iterable[str] | None = None,
        balances: dict[str, str] | None = None,
    ) -> None:
        """Register an API key; `allowlist` (IP addresses) None = any caller."""
        allowed = frozenset(allowlist) if allowlist is not None else None
        self.keys[key] = ApiKey(key, secret, allowed, dict(balances or DEFAULT_BALANCES))
        self.desk.open_account(key, self.keys[key].balances)

    def set_faults(self, **changes: Any) -> None:
        unknown = set(changes.get("stale_tickers") or ()) - set(self.market.instruments)
        if unknown:
            raise ValueError(f"stale-ticker: unknown symbol(s) {', '.join(sorted(unknown))}; "
                             "use an instrument this emulator lists")
        self.faults.update(**changes)
        self._freeze()

    def set_fault(self, spec: str) -> None:
        """Switch a fault on by its CLI name, e.g. `malformed:BTC_USDT`, `rate-limit:2`,
        `stale-ticker:ETH_USDT` (added to the tickers already frozen)."""
        changes = parse_fault(spec)
        if "stale_tickers" in changes:
            changes["stale_tickers"] = sorted({*self.faults.stale_tickers,
                                               *changes["stale_tickers"]})
        self.set_faults(**changes)

    def clear_faults(self) -> None:
        self.faults.clear()
        self._freeze()

    def _freeze(self) -> None:
        """Capture the ticker of each newly frozen symbol now; thaw the ones switched off."""
        wanted = [s for s in self.faults.stale_tickers if s in self.market.instruments]
        for symbol in list(self._frozen):
            if symbol not in wanted:
                del self._frozen[symbol]
        new = [s for s in wanted if s not in self._frozen]
        for row in self.market.tickers(new) if new else ():
            self._frozen[row.symbol] = row

    def script(self, symbol: str, kind: str, **kwargs: Any) -> Scenario:
        """Scripted move: `rsi_low` (sustained decline) or `rsi_high` (sustained rise)."""
        return self.market.script(symbol, kind, **kwargs)

    def hold(self, symbol: str) -> list[Scenario]:
        """Stop `symbol`'s scripted moves where its price is now (see `SyntheticMarket.hold`)."""
        return self.market.hold(symbol)

    def set_symbols(self, symbols: int | Iterable[str]) -> None:
        self.market.set_symbols(symbols if isinstance(symbols, int) else list(symbols))

    def reset_counts(self) -> None:
        self.counts.clear()

    @property
    def order_requests(self) -> dict[str, int]:
        """Private order calls received (answered or not), per method."""
        return {m: n for m, n in sorted(self.counts.items()) if m in ORDER_METHODS}

    def set_fees(self, maker: Decimal | str | float, taker: Decimal | str | float) -> None:
        """Fee rates (fractions) charged on fills from now on."""
        self.desk.set_fees(maker, taker)

    # -- middleware: faults, rate limit, counting --------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_emulator/"):
            return await handler(request)
        method = request.path.removeprefix(PREFIX + "/")
        self.counts[method] += 1
        self.counts["total"] += 1
        f = self.faults
        if f.down:
            # A dead host: no answer at all, the connection just goes away.
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError
        if f.slow_seconds > 0:
            await asyncio.sleep(f.slow_seconds)
        if f.unavailable:
            return self._error(None, method, 9010001, "SYSTEM_MAINTENANCE", 503)
        if f.rate_limit_next != 0 or self._over_rate(request.remote or "?"):
            if f.rate_limit_next > 0:
                f.rate_limit_next -= 1
            return self._error(None, method, 42901, "TOO_MANY_REQUESTS", 429)
        try:
            response = await handler(request)
        except ApiError as exc:
            response = self._error(None, method, exc.code, exc.message, exc.status)
        # the exchange's clock, as a client can read it (what `diagnose` measures)
        exchange_now = self.auth_clock.now() + f.clock_skew_seconds
        response.headers["Date"] = formatdate(exchange_now, usegmt=True)
        return response

    def _over_rate(self, ip: str) -> bool:
        limit = self.rate_limit_per_second
        if limit is None:
            return False
        now = self._rate_clock()
        window = self._recent.setdefault(ip, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            return True
        window.append(now)
        return False

    @staticmethod
    def _error(req_id: Any, method: str, code: int, message: str, status: int) -> web.Response:
        body = {"id": req_id if req_id is not None else -1, "method": method, "code": code,
                "message": message}
        return web.json_response(body, status=status)

    # -- public API ------------------------------------------------------------------------

    async def _instruments(self, request: web.Request) -> web.Response:
        data = [
            {
                "symbol": i.symbol, "inst_type": "CCY_PAIR", "display_name": f"{i.base}/{i.quote}",
                "base_ccy": i.base, "quote_ccy": i.quote, "quote_decimals": i.price_decimals,
                "quantity_decimals": i.qty_decimals, "price_tick_size": i.price_tick,
                "qty_tick_size": i.qty_tick, "max_leverage": "1", "tradable": True,
                "expiry_timestamp_ms": 0, "beta_product": False,
                "margin_buy_enabled": False, "margin_sell_enabled": False,
            }
            for i in self.market.instruments.values()
        ]
        return web.json_response(_envelope(-1, "public/get-instruments", {"data": data}))

    async def _tickers(self, request: web.Request) -> web.Response:
        name = request.query.get("instrument_name")
        if name is not None and name not in self.market.instruments:
            raise ApiError(30003, "SYMBOL_NOT_FOUND")
        self._freeze()
        rows = [self._frozen.get(r.symbol, r)
                for r in self.market.tickers([name] if name else None)]
        bad = self.faults.malformed_symbol if self.faults.malformed_part != "candles" else None
        data = []
        for r in rows:
            inst = self.market.instruments[r.symbol]
            tick = float(inst.price_tick)
            item: dict[str, Any] = {
                "i": r.symbol, "h": inst.fmt_price(r.high), "l": inst.fmt_price(r.low),
                "a": inst.fmt_price(r.last), "v": inst.fmt_qty(r.volume),
                "vv": f"{r.volume * r.last:.2f}", "c": f"{r.change:.4f}",
                "b": inst.fmt_price(r.last - tick), "k": inst.fmt_price(r.last + tick),
                "t": r.t,
            }
            if r.symbol == bad:
                item.update({"a": "n/a", "b": "-", "k": "-", "h": "?"})
                item.pop("t")
            data.append(item)
        return web.json_response(_envelope(-1, "public/get-tickers", {"data": data}))

    async def _candlestick(self, request: web.Request) -> web.Response:
        q = request.query
        name = q.get("instrument_name", "")
        if name not in self.market.instruments:
            raise ApiError(30003, "SYMBOL_NOT_FOUND")
        timeframe = q.get("timeframe", "1m")
        if timeframe not in TIMEFRAMES:
            raise ApiError(40003, f"Invalid timeframe {timeframe}")
        try:
            count = max(1, min(300, int(q.get("count", "25"))))
            end = _to_seconds(q["end_ts"]) if "end_ts" in q else None
            start = _to_seconds(q["start_ts"]) if "start_ts" in q else None
        except ValueError:
            raise ApiError(40003, "Invalid parameter") from None
        rows = self.market.candles(name, TIMEFRAMES[timeframe], end, count)
        if start is not None:
            rows = [r for r in rows if r.t >= start * 1000]
        inst = self.market.instruments[name]
        data = []
        for r in rows:
            item: dict[str, Any] = {
                "o": inst.fmt_price(r.o), "h": inst.fmt_price(r.h), "l": inst.fmt_price(r.low),
                "c": inst.fmt_price(r.c), "v": inst.fmt_qty(r.v), "t": r.t,
            }
            if name == self.faults.malformed_symbol and self.faults.malformed_part != "ticker":
                item["c"] = "-"
                item.pop("v")
            data.append(item)
        result = {"interval": timeframe, "data": data, "instrument_name": name}
        return web.json_response(_envelope(-1, "public/get-candlestick", result))

    # -- private API -----------------------------------------------------------------------

    async def _private(self, request: web.Request) -> web.Response:
        method = "private/" + request.match_info["method"]
        try:
            body = json.loads(await request.read())
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            raise ApiError(40001, "BAD_REQUEST: body is not a JSON object") from None
        req_id = body.get("id")
        try:
            self._authenticate(request, method, body)
            params = body.get("params") or {}
            if not isinstance(params, dict):
                raise ApiError(40001, "BAD_REQUEST: params")
            key = str(body["api_key"])
            self._order_gate(key, method)
            self.desk.process()
            result = self._dispatch(key, method, params)
        except ApiError as exc:
            return self._error(req_id, method, exc.code, exc.message, exc.status)
        if method in CREATE_METHODS and self.faults.answer_lost_next > 0:
            # `order-answer-lost`: placed, but the answer never arrives
            self.faults.answer_lost_next -= 1
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError
        if method in CREATE_METHODS and self.faults.answer_slow_next > 0:
            # `order-answer-slow`: placed now, answered late (the order stays placed even
            # when the client is gone by then)
            self.faults.answer_slow_next -= 1
            await asyncio.sleep(self.faults.answer_slow_seconds)
        return web.json_response(_envelope(req_id, method, result))

    def _order_gate(self, key: str, method: str) -> None:
        """The create/cancel rate limit per key, then the order fault switches."""
        if self.order_rate_limit and method in CREATE_CANCEL_METHODS:
            now = self._rate_clock()
            window = self._order_calls.setdefault(key, deque())
            while window and window[0] <= now - CREATE_CANCEL_WINDOW:
                window.popleft()
            if len(window) >= CREATE_CANCEL_LIMIT:
                raise reject(42901)
            window.append(now)
        if method not in CREATE_METHODS:
            return
        if self.faults.conditional_denied and method.startswith(ADV):
            raise reject(140001)
        if self.faults.order_reject_code is not None:
            raise reject(self.faults.order_reject_code)

    def _authenticate(self, request: web.Request, method: str, body: dict[str, Any]) -> None:
        if body.get("method") != method:
            raise ApiError(40001, "BAD_REQUEST: method does not match the URL")
        key = self.keys.get(str(body.get("api_key", "")))
        if self.faults.bad_credentials or not verify(key, body):
            raise ApiError(40101, "UNAUTHORIZED", 401)
        try:
            nonce = int(str(body.get("nonce")))
        except ValueError:
            raise ApiError(40101, "UNAUTHORIZED", 401) from None
        exchange_ms = (self.auth_clock.now() + self.faults.clock_skew_seconds) * 1000
        if abs(nonce - exchange_ms) > NONCE_WINDOW_MS:
            raise ApiError(40102, "INVALID_NONCE", 400)
        allowed = key.allowlist if key is not None else None
        if self.faults.ip_not_allowlisted or (
            allowed is not None and (request.remote or "") not in allowed
        ):
            raise ApiError(40103, "IP_ILLEGAL", 401)

    def _dispatch(self, key: str, method: str, params: dict[str, Any]) -> Any:
        desk = self.desk
        if method == "private/user-balance":
            return {"data": [self._balance(key)]}
        if method == "private/get-currency-networks":
            return self._currency_networks()
        if method in ("private/create-order", ADV + "create-order"):
            advanced = method.startswith(ADV)
            if advanced:
                order = desk.create(key, params, allowed=TRIGGER_TYPES)
            else:
                order = desk.create(key, params)
            if order.status == "REJECTED":
                raise reject(306)
            return {"order_id": order.order_id, "client_oid": order.client_oid}
        if method == ADV + "create-oco":
            return desk.create_oco(key, list(params.get("order_list") or []))
        if method == ADV + "cancel-oco":
            return desk.cancel_oco(key, str(params.get("list_id", "")))
        if method in ("private/cancel-order", ADV + "cancel-order"):
            order = desk.cancel(key, params, advanced=method.startswith(ADV))
            return {"order_id": order.order_id, "client_oid": order.client_oid}
        if method == "private/cancel-all-orders":
            desk.cancel_all(key, params.get("instrument_name"))
            return {}
        if method in ("private/get-open-orders", ADV + "get-open-orders"):
            orders = desk.open_orders(key, params.get("instrument_name"),
                                      advanced=method.startswith(ADV))
            return {"data": [o.as_dict() for o in orders]}
        if method in ("private/get-order-detail", ADV + "get-order-detail"):
            return desk.find(key, params, advanced=method.startswith(ADV)).as_dict()
        if method in ("private/get-order-history", ADV + "get-order-history"):
            done = [o.as_dict() for o in desk.history(key)
                    if o.advanced == method.startswith(ADV)]
            return {"data": done}
        if method == "private/create-order-list":
            return desk.create_list(key, str(params.get("contingency_type", "LIST")),
                                    list(params.get("order_list") or []))
        if method == "private/cancel-order-list":
            return desk.cancel_list(key, params)
        raise ApiError(40002, f"METHOD_NOT_FOUND {method}", 404)

    def _balance(self, key: str) -> dict[str, Any]:
        acct = self.desk.account(key)
        positions = []
        total = Decimal(0)
        for ccy, qty in sorted(acct.balances.items()):
            price = self._usd_price(ccy)
            value = qty * price
            total += value
            positions.append({
                "instrument_name": ccy, "quantity": str(qty),
                "reserved_qty": str(acct.reserved.get(ccy, Decimal(0))),
                "market_value": f"{value:.2f}", "collateral_amount": f"{value:.2f}",
                "collateral_weight": "1.0",
                "max_withdrawal_balance": str(acct.available(ccy)),
                "hourly_interest_rate": "0",
            })
        t = f"{total:.2f}"
        return {
            "instrument_name": "USD", "total_available_balance": t, "total_margin_balance": t,
            "total_initial_margin": "0", "total_maintenance_margin": "0",
            "total_position_cost": "0", "total_cash_balance": t, "total_collateral_value": t,
            "total_session_unrealized_pnl": "0", "total_session_realized_pnl": "0",
            "position_balances": positions, "total_effective_leverage": "0",
            "position_limit": "3000000", "used_position_limit": "0", "total_borrow": "0",
            "margin_score": "0", "is_liquidating": False, "has_risk": False,
            "terminatable": True,
        }

    def _usd_price(self, ccy: str) -> Decimal:
        if ccy in ("USD", "USDT", "USDC"):
            return Decimal(1)
        for quote in ("USDT", "USD"):
            name = f"{ccy}_{quote}"
            if name in self.market.instruments:
                return Decimal(repr(self.market.price(name)))
        return Decimal(0)

    def _currency_networks(self) -> dict[str, Any]:
        ccys = sorted({c for i in self.market.instruments.values() for c in (i.base, i.quote)})
        network = {
            "network_id": "CRONOS", "withdrawal_fee": "0.1", "withdraw_enabled": True,
            "min_withdrawal_amount": "1", "deposit_enabled": True, "confirmation_required": "15",
        }
        currency_map = {
            c: {"full_name": c, "default_network": "CRONOS", "network_list": [network]}
            for c in ccys
        }
        return {"update_time": int(self.clock.now() * 1000), "currency_map": currency_map}

    # -- admin -----------------------------------------------------------------------------

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json() if request.can_read_body else {}
        except ValueError:
            raise web.HTTPBadRequest(text="body must be JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return data

    async def _admin_faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            data = await self._json(request)
            try:
                if data.pop("clear", False):
                    self.clear_faults()
                for spec in data.pop("faults", []):
                    self.set_fault(str(spec))
                self.set_faults(**data)
            except ValueError as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response(self.faults.as_dict())

    async def _admin_scenario(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        symbol = str(data.pop("symbol", ""))
        kind = str(data.pop("kind", ""))
        if kind == "clear":
            self.market.clear_scenarios(symbol or None)
            return web.json_response({"cleared": symbol or "all"})
        try:
            sc = self.script(symbol, kind, **data)
        except (KeyError, ValueError, TypeError) as exc:
            raise web.HTTPBadRequest(text=f"bad scenario: {exc}") from None
        return web.json_response({
            "symbol": sc.symbol, "kind": sc.kind, "start": sc.start, "end": sc.end,
            "log_change": sc.log_change,
        })

    async def _admin_symbols(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self.set_symbols(data["symbols"] if "symbols" in data else int(data.get("count", 20)))
        return web.json_response({"count": len(self.market.instruments)})

    async def _admin_keys(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        self.add_key(str(data["api_key"]), str(data["secret"]), data.get("allowlist"),
                     data.get("balances"))
        return web.json_response({"keys": len(self.keys)})

    async def _admin_clock(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        if not isinstance(self.clock, ManualClock):
            raise web.HTTPBadRequest(text="the emulator's clock is not manual")
        self.clock.advance(float(data.get("advance", 0)))
        return web.json_response({"now": self.clock.now()})

    async def _admin_state(self, request: web.Request) -> web.Response:
        return web.json_response({
            "now": self.clock.now(), "symbols": len(self.market.instruments),
            "faults": self.faults.as_dict(), "counts": dict(self.counts),
            "scenarios": [
                {"symbol": s.symbol, "kind": s.kind, "start": s.start, "end": s.end}
                for s in self.market.scenarios()
            ],
            "orders": len(self.desk.orders),
            "order_requests": self.order_requests,
            "fees": {"maker": str(self.desk.maker_fee), "taker": str(self.desk.taker_fee)},
        })

    async def _admin_fees(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        try:
            self.set_fees(data.get("maker", self.desk.maker_fee),
                          data.get("taker", self.desk.taker_fee))
        except ArithmeticError:
            raise web.HTTPBadRequest(text="maker/taker must be decimal fractions") from None
        return web.json_response({"maker": str(self.desk.maker_fee),
                                  "taker": str(self.desk.taker_fee)})
