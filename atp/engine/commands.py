"""Telegram's commands as calls of the one core: each answer is translated to text here.

The bot (`atp.telegram.poller`) moves text between Telegram and this `CommandCore`;
what /signals says is `Core.coins()` — the same record the API and the dashboard show —
and `/alerts SYMBOL buy off` is `Core.set_alert_flag`, the API's audited write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from atp.domain.portfolio import quote_of
from atp.engine.core import Core, CoreError
from atp.engine.status import PlatformStatus
from atp.telegram import menu as screens
from atp.telegram.format import format_pct, format_price, format_signed, format_usd
from atp.telegram.menu import MenuView

DEFAULT_PRESET = "swing-conservative"  # what /add uses without a preset (as the API does)
Evaluate = Callable[[str], Awaitable[dict[str, Any]]]

EXECUTED_SHOWN = 20  # executed orders in /orders (the API pages through all of them)


def _mode(mode: str) -> str:
    return "paper, dry run" if mode == "paper" else "LIVE"


def portfolio_text(p: dict[str, Any]) -> str:
    """Balances in USD and the total, positions with SL/TP and unrealised P&L, and the
    expected take-profit: the values of GET /api/portfolio."""
    total = f"Portfolio ({_mode(p['mode'])}): total {format_usd(p['total_usd'])} USD"
    if p["unvalued"]:
        total += f" (without {', '.join(p['unvalued'])}: no price)"
    lines = [total]
    if p.get("balances_error"):
        lines.append(p["balances_error"])
    lines.append("Balances:")
    if not p["balances"]:
        lines.append("none")
    for b in p["balances"]:
        if b["value_usd"] is None:
            lines.append(f"{b['currency']}: {format_price(b['amount'])} — {b['reason']}")
        elif b["price_source"] == "1:1":
            lines.append(f"{b['currency']}: {format_price(b['amount'])} = "
                         f"{format_usd(b['value_usd'])} USD")
        else:
            lines.append(f"{b['currency']}: {format_price(b['amount'])} × "
                         f"{format_price(b['price_usd'])} = {format_usd(b['value_usd'])} USD")
    lines.append("Positions:" if p["positions"] else "Positions: none")
    for pos in p["positions"]:
        protection = (f"SL {format_price(pos['stop_loss'])} / TP {format_price(pos['take_profit'])}"
                      if pos["protected"] else "UNPROTECTED (no SL/TP)")
        lines.append(f"{pos['symbol']}: {format_price(pos['quantity'])} @ "
                     f"{format_price(pos['avg_entry'])}, mark {format_price(pos['mark_price'])}, "
                     f"unrealised {format_signed(pos['unrealised_pnl'])} {quote_of(pos['symbol'])} "
                     f"({format_pct(pos['unrealised_pnl_pct'])}), {protection}")
    if p["expected_take_profit"]:
        lines.append("Expected take-profit:")
    for tp in p["expected_take_profit"]:
        lines.append(f"{tp['symbol']}: covered {format_price(tp['covered'])} of "
                     f"{format_price(tp['held'])} (uncovered {format_price(tp['uncovered'])}), "
                     f"profit at TP {format_signed(tp['profit_at_tp'])} {quote_of(tp['symbol'])}")
    return "\n".join(lines)


def orders_text(open_orders: dict[str, Any], executed: dict[str, Any]) -> str:
    """Open orders (SL/TP legs included) and the latest executed ones with fee and P&L."""
    lines = [f"Open orders ({open_orders['total']}):" if open_orders["orders"]
             else "Open orders: none"]
    for o in open_orders["orders"]:
        what = (f" trigger {format_price(o['trigger_price'])}" if o["trigger_price"]
                else "")
        qty = o["quantity"] if o["quantity"] is not None else o["notional"]
        lines.append(f"{o['symbol']} {o['side']} {o['role']} {format_price(qty)}{what} · "
                     f"{o['status']} ({o['mode']})")
    shown, total = len(executed["orders"]), executed["total"]
    lines.append(f"Executed orders (latest {shown} of {total}):" if shown
                 else "Executed orders: none")
    for o in executed["orders"]:
        line = (f"{o['executed_at']:%Y-%m-%d %H:%M} {o['symbol']} {o['side']} {o['role']} "
                f"{format_price(o['quantity'])} @ {format_price(o['avg_price'])}, "
                f"fee {format_price(o['fee'])} {o['fee_currency'] or ''}".rstrip())
        if o["side"] == "SELL":
            line += f", P&L {format_signed(o['realised_pnl'])} {quote_of(o['symbol'])}"
        lines.append(line)
    return "\n".join(lines)


def pnl_text(p: dict[str, Any]) -> str:
    """Realised today and in total, unrealised: the values of GET /api/pnl."""
    lines = [f"P&L ({_mode(p['mode'])}):",
             f"Realised today: {format_signed(p['realised_today'])} USD "
             f"({p['closed_today']} closed since {p['day_start']:%Y-%m-%d} 00:00 UTC)",
             f"Realised total: {format_signed(p['realised_total'])} USD "
             f"({p['closed_total']} closed)",
             f"Unrealised: {format_signed(p['unrealised'])} USD"]
    if p["unpriced_positions"]:
        lines[-1] += f" (without {p['unpriced_positions']} position(s): no price yet)"
    if p.get("unpriced_closed"):
        lines.append(f"Not in the realised sums: {p['unpriced_closed']} closed position(s) "
                     "whose quote currency has no USD price")
    return "\n".join(lines)


def status_text(status: PlatformStatus) -> str:
    last = status.last_cycle
    lines = [f"ATP {status.instance}"]
    if last is None:
        lines.append("Monitor: no cycle completed yet")
    else:
        ago = status.last_update_seconds_ago or 0.0
        lines.append(f"Monitor: cycle {last.cycle_id}, {last.symbols} symbols, "
                     f"{last.duration_ms:.0f} ms, {ago:.0f} s ago")
        lines.append("Decisions: " + ", ".join(f"{k} {v}" for k, v in
                                              sorted(last.decisions.items())))
    o = status.outbox
    lines.append(f"Alerts: {o.sent} sent, {o.failed} failed, {o.retries} retries")
    if status.telegram.polling or status.telegram.conflicts:
        lines.append(f"Telegram 409 conflicts: {status.telegram.conflicts}")
    return "\n".join(lines)


class CommandAnswers:
    """Implements the bot's `CommandCore` over `Core`. Every write is audited as the
    Telegram user who asked (`telegram:@name`, or `telegram` when Telegram names none)."""

    def __init__(self, core: Core, status: Callable[[], PlatformStatus],
                 balance: Callable[[], Awaitable[Any]] | None = None,
                 evaluate: Evaluate | None = None) -> None:
        """`evaluate(symbol)`: a fresh, unrecorded decision by the monitor's own engine
        (`SignalMonitor.evaluate_now`), for /analyze of a symbol without a recorded one."""
        self.core, self._status, self._balance = core, status, balance
        self._evaluate = evaluate

    async def status(self) -> str:
        return status_text(self._status())

    async def signals(self) -> str:
        coins = await self.core.coins()
        if not coins:
            return "The watchlist is empty."
        lines = ["Latest decisions:"]
        for c in coins:
            if c["decision"] is None:
                lines.append(f"{c['symbol']}: {c['error'] or 'no decision yet'}")
                continue
            line = (f"{c['symbol']}: {c['decision']} (buy index {c['buy_index']}, "
                    f"price {c['price']})")
            # the cause the domain recorded (`price stale: 74 s old`), not a flag's echo
            # of it (`buy_price_ok unknown: price unknown`)
            causes = list((c.get("unknown_inputs") or {}).values())
            if c["decision"] == "WAIT" and causes:
                line += f" — {'; '.join(causes)}"
            lines.append(f"{line} · {str(c['decision_id'])[:8]}")
        return "\n".join(lines)

    async def watchlist(self) -> str:
        rows = await self.core.watchlist()
        if not rows:
            return "The watchlist is empty."
        def line(r: dict[str, Any]) -> str:
            trade = f" trade {r['trade_amount_usd']:g} USD" if r["trade_enabled"] else ""
            return f"{r['symbol']}: {r['preset']}{'' if r['enabled'] else ' (disabled)'}{trade}"

        return "Watchlist:\n" + "\n".join(line(r) for r in rows)

    async def alerts(self, symbol: str | None, side: str | None, on: bool | None,
                     author: str = "telegram") -> str:
        if symbol is not None and side is not None and on is not None:
            try:
                await self.core.set_alert_flag(symbol, side, on, author)
            except CoreError as exc:
                return exc.message
        rows = await self.core.watchlist(symbol)
        if not rows:
            return f"{symbol} is not on the watchlist." if symbol else "The watchlist is empty."

        def mark(v: bool) -> str:
            return "on" if v else "off"

        return "\n".join(
            f"{r['symbol']}: alerts {mark(r['alert_enabled'])}, buy "
            f"{mark(r['buy_alert_enabled'])}, sell {mark(r['sell_alert_enabled'])}"
            for r in rows
        )

    async def balance(self) -> str:
        if self._balance is None:
            return "No exchange credentials configured."
        balances = await self._balance()
        if not balances:
            return "No balances."
        lines = ["Balances:"]
        for ccy, amounts in sorted(balances.items()):
            total = amounts.get("total", 0.0) if isinstance(amounts, dict) else amounts
            lines.append(f"{ccy}: {total:g}")
        return "\n".join(lines)

    async def portfolio(self) -> str:
        """`/portfolio`: the figures of GET /api/portfolio, formatted as the dashboard does."""
        return portfolio_text(await self.core.portfolio())

    async def orders(self) -> str:
        """`/orders`: GET /api/orders/open and the latest of GET /api/orders/executed."""
        return orders_text(await self.core.open_orders(),
                           await self.core.executed_orders(limit=EXECUTED_SHOWN))

    async def pnl(self) -> str:
        """`/pnl`: GET /api/pnl."""
        return pnl_text(await self.core.pnl())

    async def kill(self, on: bool | None, author: str = "telegram") -> str:
        """`/kill on|off`: the same audited switch as the API's and the dashboard's."""
        if on is None:
            state = await self.core.trading_state()
            return (f"Kill switch is {'ON: no new orders' if state['kill_switch'] else 'off'}"
                    f" (mode {state['mode']}).")
        state = await self.core.set_kill_switch(on, author)
        if state.get("kill_switch", on):
            return ("Kill switch ON: no new orders (intents are BLOCKED with reason "
                    "'kill switch'). Open orders and SL/TP stay; /panic cancels open entries.")
        return "Kill switch off: orders from accepted alerts are allowed again."

    async def panic(self, author: str = "telegram") -> str:
        """`/panic`: cancel every open ATP entry order; the SL/TP pairs stay in place."""
        result = await self.core.panic(author)
        cancelled = list(result.get("cancelled") or [])
        if not cancelled:
            return "Panic: no open ATP entry order to cancel. SL/TP orders untouched."
        return (f"Panic: cancelled {len(cancelled)} open entry order(s): "
                + ", ".join(cancelled) + ". SL/TP orders stay in place.")

    # ── /analyze, /add, /remove ─────────────────────────────────────────────────────

    async def analyze(self, symbol: str) -> str:
        """The recorded decision (what /signals and the API show), else a fresh one."""
        coin = next((c for c in await self.core.coins() if c["symbol"] == symbol), None)
        if coin is not None and coin["decision"] is not None:
            age = coin.get("decision_age_seconds")
            head = (f"{symbol}: {coin['decision']} · recorded decision "
                    f"{str(coin['decision_id'])[:8]}"
                    + (f", {age:.0f} s ago" if isinstance(age, int | float) else ""))
            return analysis_text(head, coin["preset"], coin)
        if self._evaluate is None:
            why = coin["error"] if coin is not None else "not on the watchlist"
            return f"{symbol}: no recorded decision ({why}) and no market data to evaluate."
        fresh = await self._evaluate(symbol)
        if fresh.get("error"):
            return f"{symbol}: evaluation failed: {fresh['error']}"
        why = coin["error"] if coin is not None else "not on the watchlist"
        head = f"{symbol}: {fresh['decision']} · fresh evaluation, not recorded ({why})"
        return analysis_text(head, str(fresh.get("preset")), fresh)

    async def add(self, symbol: str, preset: str | None, author: str) -> str:
        try:
            row = await self.core.add_symbol(
                {"symbol": symbol, "preset": preset or DEFAULT_PRESET, "overrides": {}}, author)
        except CoreError as exc:
            return f"Not added: {exc.message}"
        return (f"Added {row['symbol']} (preset {row['preset']}): alerts on, trading off. "
                "/menu to change it.")

    async def remove(self, symbol: str, author: str) -> str:
        try:
            await self.core.remove_symbol(symbol, author)
        except CoreError as exc:
            return f"Not removed: {exc.message}"
        return f"Removed {symbol} from the watchlist."

    # ── /menu ───────────────────────────────────────────────────────────────────────

    async def menu(self, data: str | None, author: str) -> MenuView:
        """Carry out the press (through the core, audited as `author`), then the screen.
        Stale or crafted data answers with a notice and the main menu, changing nothing."""
        if data is None:
            return screens.main_menu(self.core.instance)
        try:
            press = screens.parse_callback(data)
        except screens.BadCallback:
            return screens.main_menu(self.core.instance, notice=screens.STALE)
        notice = ""
        if press.change is not None and press.symbol is not None:
            what, value = press.change
            try:
                await self._change(press.symbol, what, value, author)
            except CoreError as exc:
                notice = exc.message[:200]
            else:
                notice = screens.change_notice(press.symbol, what, value)
        return await self._screen(press, notice)

    async def _change(self, symbol: str, what: str, value: Any, author: str) -> None:
        if what in ("buy", "sell"):
            await self.core.set_alert_flag(symbol, what, bool(value), author)
            return
        field = {"trade": "trade_enabled", "amount": "trade_amount_usd", "preset": "preset"}
        await self.core.update_symbol(symbol, {field[what]: value}, author)

    async def _screen(self, press: screens.Press, notice: str) -> MenuView:
        match press.screen:
            case "main":
                return screens.main_menu(self.core.instance, notice)
            case "watchlist":
                return screens.watchlist_menu(await self.core.watchlist(), press.page, notice)
            case "portfolio":
                return screens.text_screen(await self.portfolio(), "portfolio", notice)
            case "orders":
                return screens.text_screen(await self.orders(), "orders", notice)
            case "alerts":
                return screens.text_screen(await self.alerts(None, None, None), "alerts", notice)
            case "status":
                return screens.text_screen(await self.status(), "status", notice)
        symbol = press.symbol or ""
        rows = await self.core.watchlist(symbol)
        if not rows:
            return screens.watchlist_menu(await self.core.watchlist(), 0,
                                       notice or f"{symbol} is not on the watchlist")
        row = rows[0]
        if press.screen == "amount":
            return screens.amount_menu(row, notice)
        if press.screen == "preset":
            names = [p["name"] for p in await self.core.presets()]
            return screens.preset_menu(row, names, notice)
        coin = next((c for c in await self.core.coins() if c["symbol"] == symbol), None)
        return screens.coin_menu(row, coin, notice)

    async def test(self, symbol: str, author: str = "telegram") -> str:
        """`/test SYMBOL`: the same probe as `atp check --probe` (audited as the user who
        asked); its TEST message follows through the outbox."""
        try:
            probe = await self.core.probe(symbol, author)
        except CoreError as exc:
            return exc.message
        return (f"Probe {probe['id']} queued for {probe['symbol']}: a TEST message follows "
                f"through the outbox (never an order). GET /api/probe/{probe['id']} shows "
                "its stage.")


def _value(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_price(value)
    return str(value)


def analysis_text(head: str, preset: str, d: dict[str, Any]) -> str:
    """A decision explained: flags (✓ ✗ ?), indicators, reasons and unknown inputs."""
    indicators = d.get("indicators") or {}
    price = d.get("price") if d.get("price") is not None else indicators.get("price")
    lines = [head, f"Preset: {preset} · price {_value(price)} · buy index {d.get('buy_index')}"]
    flags = d.get("flags") or {}
    if flags:
        marks = {True: "✓", False: "✗", None: "?"}
        lines.append("Flags: " + ", ".join(f"{k} {marks.get(v, '?')}" for k, v in flags.items()))
    if indicators:
        lines.append("Indicators: " + ", ".join(f"{k} {_value(v)}"
                                                for k, v in indicators.items()))
    reasons = d.get("reasons") or []
    if reasons:
        lines.append("Reasons:")
        lines.extend(f"• {r}" for r in reasons)
    unknown = d.get("unknown_inputs") or {}
    if unknown:
        lines.append("Unknown: " + "; ".join(f"{k}: {v}" for k, v in unknown.items()))
    return "\n".join(lines)
