"""The /menu screens as plain data: keyboards built from state, callback data parsed.

Pure on purpose (no Telegram, no core): what a button says and what its callback data
means are unit-tested here; `atp.engine.commands` carries the change out through the core,
and the poller turns a `MenuView` into an InlineKeyboardMarkup.

Callback data (Telegram allows 1-64 bytes; a client may send any bytes, so every press is
parsed and validated again, never trusted):

    m                      main menu
    m:watchlist[:PAGE]     the watched coins, one button each
    m:portfolio | m:orders | m:alerts | m:status
    c:SYMBOL               one coin's switches
    c:SYMBOL:buy:on|off    buy alerts      c:SYMBOL:sell:on|off   sell alerts
    c:SYMBOL:trade:on|off  trading         c:SYMBOL:amount[:USD]  trade amount (choices)
    c:SYMBOL:preset[:NAME] the preset (chooser, then the choice)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_CALLBACK_DATA = 64  # bytes
AMOUNTS = (10, 25, 50, 100, 250, 500)  # USD per order offered by the amount chooser
PAGE_SIZE = 24  # coin buttons per watchlist page (3 per row)
SCREENS = ("watchlist", "portfolio", "orders", "alerts", "status")
SWITCHES = ("buy", "sell", "trade")
_SYMBOL = re.compile(r"^[A-Z0-9]{1,16}_[A-Z0-9]{1,16}$")
_PRESET = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
STALE = "This button is no longer valid; send /menu again."


class BadCallback(ValueError):
    """Callback data that no button of ours carries (stale, crafted, or mangled)."""


@dataclass(frozen=True)
class Button:
    text: str
    data: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.data.encode()) <= MAX_CALLBACK_DATA:
            raise ValueError(f"callback data must be 1-64 bytes: {self.data!r}")


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class MenuView:
    """A screen: its text and its keyboard; `notice` is the callback answer (the toast)."""

    text: str
    keyboard: Keyboard = ()
    notice: str = ""


@dataclass(frozen=True)
class Press:
    """A parsed button press. `screen`: main, watchlist, portfolio, orders, alerts, status,
    coin, amount or preset; `change`: (what, value) to apply to `symbol` first."""

    screen: str
    symbol: str | None = None
    page: int = 0
    change: tuple[str, Any] | None = field(default=None)


def parse_callback(data: str | None) -> Press:
    """The press behind `data`; BadCallback when no button of ours says that."""
    parts = (data or "").split(":")
    match parts:
        case ["m"]:
            return Press("main")
        case ["m", "watchlist", *page] if len(page) <= 1:
            return Press("watchlist", page=_page(page[0]) if page else 0)
        case ["m", screen] if screen in SCREENS:
            return Press(screen)
        case ["c", symbol, *rest]:
            return _coin_press(_symbol(symbol), rest)
    raise BadCallback(f"unknown callback data {data!r}")


def _coin_press(symbol: str, rest: list[str]) -> Press:
    match rest:
        case []:
            return Press("coin", symbol)
        case [switch, ("on" | "off") as state] if switch in SWITCHES:
            return Press("coin", symbol, change=(switch, state == "on"))
        case ["amount"]:
            return Press("amount", symbol)
        case ["amount", usd] if usd.isdigit() and int(usd) in AMOUNTS:
            return Press("coin", symbol, change=("amount", int(usd)))
        case ["preset"]:
            return Press("preset", symbol)
        case ["preset", name] if _PRESET.match(name):
            return Press("coin", symbol, change=("preset", name))
    raise BadCallback(f"unknown action for {symbol}: {':'.join(rest)!r}")


def _symbol(text: str) -> str:
    if not _SYMBOL.match(text):
        raise BadCallback(f"not a symbol: {text!r}")
    return text


def _page(text: str) -> int:
    if not text.isdigit() or len(text) > 4:
        raise BadCallback(f"not a page: {text!r}")
    return int(text)


# ── screens ─────────────────────────────────────────────────────────────────────────

BACK_MAIN = Button("« Menu", "m")


def _onoff(value: object) -> str:
    return "on" if value else "off"


def main_menu(instance: str, notice: str = "") -> MenuView:
    return MenuView(
        f"ATP {instance}: choose.",
        ((Button("📋 Watchlist", "m:watchlist"), Button("💼 Portfolio", "m:portfolio")),
         (Button("📑 Orders", "m:orders"), Button("🔔 Alerts", "m:alerts")),
         (Button("🩺 Status", "m:status"),)),
        notice)


def text_screen(text: str, screen: str, notice: str = "") -> MenuView:
    """A read-only screen (portfolio, orders, alerts, status): refresh and back."""
    return MenuView(text, ((Button("🔄 Refresh", f"m:{screen}"), BACK_MAIN),), notice)


def watchlist_menu(rows: Sequence[Mapping[str, Any]], page: int = 0,
                   notice: str = "") -> MenuView:
    """One button per watched coin (`●` = trading on), paged."""
    if not rows:
        return MenuView("The watchlist is empty. Add a coin with /add SYMBOL.", ((BACK_MAIN,),),
                        notice)
    pages = (len(rows) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    shown = rows[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    buttons = [Button(f"{'● ' if r['trade_enabled'] else ''}{r['symbol']}", f"c:{r['symbol']}")
               for r in shown]
    keyboard = [tuple(buttons[i:i + 3]) for i in range(0, len(buttons), 3)]
    nav = []
    if page > 0:
        nav.append(Button("‹ Prev", f"m:watchlist:{page - 1}"))
    if page < pages - 1:
        nav.append(Button("Next ›", f"m:watchlist:{page + 1}"))
    keyboard.append((*nav, BACK_MAIN))
    head = f"Watchlist: {len(rows)} coins" + (f" (page {page + 1}/{pages})" if pages > 1 else "")
    return MenuView(f"{head}. ● = trading on. Pick a coin.", tuple(keyboard), notice)


def coin_text(row: Mapping[str, Any], coin: Mapping[str, Any] | None = None) -> str:
    lines = [f"{row['symbol']} · preset {row['preset']}"
             + ("" if row.get("enabled", True) else " (disabled)"),
             f"Alerts: buy {_onoff(row['buy_alert_enabled'])}, sell "
             f"{_onoff(row['sell_alert_enabled'])}"
             + ("" if row.get("alert_enabled", True) else " (all alerts off)"),
             f"Trading: {_onoff(row['trade_enabled'])}, "
             f"{float(row.get('trade_amount_usd') or 0):g} USD per order"]
    if coin is not None and coin.get("decision"):
        lines.append(f"Latest: {coin['decision']} (buy index {coin.get('buy_index')}, "
                     f"price {coin.get('price')})")
    elif coin is not None and coin.get("error"):
        lines.append(f"Latest: {coin['error']}")
    return "\n".join(lines)


def coin_menu(row: Mapping[str, Any], coin: Mapping[str, Any] | None = None,
              notice: str = "") -> MenuView:
    """A coin's switches; each button says what pressing it does."""
    s = row["symbol"]

    def switch(label: str, key: str, on: bool) -> Button:
        return Button(f"{label}: {_onoff(on)} → {_onoff(not on)}",
                      f"c:{s}:{key}:{_onoff(not on)}")

    keyboard = (
        (switch("Buy alerts", "buy", bool(row["buy_alert_enabled"])),
         switch("Sell alerts", "sell", bool(row["sell_alert_enabled"]))),
        (switch("Trade", "trade", bool(row["trade_enabled"])),),
        (Button(f"Amount: {float(row.get('trade_amount_usd') or 0):g} USD", f"c:{s}:amount"),
         Button(f"Preset: {row['preset']}", f"c:{s}:preset")),
        (Button("« Watchlist", "m:watchlist"), BACK_MAIN),
    )
    return MenuView(coin_text(row, coin), keyboard, notice)


def amount_menu(row: Mapping[str, Any], notice: str = "") -> MenuView:
    s, current = row["symbol"], float(row.get("trade_amount_usd") or 0)
    buttons = [Button(f"{'• ' if a == current else ''}{a} USD", f"c:{s}:amount:{a}")
               for a in AMOUNTS]
    return MenuView(f"{s}: trade amount per order (now {current:g} USD).",
                    (tuple(buttons[:3]), tuple(buttons[3:]), (Button(f"« {s}", f"c:{s}"),)),
                    notice)


def preset_menu(row: Mapping[str, Any], names: Sequence[str], notice: str = "") -> MenuView:
    """One button per preset whose callback data fits in 64 bytes (the others are named
    in the text: the dashboard or the API sets them)."""
    s = row["symbol"]
    fits = [n for n in names if len(f"c:{s}:preset:{n}".encode()) <= MAX_CALLBACK_DATA]
    buttons = [Button(f"{'• ' if n == row['preset'] else ''}{n}", f"c:{s}:preset:{n}")
               for n in fits]
    keyboard = [tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2)]
    keyboard.append((Button(f"« {s}", f"c:{s}"),))
    text = f"{s}: preset (now {row['preset']})."
    if len(fits) < len(names):
        text += " Names too long for a button: " + ", ".join(n for n in names if n not in fits)
    return MenuView(text, tuple(keyboard), notice)


def change_notice(symbol: str, what: str, value: Any) -> str:
    """The toast after a change: `ETH_USDT: trade off`."""
    match what:
        case "buy" | "sell":
            return f"{symbol}: {what} alerts {_onoff(value)}"
        case "trade":
            return f"{symbol}: trade {_onoff(value)}"
        case "amount":
            return f"{symbol}: {value} USD per order"
    return f"{symbol}: preset {value}"
