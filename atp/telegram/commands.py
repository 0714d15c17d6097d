"""Telegram commands without Telegram: the CommandCore port and argument parsing.

The poller only moves text between Telegram and a `CommandCore`; what /status or /signals
say is the engine's business (one core for every channel, so Telegram and the API agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class CommandCore(Protocol):
    """What the bot's commands ask the engine; every answer is ready-to-send text."""

    async def status(self) -> str: ...

    async def signals(self) -> str: ...

    async def watchlist(self) -> str: ...

    async def alerts(self, symbol: str | None, side: str | None, on: bool | None) -> str:
        """No symbol: every symbol's flags. Symbol only: its flags. All three: set one."""
        ...

    async def balance(self) -> str: ...

    async def portfolio(self) -> str: ...

    async def kill(self, on: bool | None) -> str:
        """None: say whether the kill switch is on. True/False: switch it (audited)."""
        ...

    async def panic(self) -> str:
        """Cancel every open ATP entry order (SL/TP stay) and say which."""
        ...

    async def test(self, symbol: str) -> str:
        """A TEST-marked alert for `symbol` through the real path (never an order)."""
        ...


COMMANDS: dict[str, str] = {
    "start": "introduce the bot",
    "help": "list the commands",
    "status": "is the platform healthy: monitor cycle, alerts, Telegram",
    "signals": "the latest decision per watched symbol",
    "watchlist": "the watched symbols and their settings",
    "alerts": "alert flags: /alerts [SYMBOL [buy|sell on|off]]",
    "balance": "exchange balances",
    "portfolio": "open positions and their value",
    "kill": "kill switch: /kill on (no new orders) | /kill off | /kill (state)",
    "panic": "cancel every open ATP entry order (SL/TP orders stay)",
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


def help_text(instance: str) -> str:
    lines = [f"ATP bot ({instance}). Commands:"]
    lines.extend(f"/{name} — {what}" for name, what in COMMANDS.items())
    return "\n".join(lines)


async def answer(core: CommandCore, command: str, args: Sequence[str], instance: str) -> str:
    """The reply to `/command args…`; exceptions from the core propagate to the caller."""
    match command:
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
            return await core.alerts(req.symbol, req.side, req.on)
        case "balance":
            return await core.balance()
        case "portfolio":
            return await core.portfolio()
        case "kill":
            try:
                on = parse_kill(args)
            except UsageError as exc:
                return str(exc)
            return await core.kill(on)
        case "panic":
            return await core.panic()
        case "test":
            if len(args) != 1:
                return TEST_USAGE
            return await core.test(args[0].upper().replace("/", "_").replace("-", "_"))
    return f"Unknown command /{command}. Send /help for the list."
