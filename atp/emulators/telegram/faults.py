"""The faults the Telegram emulator can inject, and how they are named on a command line.

Names accept the demo's spelling too (`telegram-conflict` == `conflict`), so `atp demo
--fault telegram-outage` can hand its names straight to the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    CONFLICT = "conflict"  # another poller holds getUpdates: every getUpdates answers 409
    OUTAGE = "outage"  # the Bot API port refuses connections (listening socket closed)
    RATE_LIMIT = "rate_limit"  # sendMessage answers 429 with parameters.retry_after
    BLOCKED_CHAT = "blocked_chat"  # sendMessage to a named chat answers 403 (bot blocked)
    INVALID_TOKEN = "invalid_token"  # every Bot API call answers 401 Unauthorized
    SERVER_ERROR = "server_error"  # every Bot API call answers 502 Bad Gateway
    # sendMessage delivers at once and answers `seconds` later (a slow Bot API: the
    # message is in the chat while the sender still waits)
    SLOW = "slow"
    # SIGSTOP-like: connections are accepted and read, nothing is answered; on thaw every
    # held call is carried out (its messages delivered) and answered, however late
    FREEZE = "freeze"


def fault_name(text: str) -> Fault:
    """`telegram-rate-limit`, `rate-limit` and `rate_limit` all name the same fault."""
    name = text.strip().lower().removeprefix("telegram-").replace("-", "_")
    try:
        return Fault(name)
    except ValueError:
        known = ", ".join(f.value for f in Fault)
        raise ValueError(f"unknown Telegram fault '{text}' (known: {known})") from None


@dataclass(frozen=True)
class FaultSpec:
    """One fault with its argument: `rate_limit:5` (retry_after s), `blocked_chat:42`."""

    fault: Fault
    retry_after: int | None = None
    chat_id: int | None = None
    seconds: float | None = None  # `slow:SECONDS`

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        name, _, arg = text.partition(":")
        fault = fault_name(name)
        if fault is Fault.RATE_LIMIT:
            return cls(fault, retry_after=_int(arg, "retry_after") if arg else 1)
        if fault is Fault.SLOW:
            try:
                return cls(fault, seconds=float(arg) if arg else 2.0)
            except ValueError:
                raise ValueError(f"slow takes seconds, got '{arg}'") from None
        if fault is Fault.BLOCKED_CHAT:
            if not arg:
                raise ValueError("blocked_chat needs a chat id: blocked_chat:<chat_id>")
            return cls(fault, chat_id=_int(arg, "chat id"))
        if arg:
            raise ValueError(f"fault '{fault.value}' takes no argument")
        return cls(fault)


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} must be a whole number, got '{text}'") from None


@dataclass
class FaultState:
    """What is currently broken. Mutated only through the emulator's control API."""

    conflict: bool = False
    outage: bool = False
    invalid_token: bool = False
    server_error: bool = False
    rate_limit_retry_after: int | None = None
    blocked_chats: set[int] = field(default_factory=set)
    slow_seconds: float | None = None
    frozen: bool = False

    def snapshot(self) -> dict[str, object]:
        return {
            "conflict": self.conflict,
            "outage": self.outage,
            "invalid_token": self.invalid_token,
            "server_error": self.server_error,
            "rate_limit": self.rate_limit_retry_after,
            "blocked_chats": sorted(self.blocked_chats),
            "slow": self.slow_seconds,
            "freeze": self.frozen,
        }

    def active(self) -> list[str]:
        names = [f.value for f in (Fault.CONFLICT, Fault.OUTAGE, Fault.INVALID_TOKEN,
                                   Fault.SERVER_ERROR) if getattr(self, f.value)]
        if self.rate_limit_retry_after is not None:
            names.append(f"{Fault.RATE_LIMIT.value}:{self.rate_limit_retry_after}")
        names.extend(f"{Fault.BLOCKED_CHAT.value}:{c}" for c in sorted(self.blocked_chats))
        if self.slow_seconds is not None:
            names.append(f"{Fault.SLOW.value}:{self.slow_seconds:g}")
        if self.frozen:
            names.append(Fault.FREEZE.value)
        return names
