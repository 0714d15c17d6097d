"""Every event kind of the journal and its payload, as typed objects.

One module, so a producer and a reader can never disagree about a string: the engine
records an `Event` (its `KIND` and fields become the row's `type` and `payload`), the
journal reader turns rows back into the same classes (`parse`), the API documents them
(`GET /api/events/kinds`) and the integrity check filters on `EventKind` values (defined
in `atp.event_kinds`, which the check imports alone).
Plain dataclasses and no imports beyond the standard library: the integrity check and
`atp --help` load this module without paying for the engine.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal

from atp.event_kinds import EventKind as EventKind  # re-exported: one name everywhere

Severity = Literal["info", "warning", "error"]


ALERT_OUTCOME_KINDS: dict[str, EventKind] = {
    "BLOCKED": EventKind.ALERT_BLOCKED,
    "THROTTLED": EventKind.ALERT_THROTTLED,
    "PENDING": EventKind.ALERT_PENDING,
    "SENT": EventKind.ALERT_SENT,
    "FAILED": EventKind.ALERT_FAILED,
    "ABANDONED": EventKind.ALERT_ABANDONED,
}
EXCHANGE_KINDS: dict[str, EventKind] = {
    "auth": EventKind.EXCHANGE_AUTH,
    "proxy": EventKind.EXCHANGE_PROXY,
    "network": EventKind.EXCHANGE_NETWORK,
    "rate_limit": EventKind.EXCHANGE_RATE_LIMIT,
    "rejected": EventKind.EXCHANGE_REJECTED,
    "malformed": EventKind.EXCHANGE_MALFORMED,
    "exchange": EventKind.EXCHANGE_OTHER,
}


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every payload. `KIND` names the row type, `SEVERITY` its default level."""

    KIND: ClassVar[EventKind]
    SEVERITY: ClassVar[Severity] = "info"
    DOC: ClassVar[str] = ""

    def severity(self) -> Severity:
        return self.SEVERITY

    def payload(self) -> dict[str, Any]:
        return asdict(self)


REGISTRY: dict[EventKind, type[Event]] = {}


def _register(*kinds: EventKind) -> Any:
    def wrap(cls: type[Event]) -> type[Event]:
        for kind in kinds:
            REGISTRY[kind] = cls
        return cls

    return wrap


# ── platform and monitor ───────────────────────────────────────────────────────────────


@_register(EventKind.PLATFORM_STARTED)
@dataclass(frozen=True, slots=True)
class PlatformStarted(Event):
    KIND = EventKind.PLATFORM_STARTED
    DOC = "the platform started (one per process start)"
    production: bool = False


@_register(EventKind.TELEGRAM_TOKEN_CHECKED)
@dataclass(frozen=True, slots=True)
class TelegramTokenChecked(Event):
    KIND = EventKind.TELEGRAM_TOKEN_CHECKED
    DOC = "getMe at start: whether the bot token is valid (None: Telegram unreachable)"
    token_valid: bool | None = None
    bot_username: str | None = None
    error: str | None = None

    def severity(self) -> Severity:
        return "info" if self.token_valid else "error" if self.token_valid is False else "warning"


@_register(EventKind.MONITOR_CYCLE)
@dataclass(frozen=True, slots=True)
class MonitorCycle(Event):
    KIND = EventKind.MONITOR_CYCLE
    DOC = "a monitor cycle finished: every enabled symbol has its decision"
    cycle: int = 0
    symbols: int = 0
    processed: int = 0
    skipped: int = 0
    duration_ms: float = 0.0
    lag_ms: float = 0.0
    decisions: dict[str, int] = field(default_factory=dict)


@_register(EventKind.MONITOR_CYCLE_FAILED)
@dataclass(frozen=True, slots=True)
class MonitorCycleFailed(Event):
    KIND = EventKind.MONITOR_CYCLE_FAILED
    SEVERITY = "error"
    DOC = "a monitor cycle raised: no decisions for that cycle"
    error: str = ""


@_register(EventKind.SYMBOL_SKIPPED)
@dataclass(frozen=True, slots=True)
class SymbolSkipped(Event):
    KIND = EventKind.SYMBOL_SKIPPED
    SEVERITY = "error"
    DOC = "evaluating one symbol raised (a bug): it has no decision this cycle"
    cycle: int = 0


# ── alerts (business-rules §5) ─────────────────────────────────────────────────────────


@_register(EventKind.ALERT_BLOCKED)
@dataclass(frozen=True, slots=True)
class AlertBlocked(Event):
    KIND = EventKind.ALERT_BLOCKED
    DOC = "outcome BLOCKED: a flag is off (recorded once per change of decision)"
    side: str = ""
    flag: str = ""


@_register(EventKind.ALERT_THROTTLED)
@dataclass(frozen=True, slots=True)
class AlertThrottled(Event):
    KIND = EventKind.ALERT_THROTTLED
    DOC = "outcome THROTTLED, with the state the verdict was made from (recomputable)"
    side: str = ""
    last_side: str = ""
    last_alerted_at: str = ""
    last_price: float = 0.0
    price: float = 0.0
    cooldown_minutes: float = 0.0
    min_price_change_pct: float = 0.0


@_register(EventKind.ALERT_PENDING)
@dataclass(frozen=True, slots=True)
class AlertPending(Event):
    KIND = EventKind.ALERT_PENDING
    DOC = "the alert was accepted into the outbox (throttle state updated with it)"
    side: str = ""
    throttle: str = ""


@_register(EventKind.ALERT_SENT)
@dataclass(frozen=True, slots=True)
class AlertSent(Event):
    KIND = EventKind.ALERT_SENT
    DOC = "outcome SENT: Telegram confirmed the alert with its message id"
    message_id: int | None = None
    attempts: int = 0
    chat_id: str = ""
    possible_repeat: bool = False  # sent again, marked: the earlier send's fate was unknown


@_register(EventKind.ALERT_RETRY)
@dataclass(frozen=True, slots=True)
class AlertRetry(Event):
    KIND = EventKind.ALERT_RETRY
    SEVERITY = "warning"
    DOC = "a transient send error: the alert stays pending and is retried"
    attempts: int = 0
    retry_in_s: float = 0.0
    kind: str = ""


@_register(EventKind.ALERT_ABANDONED)
@dataclass(frozen=True, slots=True)
class AlertAbandoned(Event):
    KIND = EventKind.ALERT_ABANDONED
    SEVERITY = "warning"
    DOC = ("outcome ABANDONED: found without outcome at start (the process stopped between "
           "decision and outcome), too old to alert")
    side: str = ""
    age_s: float = 0.0
    limit_s: float = 0.0


@_register(EventKind.ALERT_FAILED)
@dataclass(frozen=True, slots=True)
class AlertFailed(Event):
    KIND = EventKind.ALERT_FAILED
    SEVERITY = "error"
    DOC = "outcome FAILED: a permanent send error ended delivery"
    kind: str = ""


# ── system messages (watchdog and others) through the same outbox ─────────────────────


@_register(EventKind.SYSTEM_MESSAGE_QUEUED)
@dataclass(frozen=True, slots=True)
class SystemMessageQueued(Event):
    KIND = EventKind.SYSTEM_MESSAGE_QUEUED
    DOC = "a system message (e.g. the watchdog's) was accepted into the outbox"
    source: str = ""


@_register(EventKind.SYSTEM_MESSAGE_SENT)
@dataclass(frozen=True, slots=True)
class SystemMessageSent(Event):
    KIND = EventKind.SYSTEM_MESSAGE_SENT
    DOC = "a system message was delivered"
    source: str = ""
    message_id: int | None = None
    attempts: int = 0
    possible_repeat: bool = False


@_register(EventKind.SYSTEM_MESSAGE_RETRY)
@dataclass(frozen=True, slots=True)
class SystemMessageRetry(Event):
    KIND = EventKind.SYSTEM_MESSAGE_RETRY
    SEVERITY = "warning"
    DOC = "a system message hit a transient error and will be retried"
    source: str = ""
    attempts: int = 0
    retry_in_s: float = 0.0
    kind: str = ""


@_register(EventKind.SYSTEM_MESSAGE_FAILED)
@dataclass(frozen=True, slots=True)
class SystemMessageFailed(Event):
    KIND = EventKind.SYSTEM_MESSAGE_FAILED
    SEVERITY = "error"
    DOC = "a system message failed permanently"
    source: str = ""
    kind: str = ""


# ── adapters ───────────────────────────────────────────────────────────────────────────


@_register(*EXCHANGE_KINDS.values())
@dataclass(frozen=True, slots=True)
class ExchangeFailureEvent(Event):
    """One classified exchange failure; `category` selects the kind (exchange_auth …)."""

    KIND = EventKind.EXCHANGE_OTHER
    DOC = ("a classified exchange failure (auth 40101/40102/40103, proxy 407, network, "
           "rate limit, rejection, malformed reply) with its diagnosis and fix")
    category: str = "exchange"
    kind: str = "exchange"
    diagnosis: str = ""
    code: int | None = None
    exchange_message: str | None = None
    message: str = ""
    operation: str | None = None
    fix: str = ""
    attempt: int | None = None
    will_retry: bool = False
    cause: str | None = None

    @property
    def event_kind(self) -> EventKind:
        return EXCHANGE_KINDS.get(self.category, EventKind.EXCHANGE_OTHER)

    def severity(self) -> Severity:
        return "error" if self.category in ("auth", "proxy") else "warning"


@_register(EventKind.TELEGRAM_UNAUTHORISED_COMMAND, EventKind.TELEGRAM_GETUPDATES_CONFLICT,
           EventKind.TELEGRAM_LEASE_ACQUIRED, EventKind.TELEGRAM_LEASE_LOST,
           EventKind.TELEGRAM_POLL_ERROR, EventKind.TELEGRAM_COMMAND_FAILED)
@dataclass(frozen=True, slots=True)
class TelegramPollerEvent(Event):
    """Something the command poller saw; `poller_kind` is one of the telegram_* kinds."""

    KIND = EventKind.TELEGRAM_POLL_ERROR
    DOC = "the Telegram command poller: lease acquired/lost, 409 conflict, poll error, " \
          "unauthorised chat, failed command"
    poller_kind: str = EventKind.TELEGRAM_POLL_ERROR.value
    chat_id: int | None = None

    @property
    def event_kind(self) -> EventKind:
        return EventKind(self.poller_kind)

    def severity(self) -> Severity:
        if self.event_kind in (EventKind.TELEGRAM_LEASE_ACQUIRED, EventKind.TELEGRAM_LEASE_LOST):
            return "info"
        return "warning"


# ── orders (business-rules §6): one outcome per trade-enabled accepted alert ─────────────
# Every order event carries the decision id (the journal row's `decision_id`) and the
# `client_oid`, so `order_execution` reconciles intents with outcomes from the journal.

ORDER_OUTCOME_KINDS: dict[str, EventKind] = {
    "BLOCKED": EventKind.ORDER_BLOCKED,
    "PLACED": EventKind.ORDER_PLACED,
    "FILLED": EventKind.ORDER_FILLED,
    "CANCELLED": EventKind.ORDER_CANCELLED,
    "REJECTED": EventKind.ORDER_REJECTED,
    "FAILED": EventKind.ORDER_FAILED,
}


@_register(EventKind.ORDER_INTENT)
@dataclass(frozen=True, slots=True)
class OrderIntent(Event):
    KIND = EventKind.ORDER_INTENT
    DOC = ("an accepted alert on a trade-enabled symbol became an order intent (recorded in "
           "the alert's transaction, so no accepted alert can lose its intent)")
    side: str = ""
    client_oid: str = ""
    mode: str = "paper"
    notional: float | None = None
    quantity: float | None = None


@_register(EventKind.ORDER_BLOCKED)
@dataclass(frozen=True, slots=True)
class OrderBlocked(Event):
    KIND = EventKind.ORDER_BLOCKED
    DOC = "outcome BLOCKED: a gate of §6, the kill switch or the live refusal, with the " \
          "measured values in `reason`"
    side: str = ""
    client_oid: str = ""
    gate: str = ""
    reason: str = ""


@_register(EventKind.ORDER_PLACED)
@dataclass(frozen=True, slots=True)
class OrderPlaced(Event):
    KIND = EventKind.ORDER_PLACED
    DOC = "outcome PLACED: the broker accepted the order (FILLED or CANCELLED follows)"
    side: str = ""
    client_oid: str = ""
    mode: str = "paper"
    exchange_order_id: str | None = None
    order_type: str = "MARKET"
    role: str = "entry"


@_register(EventKind.ORDER_FILLED)
@dataclass(frozen=True, slots=True)
class OrderFilled(Event):
    KIND = EventKind.ORDER_FILLED
    DOC = "outcome FILLED: quantity, average price and fee; realised P&L for a SELL"
    side: str = ""
    client_oid: str = ""
    mode: str = "paper"
    role: str = "entry"
    quantity: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    fee_currency: str | None = None
    realised_pnl: float | None = None


@_register(EventKind.ORDER_CANCELLED)
@dataclass(frozen=True, slots=True)
class OrderCancelled(Event):
    KIND = EventKind.ORDER_CANCELLED
    SEVERITY = "warning"
    DOC = "outcome CANCELLED: by /panic, by the OCO's other leg, or outside ATP (recorded, " \
          "not fought)"
    side: str = ""
    client_oid: str = ""
    role: str = "entry"
    by: str = ""  # panic | oco | exchange | outside


@_register(EventKind.ORDER_REJECTED)
@dataclass(frozen=True, slots=True)
class OrderRejectedEvent(Event):
    KIND = EventKind.ORDER_REJECTED
    SEVERITY = "warning"
    DOC = "outcome REJECTED: the exchange's reason code and message (306, 609, 209, 42901, …)"
    side: str = ""
    client_oid: str = ""
    role: str = "entry"
    code: int | None = None
    exchange_message: str = ""


@_register(EventKind.ORDER_FAILED)
@dataclass(frozen=True, slots=True)
class OrderFailed(Event):
    KIND = EventKind.ORDER_FAILED
    SEVERITY = "error"
    DOC = "outcome FAILED: an error that is not the exchange's refusal"
    side: str = ""
    client_oid: str = ""
    role: str = "entry"
    error: str = ""


@_register(EventKind.PROTECTION_PLACED)
@dataclass(frozen=True, slots=True)
class ProtectionPlaced(Event):
    KIND = EventKind.PROTECTION_PLACED
    DOC = "the SL/TP pair of a filled BUY was placed as one OCO"
    client_oid: str = ""  # the entry's
    list_id: str = ""
    quantity: float = 0.0
    stop_loss: float = 0.0
    take_profit: float = 0.0


@_register(EventKind.PROTECTION_FAILED)
@dataclass(frozen=True, slots=True)
class ProtectionFailed(Event):
    KIND = EventKind.PROTECTION_FAILED
    SEVERITY = "error"
    DOC = "placing the SL/TP pair failed: the position is unprotected (naked) until a retry " \
          "succeeds or it is closed"
    client_oid: str = ""  # the entry's
    code: int | None = None
    exchange_message: str = ""
    attempt: int = 0
    retry_in_s: float | None = None


@_register(EventKind.PROTECTION_FILLED)
@dataclass(frozen=True, slots=True)
class ProtectionFilled(Event):
    KIND = EventKind.PROTECTION_FILLED
    DOC = "one leg of an SL/TP pair filled (the other is gone): the position closed"
    client_oid: str = ""  # the entry's
    leg: str = ""  # stop_loss | take_profit
    quantity: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    realised_pnl: float = 0.0


@_register(EventKind.TRADING_SWITCH_CHANGED)
@dataclass(frozen=True, slots=True)
class TradingSwitchChanged(Event):
    KIND = EventKind.TRADING_SWITCH_CHANGED
    SEVERITY = "warning"
    DOC = "the live-trading or the kill switch changed (also in the audit log)"
    switch: str = ""  # live_trading | kill_switch
    on: bool = False
    author: str = ""


# ── scheduled reports ──────────────────────────────────────────────────────────────────


@_register(EventKind.REPORT_QUEUED)
@dataclass(frozen=True, slots=True)
class ReportQueued(Event):
    KIND = EventKind.REPORT_QUEUED
    DOC = "a scheduled report (daily summary, sell report, SL/TP reminder) was claimed for " \
          "its local date and put in the outbox"
    report: str = ""
    local_date: str = ""
    due_at: str = ""  # ISO, UTC


@_register(EventKind.REPORT_SKIPPED)
@dataclass(frozen=True, slots=True)
class ReportSkipped(Event):
    KIND = EventKind.REPORT_SKIPPED
    DOC = "a scheduled report was recorded for its date without a message (nothing to " \
          "report, due before reports were first scheduled, or too late to catch up)"
    report: str = ""
    local_date: str = ""
    reason: str = ""


@_register(EventKind.REPORT_SENT)
@dataclass(frozen=True, slots=True)
class ReportSent(Event):
    KIND = EventKind.REPORT_SENT
    DOC = "a scheduled report reached the chat"
    report: str = ""
    local_date: str = ""
    message_id: int | None = None
    attempts: int = 0
    possible_repeat: bool = False


@_register(EventKind.REPORT_FAILED)
@dataclass(frozen=True, slots=True)
class ReportFailed(Event):
    KIND = EventKind.REPORT_FAILED
    SEVERITY = "error"
    DOC = "a scheduled report's message failed permanently"
    report: str = ""
    local_date: str = ""
    kind: str = ""


def kind_of(event: Event) -> EventKind:
    """The row type of an event (families such as exchange failures choose by field)."""
    chosen = getattr(event, "event_kind", None)
    return chosen if isinstance(chosen, EventKind) else event.KIND


def parse(kind: str, payload: dict[str, Any]) -> Event | None:
    """A journal row back as its typed event; None for kinds this version does not know
    (rows written by an older or newer release stay readable as plain JSON)."""
    try:
        event_kind = EventKind(kind)
    except ValueError:
        return None
    cls = REGISTRY[event_kind]
    names = {f.name for f in fields(cls)}
    values = {k: v for k, v in payload.items() if k in names}
    if cls is TelegramPollerEvent:
        values["poller_kind"] = event_kind.value
    try:
        return cls(**values)
    except TypeError:
        return None


def catalogue() -> list[dict[str, Any]]:
    """Every kind with its severity and payload fields: what `/api/events/kinds` serves."""
    out: list[dict[str, Any]] = []
    for kind in EventKind:
        cls = REGISTRY[kind]
        payload = []
        for f in fields(cls):
            default = None if f.default is MISSING else f.default
            payload.append({"name": f.name, "type": str(f.type), "default": default})
        out.append({"kind": kind.value, "doc": cls.DOC or (cls.__doc__ or "").strip(),
                    "default_severity": cls.SEVERITY, "payload": payload})
    return out
