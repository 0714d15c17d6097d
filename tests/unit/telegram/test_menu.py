"""Pure parts of /menu: callback data parsed (and refused), keyboards built from state,
long answers split at Telegram's limit, and the new commands' argument parsing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atp.telegram.commands import (
    COMMANDS,
    UsageError,
    help_text,
    parse_add,
    parse_symbol,
)
from atp.telegram.format import MAX_MESSAGE, split_message
from atp.telegram.menu import (
    AMOUNTS,
    MAX_CALLBACK_DATA,
    PAGE_SIZE,
    BadCallback,
    Button,
    MenuView,
    Press,
    amount_menu,
    change_notice,
    coin_menu,
    main_menu,
    parse_callback,
    preset_menu,
    text_screen,
    watchlist_menu,
)


def row(symbol: str = "ETH_USDT", **kw: object) -> dict[str, object]:
    values: dict[str, object] = dict(symbol=symbol, preset="swing-conservative", enabled=True,
                                     alert_enabled=True, buy_alert_enabled=True,
                                     sell_alert_enabled=False, trade_enabled=True,
                                     trade_amount_usd=50.0)
    values.update(kw)
    return values


def all_data(view: MenuView) -> list[str]:
    return [b.data for r in view.keyboard for b in r]


@pytest.mark.parametrize(("data", "press"), [
    ("m", Press("main")),
    ("m:watchlist", Press("watchlist")),
    ("m:watchlist:2", Press("watchlist", page=2)),
    ("m:orders", Press("orders")),
    ("c:ETH_USDT", Press("coin", "ETH_USDT")),
    ("c:ETH_USDT:trade:off", Press("coin", "ETH_USDT", change=("trade", False))),
    ("c:ETH_USDT:buy:on", Press("coin", "ETH_USDT", change=("buy", True))),
    ("c:ETH_USDT:sell:off", Press("coin", "ETH_USDT", change=("sell", False))),
    ("c:ETH_USDT:amount", Press("amount", "ETH_USDT")),
    ("c:ETH_USDT:amount:100", Press("coin", "ETH_USDT", change=("amount", 100))),
    ("c:ETH_USDT:preset", Press("preset", "ETH_USDT")),
    ("c:ETH_USDT:preset:scalp-aggressive",
     Press("coin", "ETH_USDT", change=("preset", "scalp-aggressive"))),
])
def test_callback_data_parses(data: str, press: Press) -> None:
    assert parse_callback(data) == press


@pytest.mark.parametrize("data", [
    None, "", "x", "m:nope", "m:watchlist:-1", "m:watchlist:a", "c:eth_usdt",
    "c:ETH_USDT:trade:maybe", "c:ETH_USDT:amount:999999", "c:ETH_USDT:amount:1e9",
    "c:ETH_USDT:preset:Bad Name", "c:ETH_USDT:trade:off:extra", "c:ETH;DROP:trade:off",
])
def test_foreign_or_stale_data_is_refused(data: str | None) -> None:
    with pytest.raises(BadCallback):
        parse_callback(data)


@given(st.text(max_size=80))
def test_parse_never_crashes_on_anything(data: str) -> None:
    with contextlib.suppress(BadCallback):
        parse_callback(data)


def test_every_button_we_build_parses_and_fits() -> None:
    names = ["swing-conservative", "scalp-aggressive", "x" * 40]
    rows = [row(f"C{i}_USDT") for i in range(30)]
    views = [main_menu("i"), watchlist_menu(rows), watchlist_menu(rows, 1),
             coin_menu(row("ABCDEFGHIJKLMNOP_ABCDEFGHIJKLMNOP")), amount_menu(row()),
             preset_menu(row("ABCDEFGHIJKLMNOP_ABCDEFGHIJKLMNOP"), names),
             text_screen("x", "status")]
    for view in views:
        for data in all_data(view):
            assert 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
            parse_callback(data)


def test_coin_buttons_say_what_they_switch_to() -> None:
    view = coin_menu(row(), {"decision": "BUY", "buy_index": 5, "price": 1.5})
    data = all_data(view)
    assert "c:ETH_USDT:buy:off" in data  # buy alerts are on: the button turns them off
    assert "c:ETH_USDT:sell:on" in data
    assert "c:ETH_USDT:trade:off" in data
    assert {"c:ETH_USDT:amount", "c:ETH_USDT:preset", "m:watchlist", "m"} <= set(data)
    assert "Trading: on, 50 USD per order" in view.text and "Latest: BUY" in view.text
    off = coin_menu(row(trade_enabled=False))
    assert "c:ETH_USDT:trade:on" in all_data(off) and "Trading: off" in off.text


def test_watchlist_pages_and_marks_trading() -> None:
    rows = [row(f"C{i:02d}_USDT", trade_enabled=i == 0) for i in range(PAGE_SIZE + 2)]
    first = watchlist_menu(rows)
    assert all_data(first)[:2] == ["c:C00_USDT", "c:C01_USDT"]
    assert first.keyboard[0][0].text == "● C00_USDT"
    assert "m:watchlist:1" in all_data(first) and "page 1/2" in first.text
    last = watchlist_menu(rows, 5)  # past the end: the last page
    assert all_data(last)[:2] == [f"c:C{PAGE_SIZE:02d}_USDT", f"c:C{PAGE_SIZE + 1:02d}_USDT"]
    assert "m:watchlist:0" in all_data(last)
    assert "empty" in watchlist_menu([]).text


def test_amount_and_preset_choosers_mark_the_current() -> None:
    amounts = amount_menu(row())
    assert [b.text for r in amounts.keyboard for b in r][:len(AMOUNTS)] == [
        f"{'• ' if a == 50 else ''}{a} USD" for a in AMOUNTS]
    long_name = "p" * 50
    presets = preset_menu(row(), ["swing-conservative", "scalp-aggressive", long_name])
    texts = [b.text for r in presets.keyboard for b in r]
    assert "• swing-conservative" in texts and "scalp-aggressive" in texts
    assert long_name not in texts and long_name in presets.text


def test_notices() -> None:
    assert change_notice("ETH_USDT", "trade", False) == "ETH_USDT: trade off"
    assert change_notice("ETH_USDT", "buy", True) == "ETH_USDT: buy alerts on"
    assert change_notice("ETH_USDT", "amount", 25) == "ETH_USDT: 25 USD per order"
    assert change_notice("ETH_USDT", "preset", "x") == "ETH_USDT: preset x"


def test_a_button_refuses_data_telegram_would_refuse() -> None:
    with pytest.raises(ValueError):
        Button("x", "")
    with pytest.raises(ValueError):
        Button("x", "é" * 33)


def test_split_message_at_line_boundaries() -> None:
    lines = [f"line {i:04d} " + "x" * 40 for i in range(400)]  # ~20,000 characters
    text = "\n".join(lines)
    parts = split_message(text)
    assert len(parts) > 1 and all(len(p) <= MAX_MESSAGE for p in parts)
    assert "\n".join(parts) == text  # nothing lost, every cut at a line break
    assert all(p.split("\n")[0].startswith("line ") for p in parts)


def test_split_message_long_lines_and_edges() -> None:
    assert split_message("") == [] and split_message("\n\n") == []
    assert split_message("a\nb", limit=2) == ["a", "b"]
    assert split_message("word " * 9 + "word", limit=12) == [
        "word word", "word word", "word word", "word word", "word word"]
    hard = split_message("x" * 25, limit=10)
    assert hard == ["x" * 10, "x" * 10, "x" * 5]
    assert split_message("short") == ["short"]
    with pytest.raises(ValueError):
        split_message("x", limit=0)


@given(st.text(alphabet="ab \n", max_size=300), st.integers(1, 40))
def test_split_message_keeps_every_character_within_limit(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(1 <= len(p) <= limit and p.strip() for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == (
        text.replace("\n", "").replace(" ", ""))


def test_symbol_and_add_arguments() -> None:
    assert parse_symbol(["eth/usdt"], "u") == "ETH_USDT"
    assert parse_symbol(["btc-usdt"], "u") == "BTC_USDT"
    for bad in ([], ["ETH_USDT", "x"], ["ETHUSDT"], ["ETH_USDT;"]):
        with pytest.raises(UsageError):
            parse_symbol(bad, "usage")
    assert parse_add(["eth_usdt"]) == ("ETH_USDT", None)
    assert parse_add(["eth_usdt", "Scalp-Aggressive"]) == ("ETH_USDT", "scalp-aggressive")
    with pytest.raises(UsageError):
        parse_add(["eth_usdt", "no/such"])


def test_new_commands_are_in_help() -> None:
    text = help_text("i")
    for name in ("menu", "analyze", "add", "remove"):
        assert name in COMMANDS and f"/{name}" in text
