"""Accounts, orders and fills of the emulated exchange.

Market orders fill at the ticker's last price; limit orders when the price path reaches the
limit; trigger orders (STOP_LIMIT, TAKE_PROFIT_LIMIT, STOP_LOSS, TAKE_PROFIT) when the path
crosses their `ref_price`. Orders are evaluated lazily, on each request, against the path's
extremes since the last evaluation, so an accelerated or manual clock needs no background
task. No fees are charged (keeps the arithmetic of tests exact).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from atp.emulators.cryptocom.market import SyntheticMarket

ORDER_TYPES = ("MARKET", "LIMIT", "STOP_LIMIT", "TAKE_PROFIT_LIMIT", "STOP_LOSS", "TAKE_PROFIT")
TRIGGER_TYPES = ("STOP_LIMIT", "TAKE_PROFIT_LIMIT", "STOP_LOSS", "TAKE_PROFIT")
ZERO = Decimal(0)


class ApiError(Exception):
    """An error answer of the exchange: its code, message and HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status


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
    reserved_ccy: str = ""
    reserved: Decimal = ZERO
    list_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        avg = self.cum_value / self.cum_qty if self.cum_qty else ZERO
        base, _, quote = self.instrument.partition("_")
        return {
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
            "avg_price": str(avg.normalize() if avg else ZERO),
            "trigger_price": str(self.ref_price or ZERO),
            "ref_price": str(self.ref_price or ZERO),
            "cumulative_quantity": str(self.cum_qty),
            "cumulative_value": str(self.cum_value),
            "cumulative_fee": "0",
            "status": self.status,
            "update_user_id": "emulated-user",
            "order_date": datetime.fromtimestamp(self.create_time / 1000, UTC).date().isoformat(),
            "instrument_name": self.instrument,
            "fee_instrument_name": base if self.side == "BUY" else quote,
            "create_time": self.create_time,
            "create_time_ns": f"{self.create_time}000000",
            "update_time": self.update_time,
        }


class TradingDesk:
    """Balances and orders of every API key, filled against the synthetic market."""

    def __init__(self, market: SyntheticMarket) -> None:
        self.market = market
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.lists: dict[str, list[str]] = {}
        self._ids = itertools.count(6_142_909_895_000_000_000)

    def open_account(self, key: str, balances: dict[str, str]) -> None:
        self.accounts[key] = Account({c: Decimal(v) for c, v in balances.items()})

    def account(self, key: str) -> Account:
        return self.accounts.setdefault(key, Account())

    def _next_id(self) -> str:
        return str(next(self._ids))

    # -- order entry -----------------------------------------------------------------------

    def create(self, key: str, params: dict[str, Any], list_id: str | None = None,
               reserve: bool = True) -> Order:
        now = self.market.clock.now()
        instrument = str(params.get("instrument_name", ""))
        if instrument not in self.market.instruments:
            raise ApiError(30003, "SYMBOL_NOT_FOUND")
        side = str(params.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise ApiError(40003, "Invalid side")
        otype = str(params.get("type", "")).upper()
        if otype not in ORDER_TYPES:
            raise ApiError(40004, f"Invalid order type {otype}")
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
                raise ApiError(415, "BELOW_MIN_ORDER_SIZE")
        ms = int(now * 1000)
        order = Order(
            order_id=self._next_id(),
            client_oid=str(params.get("client_oid") or f"{ms}_{len(self.orders)}"),
            account=key, instrument=instrument, side=side, order_type=otype,
            quantity=quantity, notional=notional, limit_price=limit, ref_price=ref,
            time_in_force=str(params.get("time_in_force", "GOOD_TILL_CANCEL")),
            create_time=ms, update_time=ms, checked_at=now, list_id=list_id,
        )
        acct = self.account(key)
        price = Decimal(inst.fmt_price(self.market.price(instrument, now)))
        if reserve:
            self._reserve(acct, order, price)
        self.orders[order.order_id] = order
        if otype == "MARKET" or (otype == "LIMIT" and self._marketable(order, price, price)):
            self._fill(order, price)
        return order

    def _reserve(self, acct: Account, order: Order, price: Decimal) -> None:
        base, _, quote = order.instrument.partition("_")
        if order.side == "BUY":
            px = order.limit_price or order.ref_price or price
            amount = order.notional if order.notional is not None else (order.quantity or ZERO) * px
            ccy = quote
        else:
            amount, ccy = order.quantity or ZERO, base
        if acct.available(ccy) < amount:
            raise ApiError(306, "INSUFFICIENT_AVAILABLE_BALANCE")
        acct.reserve(ccy, amount)
        order.reserved_ccy, order.reserved = ccy, amount

    def _release(self, order: Order) -> None:
        if order.reserved:
            acct = self.account(order.account)
            acct.reserve(order.reserved_ccy, -order.reserved)
            order.reserved = ZERO

    def _fill(self, order: Order, price: Decimal) -> None:
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
            sign = Decimal(1) if order.side == "BUY" else Decimal(-1)
            acct.move(base, sign * qty)
            acct.move(quote, -sign * value)
            order.cum_qty, order.cum_value, order.status = qty, value, "FILLED"
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

    # -- evaluation ----------------------------------------------------------------------

    def process(self) -> None:
        """Fill whatever the price path reached since each order was last looked at."""
        now = self.market.clock.now()
        for order in list(self.orders.values()):
            if order.status != "ACTIVE" or now <= order.checked_at:
                continue
            lo_f, hi_f = self.market.extremes(order.instrument, order.checked_at, now)
            order.checked_at = now
            inst = self.market.instrument(order.instrument)
            lo, hi = Decimal(inst.fmt_price(lo_f)), Decimal(inst.fmt_price(hi_f))
            if order.order_type in TRIGGER_TYPES and not order.triggered:
                if not self._crossed(order, lo, hi):
                    continue
                order.triggered = True
                if order.order_type in ("STOP_LOSS", "TAKE_PROFIT"):
                    self._fill(order, order.ref_price or ZERO)
                    continue
            if order.order_type != "MARKET" and self._marketable(order, lo, hi):
                self._fill(order, order.limit_price or ZERO)

    # -- queries and cancels ---------------------------------------------------------------

    def get(self, key: str, order_id: str) -> Order:
        order = self.orders.get(str(order_id))
        if order is None or order.account != key:
            raise ApiError(40401, "NOT_FOUND")
        return order

    def cancel(self, key: str, order_id: str) -> Order:
        order = self.get(key, order_id)
        if order.status != "ACTIVE":
            raise ApiError(40401, "NOT_FOUND")
        self._cancel(order)
        return order

    def cancel_all(self, key: str, instrument: str | None) -> None:
        for order in self.open_orders(key, instrument):
            self._cancel(order)

    def open_orders(self, key: str, instrument: str | None = None) -> list[Order]:
        return [
            o for o in self.orders.values()
            if o.account == key and o.status == "ACTIVE"
            and (instrument is None or o.instrument == instrument)
        ]

    def create_list(self, key: str, contingency: str, items: list[dict[str, Any]]) -> Any:
        """LIST: independent orders, one result each. OCO: two orders, one fill cancels both."""
        contingency = contingency.upper()
        if contingency == "OCO":
            if len(items) != 2:
                raise ApiError(40001, "BAD_REQUEST: OCO needs exactly two orders")
            list_id = self._next_id()
            first = self.create(key, items[0], list_id=list_id)
            try:
                # the legs share one reservation: both close the same position
                second = self.create(key, items[1], list_id=list_id, reserve=False)
            except ApiError:
                self._cancel(first)
                raise
            self.lists[list_id] = [first.order_id, second.order_id]
            if first.status == "FILLED" and second.status == "ACTIVE":
                self._cancel(second)
            return {"list_id": list_id}
        if contingency != "LIST":
            raise ApiError(40001, f"BAD_REQUEST: contingency_type {contingency}")
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
        list_id = params.get("list_id")
        if list_id is not None:
            ids = self.lists.get(str(list_id))
            if ids is None:
                raise ApiError(40401, "NOT_FOUND")
            for oid in ids:
                if self.orders[oid].status == "ACTIVE":
                    self._cancel(self.orders[oid])
            return {}
        results: list[dict[str, Any]] = []
        for index, item in enumerate(params.get("order_list") or []):
            try:
                order = self.cancel(key, str(item.get("order_id")))
                results.append({"index": index, "code": 0, "order_id": order.order_id,
                                "client_oid": order.client_oid})
            except ApiError as exc:
                results.append({"index": index, "code": exc.code, "message": exc.message})
        return {"result_list": results}
