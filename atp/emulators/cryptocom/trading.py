"""Accounts, orders and fills of the emulated exchange, as its Advanced Order Management API
has them since the migration (2025-12-17 / 2026-01-28).

- Plain `private/create-order` takes LIMIT and MARKET only; trigger orders (STOP_LOSS,
  STOP_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT) go through `private/advanced/create-order`, an
  SL/TP pair through `private/advanced/create-oco` (one `list_id`, one fill cancels the
  other). Plain and advanced orders are read and cancelled through their own endpoints.
- Market orders fill at the ticker's last price; resting limits when the price path reaches
  them (at their limit). A trigger fires when the path crosses its `ref_price`; a STOP_LOSS /
  TAKE_PROFIT then fills as a market order at the path's price of that moment (the first
  price the path showed beyond the trigger), not at the trigger price: a gap costs, as on the
  real exchange. A trigger already on the wrong side of the market is refused (229).
- Fees are charged on every fill, taker for orders that take liquidity (market, marketable
  limit, triggered market) and maker for resting limits; defaults are the exchange's
  published base tier for spot (maker 0.25 %, taker 0.50 %) and configurable. A BUY pays in
  the base currency it receives, a SELL in the quote currency.
- `client_oid` is at most 36 characters and unique per account (204 DUPLICATE_CLORDID);
  orders are found and cancelled by `client_oid` as well as `order_id`; an unknown order is
  40401 with HTTP 200. Reason codes and HTTP statuses follow the exchange's table (`REASONS`).

Orders are evaluated lazily, on each request, against the path since the last evaluation,
so an accelerated or manual clock needs no background task.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import numpy as np

from atp.emulators.cryptocom.market import SyntheticMarket

PLAIN_TYPES = ("MARKET", "LIMIT")
TRIGGER_TYPES = ("STOP_LIMIT", "TAKE_PROFIT_LIMIT", "STOP_LOSS", "TAKE_PROFIT")
MARKET_TRIGGERS = ("STOP_LOSS", "TAKE_PROFIT")
ORDER_TYPES = PLAIN_TYPES + TRIGGER_TYPES
MAX_CLIENT_OID = 36
ZERO = Decimal(0)
DEFAULT_MAKER_FEE = Decimal("0.0025")
DEFAULT_TAKER_FEE = Decimal("0.005")
# Smallest order value per quote currency (the exchange refuses smaller ones with 415).
DEFAULT_MIN_NOTIONAL = {"USDT": Decimal(1), "USD": Decimal(1), "USDC": Decimal(1)}

# The exchange's reason codes used here: name and the HTTP status it comes with.
REASONS: dict[int, tuple[str, int]] = {
    204: ("DUPLICATE_CLORDID", 400),
    209: ("INVALID_INSTRUMENT", 400),
    213: ("INVALID_ORDERQTY", 400),
    218: ("INVALID_ORDTYPE", 400),
    220: ("INVALID_SIDE", 400),
    229: ("INVALID_REF_PRICE", 400),
    306: ("INSUFFICIENT_AVAILABLE_BALANCE", 500),
    308: ("INVALID_PRICE", 400),
    415: ("BELOW_MIN_ORDER_SIZE", 500),
    609: ("INSUFFICIENT_MARGIN", 500),
    40001: ("BAD_REQUEST", 400),
    40004: ("MISSING_OR_INVALID_ARGUMENT", 400),
    40401: ("NOT_FOUND", 200),
    42901: ("TOO_MANY_REQUESTS", 429),
    # seen in the old platform's incidents: a key without the conditional-order permission
    140001: ("CONDITIONAL_ORDER_NOT_PERMITTED", 400),
}


class ApiError(Exception):
    """An error answer of the exchange: its code, message and HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status


def reject(code: int, detail: str | None = None) -> ApiError:
    """The exchange's answer for `code`: its name (plus a detail) and its HTTP status."""
    name, status = REASONS.get(code, ("REJECTED", 400))
    return ApiError(code, f"{name}: {detail}" if detail else name, status)


def _dec(params: dict[str, Any], name: str, required: bool = False) -> Decimal | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(40001, f"BAD_REQUEST: missing {name}")
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(213, f"Invalid {name} format") from None
    if not out.is_finite() or out <= 0:
        raise ApiError(213, f"Invalid {name} format")
    return out


@dataclass
class Account:
    balances: dict[str, Decimal] = field(default_factory=dict)
    reserved: dict[str, Decimal] = field(default_factory=dict)

    def available(self, ccy: str) -> Decimal:
        return self.balances.get(ccy, ZERO) - self.reserved.get(ccy, ZERO)

    def move(self, ccy: str, delta: Decimal) -> None:
        self.balances[ccy] = self.balances.get(ccy, ZERO) + delta

    def reserve(self, ccy: str, amount: Decimal) -> None:
        self.reserved[ccy] = self.reserved.get(ccy, ZERO) + amount


@dataclass
class Order:
    order_id: str
    client_oid: str
    account: str
    instrument: str
    side: str
    order_type: str
    quantity: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    ref_price: Decimal | None
    time_in_force: str
    create_time: int
    update_time: int
    checked_at: float
    status: str = "ACTIVE"
    triggered: bool = False
    cum_qty: Decimal = ZERO
    cum_value: Decimal = ZERO
    fill_price: Decimal = ZERO
    fee: Decimal = ZERO
    maker_rate: Decimal = DEFAULT_MAKER_FEE
    taker_rate: Decimal = DEFAULT_TAKER_FEE
    reserved_ccy: str = ""
    reserved: Decimal = ZERO
    list_id: str | None = None
    reason: str | None = None

    @property
    def advanced(self) -> bool:
        """Placed through the advanced API (and read and cancelled there)."""
        return self.order_type in TRIGGER_TYPES

    def as_dict(self) -> dict[str, Any]:
        avg = self.fill_price
        base, _, quote = self.instrument.partition("_")
        out: dict[str, Any] = {
            "account_id": "emulated-account",
            "order_id": self.order_id,
            "client_oid": self.client_oid,
            "order_type": self.order_type,
            "time_in_force": self.time_in_force,
            "side": self.side,
            "exec_inst": [],
            "quantity": str(self.quantity or ZERO),
            "limit_price": str(self.limit_price or ZERO),
            "order_value": str(self.notional or ZERO),
            "maker_fee_rate": str(self.maker_rate),
            "taker_fee_rate": str(self.taker_rate),
            "avg_price": str(avg.normalize() if avg else ZERO),
            "trigger_price": str(self.ref_price or ZERO),
            "ref_price": str(self.ref_price or ZERO),
            "cumulative_quantity": str(self.cum_qty),
            "cumulative_value": str(self.cum_value),
            "cumulative_fee": str(self.fee.normalize() if self.fee else ZERO),
            "status": self.status,
            "update_user_id": "emulated-user",
            "order_date": datetime.fromtimestamp(self.create_time / 1000, UTC).date().isoformat(),
            "instrument_name": self.instrument,
            "fee_instrument_name": base if self.side == "BUY" else quote,
            "create_time": self.create_time,
            "create_time_ns": f"{self.create_time}000000",
            "update_time": self.update_time,
        }
        if self.list_id is not None:
            out["list_id"] = self.list_id
        if self.reason is not None:
            out["reason"] = self.reason
        return out


class TradingDesk:
    """Balances and orders of every API key, filled against the synthetic market."""

    def __init__(
        self,
        market: SyntheticMarket,
        *,
        maker_fee: Decimal | str | float = DEFAULT_MAKER_FEE,
        taker_fee: Decimal | str | float = DEFAULT_TAKER_FEE,
        min_notional: dict[str, Decimal] | None = None,
    ) -> None:
        self.market = market
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.lists: dict[str, list[str]] = {}
        self._by_oid: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(6_142_909_895_000_000_000)
        self.maker_fee = Decimal(str(maker_fee))
        self.taker_fee = Decimal(str(taker_fee))
        self.min_notional = dict(DEFAULT_MIN_NOTIONAL if min_notional is None else min_notional)

    def set_fees(self, maker: Decimal | str | float, taker: Decimal | str | float) -> None:
        self.maker_fee, self.taker_fee = Decimal(str(maker)), Decimal(str(taker))

    def open_account(self, key: str, balances: dict[str, str]) -> None:
        self.accounts[key] = Account({c: Decimal(v) for c, v in balances.items()})

    def account(self, key: str) -> Account:
        return self.accounts.setdefault(key, Account())

    def _next_id(self) -> str:
        return str(next(self._ids))

    # -- order entry -----------------------------------------------------------------------

    def _check_oid(self, key: str, params: dict[str, Any]) -> str | None:
        oid = params.get("client_oid")
        if oid is None or oid == "":
            return None
        oid = str(oid)
        if len(oid) > MAX_CLIENT_OID:
            raise reject(40004, f"client_oid longer than {MAX_CLIENT_OID} characters")
        if (key, oid) in self._by_oid:
            raise reject(204)
        return oid

    def create(self, key: str, params: dict[str, Any], *, allowed: tuple[str, ...] = PLAIN_TYPES,
               list_id: str | None = None, reserve: bool = True) -> Order:
        """Validate and place one order; raises ApiError with the exchange's reason code."""
        now = self.market.clock.now()
        order = self._validate(key, params, allowed, now, list_id)
        inst = self.market.instrument(order.instrument)
        price = Decimal(inst.fmt_price(self.market.price(order.instrument, now)))
        self._check_size(order, price)
        if order.advanced:
            self._check_trigger_side(order, price)
        acct = self.account(key)
        if reserve:
            self._reserve(acct, order, price)
        self._store(order)
        if order.order_type == "MARKET" or (
            order.order_type == "LIMIT" and self._marketable(order, price, price)
        ):
            self._fill(order, price, maker=False)
        return order

    def _validate(self, key: str, params: dict[str, Any], allowed: tuple[str, ...], now: float,
                  list_id: str | None) -> Order:
        instrument = str(params.get("instrument_name", ""))
        if instrument not in self.market.instruments:
            raise reject(209)
        side = str(params.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise reject(220)
        otype = str(params.get("type", "")).upper()
        if otype not in ORDER_TYPES:
            raise reject(218, f"unknown order type {otype or '(none)'}")
        if otype not in allowed:
            where = ("private/advanced/create-order" if otype in TRIGGER_TYPES
                     else "private/create-order")
            raise reject(218, f"{otype} orders go to {where}")
        oid = self._check_oid(key, params)
        quantity = _dec(params, "quantity")
        notional = _dec(params, "notional")
        limit = _dec(params, "price", required=otype in ("LIMIT", "STOP_LIMIT",
                                                          "TAKE_PROFIT_LIMIT"))
        ref = _dec(params, "ref_price", required=otype in TRIGGER_TYPES)
        if quantity is None and notional is None:
            raise ApiError(40001, "BAD_REQUEST: quantity or notional required")
        if notional is not None and not (otype in ("MARKET", "STOP_LOSS", "TAKE_PROFIT")
                                         and side == "BUY"):
            raise ApiError(40001, "BAD_REQUEST: notional only for market buys")
        inst = self.market.instrument(instrument)
        if quantity is not None:
            quantity = quantity.quantize(Decimal(inst.qty_tick), rounding=ROUND_DOWN)
            if quantity <= 0:
                raise reject(415, f"quantity below {inst.qty_tick}")
        ms = int(now * 1000)
        return Order(
            order_id=self._next_id(),
            client_oid=oid or f"{ms}_{len(self.orders)}",
            account=key, instrument=instrument, side=side, order_type=otype,
            quantity=quantity, notional=notional, limit_price=limit, ref_price=ref,
            time_in_force=str(params.get("time_in_force", "GOOD_TILL_CANCEL")),
            create_time=ms, update_time=ms, checked_at=now, list_id=list_id,
            maker_rate=self.maker_fee, taker_rate=self.taker_fee,
        )

    def _check_size(self, order: Order, price: Decimal) -> None:
        _, _, quote = order.instrument.partition("_")
        minimum = self.min_notional.get(quote, ZERO)
        px = order.limit_price or order.ref_price or price
        value = order.notional if order.notional is not None else (order.quantity or ZERO) * px
        if value < minimum:
            raise reject(415, f"order value {value.normalize()} below {minimum} {quote}")

    @staticmethod
    def _check_trigger_side(order: Order, price: Decimal) -> None:
        """A trigger must wait for a move: a SELL stop below the market, a SELL take-profit
        above it (mirrored for BUY); one that would fire at once is refused."""
        ref = order.ref_price or ZERO
        stop = order.order_type in ("STOP_LIMIT", "STOP_LOSS")
        below = (order.side == "SELL") == stop
        if (below and ref >= price) or (not below and ref <= price):
            where = "below" if below else "above"
            raise reject(229, f"{order.side} {order.order_type} ref_price {ref} must be "
                              f"{where} the market price {price}")

    def _store(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self._by_oid[(order.account, order.client_oid)] = order.order_id

    def _reserve(self, acct: Account, order: Order, price: Decimal) -> None:
        base, _, quote = order.instrument.partition("_")
        if order.side == "BUY":
            px = order.limit_price or order.ref_price or price
            amount = order.notional if order.notional is not None else (order.quantity or ZERO) * px
            ccy = quote
        else:
            amount, ccy = order.quantity or ZERO, base
        if acct.available(ccy) < amount:
            raise reject(306)
        acct.reserve(ccy, amount)
        order.reserved_ccy, order.reserved = ccy, amount

    def _release(self, order: Order) -> None:
        if order.reserved:
            acct = self.account(order.account)
            acct.reserve(order.reserved_ccy, -order.reserved)
            order.reserved = ZERO

    def _fill(self, order: Order, price: Decimal, *, maker: bool) -> None:
        acct = self.account(order.account)
        inst = self.market.instrument(order.instrument)
        base, _, quote = order.instrument.partition("_")
        self._release(order)
        for leg in self.lists.get(order.list_id or "", ()):
            self._release(self.orders[leg])
        if order.quantity is None and order.notional is not None:
            qty = (order.notional / price).quantize(Decimal(inst.qty_tick), rounding=ROUND_DOWN)
        else:
            qty = order.quantity or ZERO
        value = (qty * price).quantize(Decimal(inst.price_tick))
        have = acct.available(quote) if order.side == "BUY" else acct.available(base)
        need = value if order.side == "BUY" else qty
        if have < need or qty <= 0:
            order.status, order.reason = "REJECTED", "INSUFFICIENT_AVAILABLE_BALANCE"
        else:
            rate = order.maker_rate if maker else order.taker_rate
            if order.side == "BUY":
                fee = qty * rate
                acct.move(base, qty - fee)
                acct.move(quote, -value)
            else:
                fee = value * rate
                acct.move(base, -qty)
                acct.move(quote, value - fee)
            order.cum_qty, order.cum_value, order.fee = qty, value, fee
            order.fill_price = price
            order.status = "FILLED"
            if order.quantity is None:
                order.quantity = qty
        order.update_time = int(self.market.clock.now() * 1000)
        if order.list_id and order.status == "FILLED":
            for other_id in self.lists.get(order.list_id, []):
                other = self.orders[other_id]
                if other is not order and other.status == "ACTIVE":
                    self._cancel(other)

    def _cancel(self, order: Order) -> None:
        self._release(order)
        order.status = "CANCELED"
        order.update_time = int(self.market.clock.now() * 1000)

    @staticmethod
    def _marketable(order: Order, lo: Decimal, hi: Decimal) -> bool:
        limit = order.limit_price or ZERO
        return lo <= limit if order.side == "BUY" else hi >= limit

    @staticmethod
    def _crossed(order: Order, lo: Decimal, hi: Decimal) -> bool:
        """Stops trigger against the trend of the position, take-profits with it."""
        ref = order.ref_price or ZERO
        stop = order.order_type in ("STOP_LIMIT", "STOP_LOSS")
        if order.side == "SELL":
            return lo <= ref if stop else hi >= ref
        return hi >= ref if stop else lo <= ref

    def _price_when_crossed(self, order: Order, t0: float, t1: float) -> Decimal:
        """The first price the path showed beyond the trigger: at the grid points in
        (t0, t1] and at t1, the moments the exchange's last trade price is known."""
        g = self.market.config.grid_seconds
        inner = np.arange(math.floor(t0 / g) + 1, math.ceil(t1 / g), dtype=np.int64) * g
        times = np.concatenate([inner.astype(np.float64), np.array([t1])])
        inst = self.market.instrument(order.instrument)
        for p in self.market.prices_at(order.instrument, times):
            px = Decimal(inst.fmt_price(float(p)))
            if self._crossed(order, px, px):
                return px
        return Decimal(inst.fmt_price(self.market.price(order.instrument, t0)))

    # -- evaluation ----------------------------------------------------------------------

    def process(self) -> None:
        """Fill whatever the price path reached since each order was last looked at."""
        now = self.market.clock.now()
        for order in list(self.orders.values()):
            if order.status != "ACTIVE" or now <= order.checked_at:
                continue
            t0 = order.checked_at
            lo_f, hi_f = self.market.extremes(order.instrument, t0, now)
            order.checked_at = now
            inst = self.market.instrument(order.instrument)
            lo, hi = Decimal(inst.fmt_price(lo_f)), Decimal(inst.fmt_price(hi_f))
            maker = True
            if order.order_type in TRIGGER_TYPES and not order.triggered:
                if not self._crossed(order, lo, hi):
                    continue
                order.triggered = True
                if order.order_type in MARKET_TRIGGERS:
                    self._fill(order, self._price_when_crossed(order, t0, now), maker=False)
                    continue
                maker = False  # a limit that trades as soon as it is released takes
            if order.order_type != "MARKET" and self._marketable(order, lo, hi):
                self._fill(order, order.limit_price or ZERO, maker=maker)

    # -- queries and cancels ---------------------------------------------------------------

    def find(self, key: str, params: dict[str, Any], advanced: bool | None = None) -> Order:
        """The order named by `order_id` or `client_oid`; 40401 when this API has none."""
        order: Order | None = None
        if params.get("order_id") not in (None, ""):
            order = self.orders.get(str(params["order_id"]))
        elif params.get("client_oid") not in (None, ""):
            oid = self._by_oid.get((key, str(params["client_oid"])))
            order = self.orders.get(oid) if oid is not None else None
        if order is None or order.account != key or (
            advanced is not None and order.advanced != advanced
        ):
            raise reject(40401)
        return order

    def get(self, key: str, order_id: str) -> Order:
        return self.find(key, {"order_id": order_id})

    def cancel(self, key: str, params: dict[str, Any], advanced: bool | None = None) -> Order:
        order = self.find(key, params, advanced)
        if order.status != "ACTIVE":
            raise reject(40401, "order is not open")
        if order.list_id is not None:  # one leg of an OCO: the pair goes
            self.cancel_oco(key, order.list_id)
        else:
            self._cancel(order)
        return order

    def cancel_all(self, key: str, instrument: str | None) -> None:
        for order in self.open_orders(key, instrument, advanced=False):
            self._cancel(order)

    def open_orders(self, key: str, instrument: str | None = None,
                    advanced: bool | None = None) -> list[Order]:
        return [
            o for o in self.orders.values()
            if o.account == key and o.status == "ACTIVE"
            and (instrument is None or o.instrument == instrument)
            and (advanced is None or o.advanced == advanced)
        ]

    def history(self, key: str) -> list[Order]:
        return [o for o in self.orders.values() if o.account == key and o.status != "ACTIVE"]

    def create_oco(self, key: str, items: list[Any]) -> dict[str, Any]:
        """Two trigger legs closing one position: one reservation, one fill cancels both."""
        if len(items) != 2 or not all(isinstance(i, dict) for i in items):
            raise reject(40004, "an OCO needs exactly two orders in order_list")
        oids = [str(i.get("client_oid") or "") for i in items]
        if oids[0] and oids[0] == oids[1]:
            raise reject(204, "both legs carry the same client_oid")
        for item in items:  # both legs are checked before either is placed
            self._check_oid(key, item)
        list_id = self._next_id()
        first = self.create(key, items[0], allowed=TRIGGER_TYPES, list_id=list_id)
        try:
            second = self.create(key, items[1], allowed=TRIGGER_TYPES, list_id=list_id,
                                 reserve=False)
        except ApiError:
            self._cancel(first)
            del self._by_oid[(key, first.client_oid)]
            del self.orders[first.order_id]
            raise
        self.lists[list_id] = [first.order_id, second.order_id]
        return {"list_id": list_id}

    def cancel_oco(self, key: str, list_id: str) -> dict[str, Any]:
        ids = self.lists.get(str(list_id))
        if ids is None or self.orders[ids[0]].account != key:
            raise reject(40401)
        open_legs = [self.orders[i] for i in ids if self.orders[i].status == "ACTIVE"]
        if not open_legs:
            raise reject(40401, "no open leg in this list")
        for leg in open_legs:
            self._cancel(leg)
        return {"list_id": str(list_id)}

    def create_list(self, key: str, contingency: str, items: list[dict[str, Any]]) -> Any:
        """LIST only: independent plain orders, one result each. OCO is refused here: since
        the migration it goes to `private/advanced/create-oco`."""
        contingency = contingency.upper()
        if contingency != "LIST":
            raise reject(40004, f"contingency_type {contingency} not accepted here; "
                                "OCO goes to private/advanced/create-oco")
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                order = self.create(key, item)
                results.append({"index": index, "code": 0, "order_id": order.order_id,
                                "client_oid": order.client_oid})
            except ApiError as exc:
                results.append({"index": index, "code": exc.code, "message": exc.message,
                                "client_oid": str(item.get("client_oid", ""))})
        return results

    def cancel_list(self, key: str, params: dict[str, Any]) -> Any:
        if params.get("list_id") is not None:
            return self.cancel_oco(key, str(params["list_id"]))
        results: list[dict[str, Any]] = []
        for index, item in enumerate(params.get("order_list") or []):
            try:
                order = self.cancel(key, {"order_id": item.get("order_id")})
                results.append({"index": index, "code": 0, "order_id": order.order_id,
                                "client_oid": order.client_oid})
            except ApiError as exc:
                results.append({"index": index, "code": exc.code, "message": exc.message})
        return {"result_list": results}
