"""The live broker: ATP's orders on Crypto.com Exchange, answered in `atp.domain.trading` types.

Why it looks like this:
- It implements the engine's `Broker` port structurally (the dependency rule keeps
  `exchange/` from importing `engine/`), on the one `ExchangeClient` of the process: its
  ccxt instance, its signing, its error classification.
- Since the exchange's Advanced Order Management migration, trigger orders and SL/TP pairs
  go to `private/advanced/*`; ccxt 4.5.90 has no method for them, so every order call goes
  through `ExchangeClient.private_request` (ccxt's own signed `request`), plain ones too, so
  that one parser reads every answer.
- Placing is never retried here. A timeout or a lost answer becomes `OutcomeUnknown`: the
  trader looks the order up by its client_oid before anything is sent again, and 204
  (`DuplicateOrder`) then means "already placed".
- What the exchange would refuse anyway (below the minimum size or value, a client_oid over
  36 characters) is refused before sending, with the exchange's own code.
- Replies are parsed defensively: a malformed one is a `BrokerError` naming what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from atp.domain.trading import (
    BrokerError,
    BrokerMode,
    BrokerUnavailable,
    DuplicateOrder,
    InstrumentRules,
    MarketOrder,
    OrderRejected,
    OrderState,
    OrderStatus,
    OutcomeUnknown,
    ProtectionOrder,
    ProtectionState,
)
from atp.exchange.client import ExchangeClient
from atp.exchange.errors import (
    AuthError,
    ExchangeFailure,
    MalformedReply,
    NetworkError,
    ProxyError,
    RateLimited,
)

ADV = "private/advanced/"
NOT_FOUND = 40401
BELOW_MIN = 415
MAX_CLIENT_OID = 36
_USD_QUOTES = ("USD", "USDT", "USDC")
_STATUSES: dict[str, OrderStatus] = {
    "NEW": "NEW", "PENDING": "NEW", "ACTIVE": "ACTIVE", "FILLED": "FILLED",
    "CANCELED": "CANCELLED", "CANCELLED": "CANCELLED", "REJECTED": "REJECTED",
    "EXPIRED": "EXPIRED",
}


def _translate(failure: ExchangeFailure, *, placing: bool) -> BrokerError:
    """ATP's exchange failure → the broker's answer. `placing`: the call may have created an
    order, so a failure without the exchange's verdict leaves the outcome unknown."""
    if isinstance(failure, AuthError | ProxyError):
        return BrokerUnavailable(f"{failure.diagnosis}: {failure.fix}")
    if isinstance(failure, NetworkError | MalformedReply):
        if placing:
            return OutcomeUnknown(f"{failure.diagnosis} ({failure.cause or failure.kind}): "
                                  "look the order up by client_oid before any retry")
        return BrokerUnavailable(f"{failure.diagnosis}: {failure.message}")
    if isinstance(failure, RateLimited) and not placing:
        return BrokerUnavailable(f"{failure.diagnosis}: {failure.fix}")
    code = failure.code
    if code is None:
        if isinstance(failure, RateLimited):
            code = 42901
        elif placing:
            return OutcomeUnknown(f"{failure.diagnosis}: {failure.message}")
        else:
            return BrokerError(f"{failure.diagnosis}: {failure.message}")
    message = failure.exchange_message or failure.diagnosis
    if code == 204:
        return DuplicateOrder(message)
    return OrderRejected(code, message)


def _num(raw: Mapping[str, Any], name: str, what: str) -> float | None:
    """A numeric field (the exchange sends strings); None when absent or empty."""
    value = raw.get(name)
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise BrokerError(f"malformed {what}: {name}={value!r} is not a number") from None
    if not math.isfinite(out):
        raise BrokerError(f"malformed {what}: {name}={value!r} is not finite")
    return out


def _positive(raw: Mapping[str, Any], name: str, what: str) -> float | None:
    """The exchange writes "0" for "not set" (avg_price of an unfilled order, ref_price…)."""
    value = _num(raw, name, what)
    return value if value else None


def parse_order(raw: Any, symbol: str | None = None) -> OrderState:
    """One order of `get-order-detail` / `get-open-orders` as an `OrderState`."""
    if not isinstance(raw, Mapping):
        raise BrokerError(f"malformed order: {type(raw).__name__}, not an object")
    oid = raw.get("client_oid")
    what = f"order {oid}" if oid else "order"
    if not isinstance(oid, str) or not oid:
        raise BrokerError("malformed order: no client_oid")
    side = str(raw.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise BrokerError(f"malformed {what}: side={raw.get('side')!r}")
    status = _STATUSES.get(str(raw.get("status", "")).upper())
    if status is None:
        raise BrokerError(f"malformed {what}: status={raw.get('status')!r}")
    name = raw.get("instrument_name") or symbol
    if not isinstance(name, str) or not name:
        raise BrokerError(f"malformed {what}: no instrument_name")
    order_id = raw.get("order_id")
    updated = _num(raw, "update_time", what)
    list_id = raw.get("list_id")
    reason = raw.get("reason")
    return OrderState(
        symbol=name,
        side="BUY" if side == "BUY" else "SELL",
        client_oid=oid,
        exchange_order_id=str(order_id) if order_id not in (None, "") else None,
        order_type=str(raw.get("order_type") or raw.get("type") or "").upper() or "UNKNOWN",
        status=status,
        quantity=_positive(raw, "quantity", what),
        filled_quantity=_num(raw, "cumulative_quantity", what) or 0.0,
        avg_price=_positive(raw, "avg_price", what),
        fee=abs(_num(raw, "cumulative_fee", what) or 0.0),
        fee_currency=str(raw["fee_instrument_name"]) if raw.get("fee_instrument_name") else None,
        trigger_price=_positive(raw, "ref_price", what) or _positive(raw, "trigger_price", what),
        list_id=str(list_id) if list_id not in (None, "") else None,
        updated_at=datetime.fromtimestamp(updated / 1000, UTC) if updated else None,
        reason=str(reason) if reason else None,
    )


def _result(answer: Mapping[str, Any], method: str) -> Any:
    if "result" not in answer:
        raise BrokerError(f"malformed reply to {method}: no result")
    return answer["result"]


def _data(answer: Mapping[str, Any], method: str) -> list[Any]:
    result = _result(answer, method)
    data = result.get("data") if isinstance(result, Mapping) else None
    if not isinstance(data, list):
        raise BrokerError(f"malformed reply to {method}: result.data is not a list")
    return data


def _down(value: float, tick: float) -> Decimal:
    """`value` rounded down onto the `tick` grid, exactly (Decimal, not float steps)."""
    step = Decimal(repr(tick))
    return (Decimal(repr(value)) / step).to_integral_value(rounding=ROUND_DOWN) * step


def _nearest(value: float, tick: float) -> Decimal:
    step = Decimal(repr(tick))
    return (Decimal(repr(value)) / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


class LiveBroker:
    """`atp.engine.ports.Broker` on the exchange (structurally: no import of the engine)."""

    mode: BrokerMode = "live"

    def __init__(self, client: ExchangeClient, *, min_notional_usd: float = 1.0) -> None:
        """`min_notional_usd`: the smallest order value in a USD-like quote when the market
        data does not say (the v1 instrument list carries no minimum)."""
        self.client = client
        self.min_notional_usd = min_notional_usd

    # -- plumbing ----------------------------------------------------------------------------

    async def _private(self, method: str, params: dict[str, Any], *, placing: bool = False,
                       missing_ok: bool = False) -> dict[str, Any] | None:
        """One private call; None for 40401 when `missing_ok`; failures as broker errors."""
        try:
            return await self.client.private_request(
                method, params, retry=not placing,
                expected_codes=frozenset({NOT_FOUND}) if missing_ok else frozenset(),
            )
        except ExchangeFailure as failure:
            if missing_ok and failure.code == NOT_FOUND:
                return None
            raise _translate(failure, placing=placing) from None

    async def _markets(self) -> None:
        try:
            await self.client.ensure_markets()
        except ExchangeFailure as failure:
            raise _translate(failure, placing=False) from None

    # -- rules -------------------------------------------------------------------------------

    async def instrument(self, symbol: str) -> InstrumentRules:
        await self._markets()
        if not self.client.is_listed(symbol):
            raise OrderRejected(209, f"INVALID_INSTRUMENT: {symbol} is not listed")
        market = self.client.instrument(symbol)
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        price_tick = precision.get("price")
        qty_tick = precision.get("amount")
        if not price_tick or not qty_tick:
            raise BrokerError(f"malformed market {symbol}: no price or quantity tick")
        min_qty = (limits.get("amount") or {}).get("min") or qty_tick
        min_cost = (limits.get("cost") or {}).get("min")
        if not min_cost:
            min_cost = self.min_notional_usd if market.get("quote") in _USD_QUOTES else 0.0
        return InstrumentRules(
            symbol=symbol,
            price_tick=float(price_tick),
            quantity_tick=float(qty_tick),
            min_quantity=float(min_qty),
            min_notional=float(min_cost),
            maker_fee=float(market.get("maker") or 0.0),
            taker_fee=float(market.get("taker") or 0.0),
        )

    async def _last_price(self, symbol: str) -> float | None:
        """The ticker's last price, for the minimum-value check of a SELL; None if unknown
        (the exchange then judges)."""
        try:
            tickers = await self.client.fetch_tickers()
        except ExchangeFailure:
            return None
        ticker = tickers.get(symbol)
        return ticker.last if ticker is not None else None

    # -- placing -----------------------------------------------------------------------------

    @staticmethod
    def _check_oid(client_oid: str) -> None:
        if not client_oid or len(client_oid) > MAX_CLIENT_OID:
            raise OrderRejected(40004, f"MISSING_OR_INVALID_ARGUMENT: client_oid must be 1 to "
                                       f"{MAX_CLIENT_OID} characters (refused before sending)")

    async def place_market(self, order: MarketOrder) -> OrderState:
        """Market BUY by notional, market SELL by quantity (rounded down to the tick); the
        fill as the exchange reports it right after."""
        self._check_oid(order.client_oid)
        rules = await self.instrument(order.symbol)
        params: dict[str, Any] = {"instrument_name": order.symbol, "side": order.side,
                                  "type": "MARKET", "client_oid": order.client_oid}
        if order.side == "BUY":
            if order.notional is None or order.notional <= 0:
                raise OrderRejected(40004, "MISSING_OR_INVALID_ARGUMENT: a market BUY needs "
                                           "a positive notional")
            notional = _down(order.notional, rules.price_tick)
            if float(notional) < rules.min_notional:
                raise OrderRejected(BELOW_MIN, f"BELOW_MIN_ORDER_SIZE: notional {notional} "
                                    f"below the minimum {rules.min_notional:g} (not sent)")
            params["notional"] = _text(notional)
        else:
            if order.quantity is None or order.quantity <= 0:
                raise OrderRejected(40004, "MISSING_OR_INVALID_ARGUMENT: a market SELL needs "
                                           "a positive quantity")
            quantity = _down(order.quantity, rules.quantity_tick)
            if float(quantity) < rules.min_quantity:
                raise OrderRejected(BELOW_MIN, f"BELOW_MIN_ORDER_SIZE: quantity {quantity} "
                                    f"below the minimum {rules.min_quantity:g} (not sent)")
            price = await self._last_price(order.symbol) if rules.min_notional else None
            if price is not None and float(quantity) * price < rules.min_notional:
                raise OrderRejected(BELOW_MIN, f"BELOW_MIN_ORDER_SIZE: value "
                                    f"{float(quantity) * price:.8g} below the minimum "
                                    f"{rules.min_notional:g} (not sent)")
            params["quantity"] = _text(quantity)
        answer = await self._private("private/create-order", params, placing=True)
        assert answer is not None
        placed = _result(answer, "private/create-order")
        order_id = placed.get("order_id") if isinstance(placed, Mapping) else None
        try:
            state = await self.lookup(order.symbol, order.client_oid)
        except BrokerError:
            state = None  # placed; the sync reads the fill later
        if state is not None:
            return state
        return OrderState(
            symbol=order.symbol, side=order.side, client_oid=order.client_oid,
            exchange_order_id=str(order_id) if order_id else None, order_type="MARKET",
            status="NEW", quantity=float(params["quantity"]) if "quantity" in params else None,
            filled_quantity=0.0, avg_price=None, fee=0.0, fee_currency=None,
        )

    async def place_protection(self, order: ProtectionOrder) -> ProtectionState:
        """The SL/TP pair as one OCO on `private/advanced/create-oco`: a STOP_LOSS and a
        TAKE_PROFIT leg, each selling the quantity at the market once its trigger is crossed."""
        self._check_oid(order.stop_loss_oid)
        self._check_oid(order.take_profit_oid)
        rules = await self.instrument(order.symbol)
        quantity = _down(order.quantity, rules.quantity_tick)
        if float(quantity) < rules.min_quantity:
            raise OrderRejected(BELOW_MIN, f"BELOW_MIN_ORDER_SIZE: quantity {quantity} below "
                                f"the minimum {rules.min_quantity:g} (not sent)")
        stop = _nearest(order.stop_loss, rules.price_tick)
        take = _nearest(order.take_profit, rules.price_tick)
        if not stop < take:
            raise OrderRejected(229, f"INVALID_REF_PRICE: stop {stop} must be below "
                                     f"take-profit {take} (not sent)")
        legs = [
            {"instrument_name": order.symbol, "side": "SELL", "type": kind,
             "quantity": _text(quantity), "ref_price": _text(price), "client_oid": oid}
            for kind, price, oid in (("STOP_LOSS", stop, order.stop_loss_oid),
                                     ("TAKE_PROFIT", take, order.take_profit_oid))
        ]
        answer = await self._private(ADV + "create-oco", {"order_list": legs}, placing=True)
        assert answer is not None
        result = _result(answer, ADV + "create-oco")
        list_id = result.get("list_id") if isinstance(result, Mapping) else None
        if list_id in (None, ""):
            raise OutcomeUnknown("create-oco answered without a list_id: look the legs up "
                                 "by client_oid")
        now = datetime.now(UTC)

        def leg(kind: str, price: Decimal, oid: str) -> OrderState:
            return OrderState(
                symbol=order.symbol, side="SELL", client_oid=oid, exchange_order_id=None,
                order_type=kind, status="ACTIVE", quantity=float(quantity), filled_quantity=0.0,
                avg_price=None, fee=0.0, fee_currency=None, trigger_price=float(price),
                list_id=str(list_id), updated_at=now,
            )

        return ProtectionState(
            list_id=str(list_id),
            stop_loss=leg("STOP_LOSS", stop, order.stop_loss_oid),
            take_profit=leg("TAKE_PROFIT", take, order.take_profit_oid),
        )

    # -- reading and cancelling --------------------------------------------------------------

    async def lookup(self, symbol: str, client_oid: str) -> OrderState | None:
        """Plain orders first, then the advanced (trigger) ones; None if neither knows it."""
        for method in ("private/get-order-detail", ADV + "get-order-detail"):
            answer = await self._private(method, {"client_oid": client_oid}, missing_ok=True)
            if answer is not None:
                return parse_order(_result(answer, method), symbol)
        return None

    async def cancel(self, symbol: str, client_oid: str) -> OrderState | None:
        for method in ("private/cancel-order", ADV + "cancel-order"):
            params = {"instrument_name": symbol, "client_oid": client_oid}
            if await self._private(method, params, missing_ok=True) is not None:
                return await self.lookup(symbol, client_oid)
        return None

    async def cancel_protection(self, symbol: str, list_id: str) -> None:
        await self._private(ADV + "cancel-oco", {"instrument_name": symbol, "list_id": list_id},
                            missing_ok=True)

    async def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        params = {"instrument_name": symbol} if symbol else {}
        out: list[OrderState] = []
        for method in ("private/get-open-orders", ADV + "get-open-orders"):
            answer = await self._private(method, dict(params))
            assert answer is not None
            out.extend(parse_order(item, symbol) for item in _data(answer, method))
        return out

    async def balances(self) -> dict[str, float]:
        try:
            raw = await self.client.fetch_balance()
        except ExchangeFailure as failure:
            raise _translate(failure, placing=False) from None
        return {ccy: acct["total"] for ccy, acct in raw.items()}

