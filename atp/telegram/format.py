"""The text of an alert message and of long command answers.

Plain text, sent without parse_mode: symbols such as BTC_USDT and reason strings contain
characters Markdown/HTML would need escaped, and an escaping slip turns a delivered alert
into a 400 "can't parse entities" — a permanent failure for a cosmetic reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

MAX_MESSAGE = 4096  # Telegram's limit for one message's text
_SIDE_MARK = {"BUY": "🟢", "SELL": "🔴"}


def format_price(price: Decimal | float | int | str | None) -> str:
    """Enough digits for coins worth 0.00001234 and 65,000 alike; no float noise."""
    if price is None:
        return "unknown"
    try:
        value = Decimal(str(price))
    except InvalidOperation:
        return str(price)
    if not value.is_finite():
        return "unknown"
    # A local context: ccxt changes the process-wide decimal rounding when it loads.
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_EVEN
        if abs(value) >= 1000:
            return f"{value:,.2f}"
        text = f"{value:.4f}" if abs(value) >= 1 else f"{value:.8f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_alert(
    *,
    symbol: str,
    side: str,
    price: Decimal | float | int | str | None,
    preset: str,
    reasons: Sequence[str],
    buy_index: float | int | None,
    origin: str,
    decision_id: str | None = None,
) -> str:
    """One alert, readable on a phone: side and symbol first, the origin tag last."""
    side_text = str(side).upper()
    mark = _SIDE_MARK.get(side_text, "⚪")
    lines = [f"{mark} {side_text} {symbol} @ {format_price(price)}", f"Preset: {preset}"]
    if buy_index is not None:
        lines.append(f"Buy index: {buy_index:g}" if isinstance(buy_index, float)
                     else f"Buy index: {buy_index}")
    if reasons:
        lines.append("Reasons:")
        lines.extend(f"• {r}" for r in reasons)
    footer = f"Origin: {origin}" + (f" · decision {decision_id}" if decision_id else "")
    text = "\n".join([*lines, footer])
    if len(text) > MAX_MESSAGE:  # keep the footer: it says which instance sent this
        keep = MAX_MESSAGE - len(footer) - 2
        text = "\n".join(lines)[:keep].rstrip() + "…\n" + footer
    return text


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut a long answer into messages Telegram accepts (`limit` characters each), at line
    breaks where possible, else at a space, else hard; every part is non-blank."""
    if limit < 1:
        raise ValueError("limit must be >= 1")
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        head, text = text[:cut], text[cut:]
        if text[:1] in ("\n", " "):
            text = text[1:]  # the break itself is not repeated at the top of the next part
        if head.strip():
            parts.append(head)
    if text.strip():
        parts.append(text)
    return parts


split_text = split_message  # the earlier name

def _cents(value: float, places: str = "0.01") -> Decimal:
    """Rounded as the dashboard's `Number.toFixed` rounds: the exact binary value, a tie
    away from zero — so the page and Telegram print the same digits for the same value."""
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP
        return Decimal(value).quantize(Decimal(places))


def format_usd(value: float | None) -> str:
    """A USD amount as the dashboard shows it: `1,234.56`; `unknown` without a value."""
    if value is None:
        return "unknown"
    cents = _cents(value)
    return f"{abs(cents) if cents == 0 else cents:,.2f}"  # never "-0.00"


def format_signed(value: float | None) -> str:
    """A P&L: `+18.00`, `-3.25` (the sign always shown)."""
    if value is None:
        return "unknown"
    cents = _cents(value)
    return f"{'-' if value < 0 else '+'}{abs(cents):,.2f}"


def format_pct(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{'-' if value < 0 else '+'}{abs(_cents(value)):.2f}%"
