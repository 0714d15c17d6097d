"""Fault switches of the exchange emulator, settable at start and at run time.

- `bad-credentials` (alias `exchange-auth`): private calls answer 40101 (HTTP 401)
- `clock-skew[:SECONDS]`: the exchange's clock is off (default 120 s) → 40102
- `ip-not-allowlisted`: private calls answer 40103 (HTTP 401)
- `rate-limit[:N]`: the next N requests (default: all, until cleared) answer 42901 / HTTP 429
- `malformed:SYMBOL[:ticker|candles]`: that symbol's fields are non-numeric or missing
- `stale-ticker:SYMBOL` (repeatable): that symbol's ticker freezes — price and timestamp
  stop updating from the moment the switch is set; candles and other symbols go on
- `slow[:SECONDS]`: every reply is delayed (default 5 s)
- `down`: connections are closed without an answer (a dead host, to the client)
- `unavailable`: HTTP 503 with code 9010001 (maintenance)
- `order-reject:CODE`: every create order (plain, list, advanced, OCO) is answered CODE with
  the exchange's message for it: 306, 609, 209, 229, 220, 415 (below the minimum size or
  value), 140001, 42901 (HTTP 429), or any other code
- `conditional-denied`: the advanced create endpoints (trigger orders, OCO) answer 140001,
  as for a key without permission for conditional orders; reads and cancels still work
- `order-answer-lost[:N]`: the next N (default 1) create orders are placed, then the
  connection is closed without an answer: the client sees a network error, the order exists
- `order-answer-slow:SECONDS[:N]`: the next N (default 1) create orders are placed at once
  and answered SECONDS later (a client killed meanwhile never learns the order exists)

`down` drops every connection without answering rather than answering 503, because that is
what a dead host looks like to a client (ccxt: ExchangeNotAvailable); the port stays open so
the admin endpoint can switch it back. For a refused connection, stop the emulator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

ALL = -1  # rate_limit_next: reject every request until cleared


@dataclass
class Faults:
    bad_credentials: bool = False
    clock_skew_seconds: float = 0.0
    ip_not_allowlisted: bool = False
    rate_limit_next: int = 0
    malformed_symbol: str | None = None
    malformed_part: str = "both"  # both | ticker | candles
    stale_tickers: list[str] = field(default_factory=list)  # frozen tickers
    slow_seconds: float = 0.0
    down: bool = False
    unavailable: bool = False
    order_reject_code: int | None = None
    conditional_denied: bool = False
    answer_lost_next: int = 0
    answer_slow_seconds: float = 0.0
    answer_slow_next: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, **changes: Any) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, value)

    def clear(self) -> None:
        self.update(**asdict(Faults()))


def parse_fault(spec: str) -> dict[str, Any]:
    """`name[:arg]` (CLI / demo form) → field changes for `Faults.update`."""
    name, _, arg = spec.partition(":")
    name = name.strip().lower().replace("_", "-")
    if name in ("bad-credentials", "exchange-auth", "auth"):
        return {"bad_credentials": True}
    if name == "clock-skew":
        return {"clock_skew_seconds": float(arg or 120)}
    if name in ("ip-not-allowlisted", "ip"):
        return {"ip_not_allowlisted": True}
    if name == "rate-limit":
        return {"rate_limit_next": int(arg) if arg else ALL}
    if name == "malformed":
        symbol, _, part = arg.partition(":")
        if not symbol or part not in ("", "both", "ticker", "candles"):
            raise ValueError("malformed needs a symbol: malformed:BTC_USDT[:ticker|candles]")
        return {"malformed_symbol": symbol, "malformed_part": part or "both"}
    if name == "stale-ticker":
        if not arg:
            raise ValueError("stale-ticker needs a symbol: stale-ticker:ETH_USDT")
        return {"stale_tickers": [arg.strip()]}
    if name == "slow":
        return {"slow_seconds": float(arg or 5)}
    if name == "down":
        return {"down": True}
    if name == "unavailable":
        return {"unavailable": True}
    if name == "order-reject":
        try:
            return {"order_reject_code": int(arg)}
        except ValueError:
            raise ValueError("order-reject needs a reason code: order-reject:306") from None
    if name == "conditional-denied":
        return {"conditional_denied": True}
    if name == "order-answer-lost":
        return {"answer_lost_next": int(arg) if arg else 1}
    if name == "order-answer-slow":
        seconds, _, count = arg.partition(":")
        try:
            return {"answer_slow_seconds": float(seconds),
                    "answer_slow_next": int(count) if count else 1}
        except ValueError:
            raise ValueError("order-answer-slow needs seconds: order-answer-slow:30[:N]") from None
    raise ValueError(
        f"unknown exchange fault {spec!r}; known: bad-credentials, exchange-auth, clock-skew[:S], "
        "ip-not-allowlisted, rate-limit[:N], malformed:SYMBOL, stale-ticker:SYMBOL, slow[:S], "
        "down, unavailable, order-reject:CODE, conditional-denied, order-answer-lost[:N], "
        "order-answer-slow:S[:N]"
    )
