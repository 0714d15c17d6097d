"""Backtest: candles replayed through the rules the live platform trades with.

Each candle closes at its open time + the file's step; that moment is the clock. At it:

1. the SL/TP pairs placed at earlier closes meet this candle's path (`fills.candle_exit`:
   a leg fills at its trigger, or at the open when the candle gapped through it; both
   legs reached in one candle → the stop first);
2. the decision on the candles closed so far, with the close as a fresh price
   (`signals.evaluate`, fed by indicator series computed once: `indicator_series`;
   candles whose RSI rules out BUY and SELL, `signals.may_act`, are WAIT unevaluated);
3. a BUY / SELL goes the alert's way (`alerts.blocking_flag` with every alert switch on,
   `throttle.throttle_verdict`), then the trader's: `orders.buy_gate`, a market fill at
   the close with the taker fee (`fills.market_fill`), the position (`portfolio.entry_fill`)
   and its SL/TP (`orders.protection_levels`, `fills.check_protection`); a SELL sells all
   that is held (`portfolio.exit_pnls`) as the trader does.

Amounts are in the symbol's quote currency (BTC for ETH_BTC). No rule is written here:
this module only carries the state a database holds live (positions, balances, the
throttle's last alert, the last BUY).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from atp.analysis import DAY_MS, analyze_candle, candle_step_ms
from atp.domain.alerts import AlertFlags, blocking_flag
from atp.domain.candles import Candles, FloatArray
from atp.domain.fills import candle_exit, check_protection, default_rules, leg_fee, market_fill
from atp.domain.indicators import Indicators, indicator_series, ma10w_series
from atp.domain.orders import OpenBuy, buy_gate, floor_quantity, protection_levels
from atp.domain.portfolio import (
    base_of,
    entry_fill,
    exit_pnls,
    exit_proceeds,
    quote_of,
    realised_pnl,
    unrealised_pnl,
)
from atp.domain.presets import Preset
from atp.domain.signals import Decision, evaluate, may_act
from atp.domain.throttle import ThrottleState, accept, throttle_verdict
from atp.domain.trading import InstrumentRules, OrderRejected

STARTING_BALANCE = 10_000.0  # as the paper account's default (PAPER_BALANCE_USD)


def backtest_rules(symbol: str, candles: Candles, trade_amount: float,
                   taker_fee: float | None = None) -> InstrumentRules:
    """The paper broker's rules with grids fitted to the file (a CSV carries none): a
    price tick of about 5 significant digits of the lowest price, a quantity tick of
    1/10,000 of a trade at the highest."""
    base = default_rules(symbol)
    low = float(np.min(candles.low[candles.low > 0])) if np.any(candles.low > 0) else 1.0
    high = float(np.max(candles.high)) or 1.0
    price_tick = 10.0 ** (math.floor(math.log10(low)) - 5)
    qty = trade_amount / high if trade_amount > 0 else 1.0
    quantity_tick = 10.0 ** (math.floor(math.log10(qty)) - 4)
    return replace(base, price_tick=price_tick, quantity_tick=quantity_tick,
                   min_quantity=quantity_tick, min_notional=0.0,
                   taker_fee=base.taker_fee if taker_fee is None else taker_fee)


@dataclass
class Trade:
    """One position: opened by a filled BUY, closed by its SL, its TP or a SELL."""

    opened_at: str
    entry_price: float
    quantity: float  # held after the entry fee (what SL/TP and SELL sell)
    cost: float  # quote spent, entry fee included
    entry_fee: float  # in quote
    stop_loss: float | None  # None: the pair was refused, the position is unprotected
    take_profit: float | None
    closed_at: str | None = None
    closed_by: str = "open"  # stop_loss | take_profit | sell | open (at the end)
    exit_price: float | None = None
    exit_fee: float = 0.0
    pnl: float | None = None  # realised; for an open one, unrealised at the last close

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Position:
    trade: Trade
    opened_at: datetime
    entry_price: float
    quantity: float
    cost: float
    protected: bool


@dataclass(frozen=True, slots=True)
class Summary:
    candles: int
    trades: int  # closed
    open_trades: int
    wins: int
    losses: int
    win_rate_pct: float | None
    realised_pnl: float
    unrealised_pnl: float
    fees: float
    starting_balance: float
    final_equity: float
    return_pct: float
    max_drawdown: float
    max_drawdown_pct: float
    exposure_pct: float  # share of candle closes with a position open
    max_exposure: float  # the largest value held, in quote
    decisions: dict[str, int]
    outcomes: dict[str, int]  # alert and order outcomes: THROTTLED, BLOCKED:<gate>, FILLED…

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BacktestResult:
    symbol: str
    preset: str
    quote: str
    trade_amount: float
    rules: InstrumentRules
    trades: list[Trade]
    summary: Summary
    times: list[int] = field(repr=False)  # close time of each candle, epoch ms
    equity: list[float] = field(repr=False)  # equity at each close, in quote

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "preset": self.preset, "quote": self.quote,
                "trade_amount": self.trade_amount, "taker_fee": self.rules.taker_fee,
                "trades": [t.to_dict() for t in self.trades],
                "summary": self.summary.to_dict()}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _nullable(values: FloatArray) -> list[float | None]:
    column: list[float | None] = values.tolist()
    return [None if v != v else v for v in column]  # NaN → None


def fast_decisions(candles: Candles, preset: Preset, daily: Candles | None = None,
                   buy_target: float | None = None, every: bool = False
                   ) -> Iterator[Decision | None]:
    """The decision at each close: indicators computed once over the whole series, then
    `evaluate` per candle with them (the same values as on each prefix). `None` is a
    WAIT not evaluated: `signals.may_act` rules out BUY and SELL from the RSI alone
    (about 70 % of candles); `every` evaluates those too."""
    n = len(candles)
    step = candle_step_ms(candles)
    series = indicator_series(candles)
    acts: list[bool] = [True] * n if every else may_act(series.rsi, preset).tolist()
    columns = [_nullable(a) for a in (series.rsi, series.ma50, series.ma200, series.ema10,
                                      series.atr, series.volume_ratio)]
    ends = candles.timestamp + step
    closed: list[int] = [0] * n
    ma10w: list[float | None] = [None] * n
    if daily is not None:
        counts = np.searchsorted(daily.timestamp, ends - DAY_MS, side="right")
        closed = counts.tolist()
        ma10w = _nullable(ma10w_series(daily.close, counts))
    closes: list[float] = candles.close.tolist()
    end_ms: list[int] = ends.tolist()
    rows = zip(closes, *columns, ma10w, strict=True)
    for i, row in enumerate(rows):
        if not acts[i]:
            yield None
            continue
        now = datetime.fromtimestamp(end_ms[i] / 1000, tz=UTC)
        daily_close = None
        cause = "no daily candle file (--daily)"
        if daily is not None:
            cause = "none closed by then"
            daily_close = daily.close[: closed[i]] if closed[i] else None
        # `evaluate` reads the candles only to explain an unknown indicator: the prefix
        # view is built only then (it costs as much as a third of the decision)
        known = None not in row[1:7]
        yield evaluate(candles if known else candles.head(i + 1), preset, price=row[0],
                       price_at=now, now=now,
                       buy_target=buy_target, daily_close=daily_close, daily_cause=cause,
                       indicators=Indicators(*row))


def naive_decisions(candles: Candles, preset: Preset, daily: Candles | None = None,
                    buy_target: float | None = None) -> Iterator[Decision]:
    """The decision at each close re-evaluated on the whole prefix, as `atp analyze --all`
    and a live cycle do: the reference the fast way is measured and checked against."""
    step = candle_step_ms(candles)
    for end in range(1, len(candles) + 1):
        yield analyze_candle(candles.head(end), preset, buy_target, daily, step)


def run_backtest(candles: Candles, preset: Preset, *, symbol: str, trade_amount: float = 100.0,
                 daily: Candles | None = None, rules: InstrumentRules | None = None,
                 starting_balance: float = STARTING_BALANCE, naive: bool = False,
                 every: bool = False, buy_target: float | None = None) -> BacktestResult:
    """Replay `candles` (see the module docstring for the order of events per candle).
    `naive`: decisions re-evaluated on each prefix; `every`: the fast way without the
    RSI pre-check (both for the benchmark and the tests: same trades)."""
    rules = rules or backtest_rules(symbol, candles, trade_amount)
    decisions: Iterator[Decision | None] = (
        naive_decisions(candles, preset, daily, buy_target) if naive
        else fast_decisions(candles, preset, daily, buy_target, every))
    base, quote = base_of(symbol), quote_of(symbol)
    step = candle_step_ms(candles)
    opens: list[float] = candles.open.tolist()
    highs: list[float] = candles.high.tolist()
    lows: list[float] = candles.low.tolist()
    closes: list[float] = candles.close.tolist()
    end_ms: list[int] = (candles.timestamp + step).tolist()
    flags = AlertFlags()
    cash, held_base = starting_balance, 0.0
    positions: list[_Position] = []
    trades: list[Trade] = []
    last_alert: ThrottleState | None = None
    last_buy_at: datetime | None = None
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    equity: list[float] = []
    fees = 0.0
    exposed = 0
    max_exposure = 0.0

    def close(p: _Position, by: str, at: datetime, price: float, fee: float,
              pnl: float) -> None:
        t = p.trade
        t.closed_at, t.closed_by = at.isoformat().replace("+00:00", "Z"), by
        t.exit_price, t.exit_fee, t.pnl = price, fee, pnl

    for i, decision in enumerate(decisions):
        price = closes[i]
        now: datetime | None = None
        # 1. protection legs on this candle's path
        if positions:
            for p in [p for p in positions if p.protected]:
                assert p.trade.stop_loss is not None and p.trade.take_profit is not None
                hit = candle_exit(p.trade.stop_loss, p.trade.take_profit, opens[i], highs[i],
                                  lows[i])
                if hit is None:
                    continue
                kind, at_price = hit
                now = now or datetime.fromtimestamp(end_ms[i] / 1000, tz=UTC)
                fee = leg_fee(p.quantity, at_price, rules)
                held_base -= p.quantity
                cash += p.quantity * at_price - fee
                fees += fee
                proceeds = exit_proceeds(symbol, p.quantity, at_price, fee, quote)
                pnl = realised_pnl(p.cost, p.quantity, p.quantity, proceeds)
                close(p, "stop_loss" if kind == "STOP_LOSS" else "take_profit", now, at_price,
                      fee, pnl)
                positions.remove(p)
                outcomes["FILLED:" + ("SL" if kind == "STOP_LOSS" else "TP")] += 1
        # 2. the decision at this close; 3. alert → intent → order
        side = None if decision is None else decision.side
        kinds["WAIT" if decision is None else decision.decision] += 1
        if side is not None and blocking_flag(flags, side) is None:
            now = now or datetime.fromtimestamp(end_ms[i] / 1000, tz=UTC)
            verdict = throttle_verdict(last_alert, side, price, now, preset.cooldown_minutes,
                                       preset.min_price_change_pct)
            if not verdict.allowed:
                outcomes["THROTTLED"] += 1
            else:
                last_alert = accept(side, price, now)
                if trade_amount <= 0:
                    outcomes["NO_INTENT"] += 1  # as live: no trade amount, no intent
                elif side == "BUY":
                    gate = buy_gate(
                        base=base, price=price, now=now,
                        open_buys=[OpenBuy(p.entry_price, p.opened_at, p.quantity * price)
                                   for p in positions],
                        last_buy_at=last_buy_at, holdings_usd=0.0,
                        trade_amount_usd=trade_amount,
                        min_price_change_pct=preset.min_price_change_pct)
                    if not gate.allowed:
                        outcomes[f"BLOCKED:{gate.gate}"] += 1
                    else:
                        try:
                            fill = market_fill("BUY", price, rules, cash, notional=trade_amount)
                        except OrderRejected as exc:
                            outcomes[f"REJECTED:{exc.code}"] += 1
                        else:
                            last_buy_at = now
                            cash -= fill.quantity * price
                            held_base += fill.quantity - fill.fee
                            fees += fill.fee * price
                            position = entry_fill(symbol, fill.quantity, price, fill.fee, base,
                                                  rules.quantity_tick)
                            assert decision is not None
                            levels = protection_levels(price, decision.indicators.atr, preset,
                                                       rules.price_tick)
                            reserved = sum(p.quantity for p in positions if p.protected)
                            qty = floor_quantity(position.quantity, rules.quantity_tick)
                            try:
                                check_protection(levels.stop_loss, levels.take_profit, price,
                                                 qty, held_base - reserved)
                                protected = True
                            except OrderRejected:
                                protected = False
                                outcomes["PROTECTION_REFUSED"] += 1
                            trade = Trade(
                                opened_at=now.isoformat().replace("+00:00", "Z"),
                                entry_price=price, quantity=position.quantity,
                                cost=position.cost, entry_fee=fill.fee * price,
                                stop_loss=levels.stop_loss if protected else None,
                                take_profit=levels.take_profit if protected else None)
                            trades.append(trade)
                            positions.append(_Position(trade, now, price, position.quantity,
                                                       position.cost, protected))
                            outcomes["FILLED:BUY"] += 1
                elif not positions:
                    outcomes["BLOCKED:position"] += 1
                else:
                    # the SL/TP legs are cancelled first: then all the base is free
                    qty = floor_quantity(sum(p.quantity for p in positions),
                                         rules.quantity_tick)
                    try:
                        fill = market_fill("SELL", price, rules, held_base, quantity=qty)
                    except OrderRejected as exc:
                        outcomes[f"REJECTED:{exc.code}"] += 1  # the legs are placed again
                    else:
                        held_base -= fill.quantity
                        cash += fill.quantity * price - fill.fee
                        fees += fill.fee
                        proceeds = exit_proceeds(symbol, fill.quantity, price, fill.fee, quote)
                        pnls = exit_pnls([(p.cost, p.quantity) for p in positions],
                                         fill.quantity, proceeds)
                        share = fill.fee / fill.quantity if fill.quantity else 0.0
                        for p, pnl in zip(positions, pnls, strict=True):
                            close(p, "sell", now, price, share * p.quantity, pnl)
                        positions.clear()
                        outcomes["FILLED:SELL"] += 1
        # equity at this close
        value = held_base * price
        equity.append(cash + value)
        if positions:
            exposed += 1
            max_exposure = max(max_exposure, value)

    last = closes[-1] if closes else 0.0
    for p in positions:
        p.trade.pnl = unrealised_pnl(p.quantity, p.cost / p.quantity if p.quantity else 0.0,
                                     last)
    summary = _summary(trades, equity, starting_balance, fees, exposed, max_exposure,
                       kinds, outcomes)
    return BacktestResult(symbol, preset.name, quote, trade_amount, rules, trades, summary,
                          end_ms, equity)


def _summary(trades: list[Trade], equity: list[float], start: float, fees: float,
             exposed: int, max_exposure: float, kinds: Counter[str],
             outcomes: Counter[str]) -> Summary:
    closed = [t for t in trades if t.closed_by != "open"]
    wins = sum(1 for t in closed if (t.pnl or 0.0) > 0)
    curve = np.asarray(equity if equity else [start], dtype=np.float64)
    peaks = np.maximum.accumulate(np.concatenate(([start], curve)))[1:]
    drops = peaks - curve
    worst = int(np.argmax(drops)) if drops.size else 0
    final = float(curve[-1])
    return Summary(
        candles=len(equity), trades=len(closed), open_trades=len(trades) - len(closed),
        wins=wins, losses=len(closed) - wins,
        win_rate_pct=round(100 * wins / len(closed), 2) if closed else None,
        realised_pnl=round(sum(t.pnl or 0.0 for t in closed), 10),
        unrealised_pnl=round(sum(t.pnl or 0.0 for t in trades if t.closed_by == "open"), 10),
        fees=round(fees, 10), starting_balance=start, final_equity=round(final, 10),
        return_pct=round(100 * (final - start) / start, 4) if start else 0.0,
        max_drawdown=round(float(drops[worst]), 10) if drops.size else 0.0,
        max_drawdown_pct=round(100 * float(drops[worst] / peaks[worst]), 4)
        if drops.size and peaks[worst] > 0 else 0.0,
        exposure_pct=round(100 * exposed / len(equity), 2) if equity else 0.0,
        max_exposure=round(max_exposure, 10),
        decisions={k: kinds.get(k, 0) for k in ("BUY", "SELL", "WAIT")},
        outcomes=dict(sorted(outcomes.items())),
    )
