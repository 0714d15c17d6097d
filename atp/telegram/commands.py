"""Telegram commands without Telegram: the CommandCore port and argument parsing.

The poller only moves text between Telegram and a `CommandCore`; what /status or /signals
say is the engine's business (one core for every channel, so Telegram and the API agree).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from atp.telegram.menu import MenuView


class CommandCore(Protocol):
    """What the bot's commands ask the engine; every answer is ready-to-send text."""

    async def status(self) -> str: ...

    async def signals(self) -> str: ...

    async def watchlist(self) -> str: ...

    async def alerts(self, symbol: str | None, side: str | None, on: bool | None,
                     author: str) -> str:
        """No symbol: every symbol's flags. Symbol only: its flags. All three: set one
        (audited as `author`)."""
        ...

    async def balance(self) -> str: ...

    async def portfolio(self) -> str:
        """Balances in USD, positions with SL/TP and P&L, expected take-profit."""
        ...

    async def orders(self) -> str:
        """Open orders (SL/TP included) and the latest executed ones with fee and P&L."""
        ...

    async def pnl(self) -> str:
        """Realised P&L today and in total, unrealised P&L."""
        ...

    async def kill(self, on: bool | None, author: str) -> str:
        """None: say whether the kill switch is on. True/False: switch it (audited as
        `author`)."""
        ...

    async def panic(self, author: str) -> str:
        """Cancel every open ATP entry order (SL/TP stay) and say which (audited as
        `author`)."""
        ...

    async def menu(self, data: str | None, author: str) -> MenuView:
        """The /menu screen for callback `data` (None: the main menu), after carrying out
        the change the button stands for (audited as `author`)."""
        ...

    async def analyze(self, symbol: str) -> str:
        """The recorded latest decision of `symbol`, or a fresh one by the same engine."""
        ...

    async def add(self, symbol: str, preset: str | None, author: str) -> str: ...

    async def remove(self, symbol: str, author: str) -> str: ...

    async def test(self, symbol: str, author: str) -> str:
        """A TEST-marked alert for `symbol` through the real path (never an order),
        requested by `author`."""
        ...



COMMANDS: dict[str, str] = {
    "start": "introduce the bot",
    "help": "list the commands",
    "status": "is the platform healthy: monitor cycle, alerts, Telegram",
    "signals": "the latest decision per watched symbol",
    "watchlist": "the watched symbols and their settings",
    "alerts": "alert flags: /alerts [SYMBOL [buy|sell on|off]]",
    "balance": "exchange balances",
    "portfolio": "balances in USD, positions with SL/TP and P&L, expected take-profit",
    "orders": "open orders (SL/TP included) and the latest executed ones",
    "pnl": "realised P&L today and in total, unrealised P&L",
    "kill": "kill switch: /kill on (no new orders) | /kill off | /kill (state)",
    "panic": "cancel every open ATP entry order (SL/TP orders stay)",
    "menu": "buttons: watchlist, coins (alerts, trade, amount, preset), portfolio, orders",
    "analyze": "/analyze SYMBOL — its latest decision: flags, indicators, reasons",
    "add": "/add SYMBOL [PRESET] — watch a coin (alerts on, trading off)",
    "remove": "/remove SYMBOL — stop watching a coin",
    "test": "a TEST-marked alert through the real path (never an order): /test SYMBOL",
}

ALERTS_USAGE = (
    "Usage: /alerts — all flags; /alerts BTC_USDT — one symbol; "
    "/alerts BTC_USDT buy off — switch a side on or off."
)

_ON = {"on": True, "true": True, "yes": True, "1": True,
       "off": False, "false": False, "no": False, "0": False}


TEST_USAGE = "Usage: /test SYMBOL — e.g. /test BTC_USDT: a TEST alert, never an order."
KILL_USAGE = "Usage: /kill on — stop new orders; /kill off — allow them; /kill — the state."


ANALYZE_USAGE = "Usage: /analyze SYMBOL, e.g. /analyze BTC_USDT"
ADD_USAGE = "Usage: /add SYMBOL [PRESET], e.g. /add ETH_USDT swing-conservative"
REMOVE_USAGE = "Usage: /remove SYMBOL, e.g. /remove ETH_USDT"
_SYMBOL = re.compile(r"^[A-Z0-9]{1,16}_[A-Z0-9]{1,16}$")
_PRESET = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class UsageError(ValueError):
    """The command's arguments are wrong; the message is the answer to send."""


@dataclass(frozen=True)
class AlertsRequest:
    symbol: str | None = None
    side: str | None = None
    on: bool | None = None


def parse_alerts(args: Sequence[str]) -> AlertsRequest:
    """`[]`, `[SYMBOL]` or `[SYMBOL, buy|sell, on|off]`, case-insensitive."""
    if not args:
        return AlertsRequest()
    symbol = args[0].upper().replace("/", "_").replace("-", "_")
    if len(args) == 1:
        return AlertsRequest(symbol)
    if len(args) != 3:
        raise UsageError(ALERTS_USAGE)
    side = args[1].lower()
    if side not in ("buy", "sell"):
        raise UsageError(f"Side must be buy or sell, not '{args[1]}'. {ALERTS_USAGE}")
    on = _ON.get(args[2].lower())
    if on is None:
        raise UsageError(f"Say on or off, not '{args[2]}'. {ALERTS_USAGE}")
    return AlertsRequest(symbol, side, on)


def parse_kill(args: Sequence[str]) -> bool | None:
    """`[]` (ask) or `[on|off]`."""
    if not args:
        return None
    on = _ON.get(args[0].lower()) if len(args) == 1 else None
    if on is None:
        raise UsageError(KILL_USAGE)
    return on


def parse_symbol(args: Sequence[str], usage: str, extra: int = 0) -> str:
    """One SYMBOL (BTC_USDT, btc/usdt, BTC-USDT) and at most `extra` more words."""
    if not args or len(args) > 1 + extra:
        raise UsageError(usage)
    symbol = args[0].upper().replace("/", "_").replace("-", "_")
    if not _SYMBOL.match(symbol):
        raise UsageError(f"'{args[0]}' is not a symbol like BTC_USDT. {usage}")
    return symbol


def parse_add(args: Sequence[str]) -> tuple[str, str | None]:
    symbol = parse_symbol(args, ADD_USAGE, extra=1)
    preset = args[1].lower() if len(args) > 1 else None
    if preset is not None and not _PRESET.match(preset):
        raise UsageError(f"'{args[1]}' is not a preset name. {ADD_USAGE}")
    return symbol, preset


def help_text(instance: str) -> str:
    lines = [f"ATP bot ({instance}). Commands:"]
    lines.extend(f"/{name} — {what}" for name, what in COMMANDS.items())
    return "\n".join(lines)


async def answer(core: CommandCore, command: str, args: Sequence[str], instance: str,
                 author: str = "telegram") -> str | MenuView:
    """The reply to `/command args…` (/menu: a screen with buttons); exceptions from the
    core propagate to the caller. `author` is who the audit names for a change."""
    try:
        return await _answer(core, command, args, instance, author)
    except UsageError as exc:
        return str(exc)


async def _answer(core: CommandCore, command: str, args: Sequence[str], instance: str,
                  author: str) -> str | MenuView:
    match command:
        case "menu":
            return await core.menu(None, author)
        case "analyze":
            return await core.analyze(parse_symbol(args, ANALYZE_USAGE))
        case "add":
            symbol, preset = parse_add(args)
            return await core.add(symbol, preset, author)
        case "remove":
            return await core.remove(parse_symbol(args, REMOVE_USAGE), author)
        case "start" | "help":
            return help_text(instance)
        case "status":
            return await core.status()
        case "signals":
            return await core.signals()
        case "watchlist":
            return await core.watchlist()
        case "alerts":
            try:
                req = parse_alerts(args)
            except UsageError as exc:
                return str(exc)
            return await core.alerts(req.symbol, req.side, req.on, author)
        case "balance":
            return await core.balance()
        case "portfolio":
            return await core.portfolio()
        case "orders":
            return await core.orders()
        case "pnl":
            return await core.pnl()
        case "kill":
            try:
                on = parse_kill(args)
            except UsageError as exc:
                return str(exc)
            return await core.kill(on, author)
        case "panic":
            return await core.panic(author)
        case "test":
            if len(args) != 1:
                return TEST_USAGE
            return await core.test(args[0].upper().replace("/", "_").replace("-", "_"),
                                   author)
    return f"Unknown command /{command}. Send /help for the list."
