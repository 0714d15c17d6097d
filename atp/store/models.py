"""The database schema as SQLAlchemy 2 typed models.

The schema is created and changed only by the Alembic migrations in `migrations/`
(failure mode 8: an ad-hoc `create_all` once left the throttle table missing). A test
proves these models and the migrated schema agree, so edit both together.

Conventions:
- every timestamp is a `UtcDateTime` (aware UTC on SQLite and PostgreSQL alike);
- a decision's `flags` and `indicators` are stored compactly (`DecisionFlags`,
  `DecisionIndicators`: still JSON columns) and read back as the dicts they were;
- enumerated strings carry a CHECK constraint, so a typo fails the write instead of
  producing a row no reader recognises;
- free text that may grow (messages, errors, reasons) is `Text`, never a short `String`
  that one backend truncates or rejects;
- ORM classes end in `Row` so they never collide with the domain's value types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from atp.domain.presets import Preset
from atp.store.types import DecisionFlags, DecisionIndicators, UtcDateTime

# Deterministic constraint names: the migrations spell the same names, SQLite batch
# operations can address constraints by name, and error messages say which rule fired.
NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Enumerations shared by the CHECK constraints and by code that validates before writing.
SEVERITIES: Final = ("info", "warning", "error")
DECISIONS: Final = ("BUY", "SELL", "WAIT")
SIDES: Final = ("BUY", "SELL")
OUTCOMES: Final = ("BLOCKED", "THROTTLED", "PENDING", "SENT", "FAILED", "ABANDONED")
OUTBOX_KINDS: Final = ("alert", "watchdog", "reply", "order", "report", "probe")
REPORTS: Final = ("daily_summary", "sell_report", "sltp_reminder")
REPORT_STATUSES: Final = ("queued", "sent", "failed", "skipped")
OUTBOX_STATUSES: Final = ("pending", "sent", "failed")
PROBE_STATUSES: Final = ("queued", "sent", "failed")
AUDIT_ENTITIES: Final = ("setting", "preset", "watchlist", "probe")
RISKS: Final = ("conservative", "aggressive")
INTENT_OUTCOMES: Final = ("PENDING", "BLOCKED", "PLACED", "FILLED", "CANCELLED", "REJECTED",
                          "FAILED")
ORDER_ROLES: Final = ("entry", "exit", "stop_loss", "take_profit")
MODES: Final = ("paper", "live")
POSITION_STATUSES: Final = ("open", "closed")
PROTECTION_STATUSES: Final = ("none", "pending", "active", "failed", "filled", "cancelled")

DEFAULT_EXCHANGE: Final = "cryptocom"
DEFAULT_PRESET: Final = "swing-conservative"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), nullable=False, server_default=func.now())


def _updated_at() -> Mapped[datetime]:
    return mapped_column(
        UtcDateTime(), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class PresetRow(Base):
    """One strategy preset: one typed column per field of `atp.domain.presets.Preset`."""

    __tablename__ = "presets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    rsi_buy_below: Mapped[float] = mapped_column(Float, nullable=False)
    rsi_sell_above: Mapped[float] = mapped_column(Float, nullable=False)
    check_ema10: Mapped[bool] = mapped_column(Boolean, nullable=False)
    check_ma50: Mapped[bool] = mapped_column(Boolean, nullable=False)
    check_ma200: Mapped[bool] = mapped_column(Boolean, nullable=False)
    risk: Mapped[str] = mapped_column(String(16), nullable=False)
    ema10_tolerance_pct: Mapped[float] = mapped_column(Float, nullable=False)
    min_volume_ratio: Mapped[float] = mapped_column(Float, nullable=False)
    cooldown_minutes: Mapped[float] = mapped_column(Float, nullable=False)
    min_price_change_pct: Mapped[float] = mapped_column(Float, nullable=False)
    sl_pct: Mapped[float] = mapped_column(Float, nullable=False)
    tp_pct: Mapped[float] = mapped_column(Float, nullable=False)
    sl_atr_mult: Mapped[float] = mapped_column(Float, nullable=False)
    tp_atr_mult: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[datetime] = _updated_at()
    updated_by: Mapped[str] = mapped_column(String(64), nullable=False, server_default="system")

    __table_args__ = (
        CheckConstraint(_one_of("risk", RISKS), name="risk"),
        CheckConstraint("rsi_buy_below < rsi_sell_above", name="rsi_order"),
    )

    @classmethod
    def from_domain(cls, preset: Preset, *, updated_at: datetime, updated_by: str) -> PresetRow:
        return cls(**preset.to_dict(), updated_at=updated_at, updated_by=updated_by)


class WatchlistRow(Base):
    """A symbol the monitor evaluates. Exactly one row per (exchange, symbol): failure
    mode 12 was the UI writing one of two duplicate rows while the monitor read the other.
    The alert flags are NOT NULL with default true: a NULL once read as "off" and silently
    blocked alerts (failure mode 2)."""

    __tablename__ = "watchlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(
        String(32), nullable=False, default=DEFAULT_EXCHANGE, server_default=DEFAULT_EXCHANGE
    )
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    alert_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    buy_alert_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    sell_alert_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    preset: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("presets.name", onupdate="CASCADE", ondelete="RESTRICT"),
        nullable=False,
        default=DEFAULT_PRESET,
        server_default=DEFAULT_PRESET,
    )
    # Per-symbol preset overrides (validated by atp.domain.presets.validate_values),
    # including sl_pct / tp_pct.
    overrides: Mapped[dict[str, Any]] = mapped_column(
        JSON, nullable=False, default=dict, server_default=sql_text("'{}'")
    )
    trade_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    trade_amount_usd: Mapped[float] = mapped_column(
        Float, nullable=False, default=0.0, server_default=sql_text("0")
    )
    buy_target: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (
        UniqueConstraint("exchange", "symbol"),
        CheckConstraint("trade_amount_usd >= 0", name="trade_amount_usd"),
        CheckConstraint("buy_target IS NULL OR buy_target > 0", name="buy_target"),
    )


class SettingRow(Base):
    """A runtime setting edited through the API, dashboard or Telegram (failure mode 15:
    settings kept in a file inside the container were lost on rebuild)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = _updated_at()
    updated_by: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditLogRow(Base):
    """One changed field of a setting, preset or watchlist row: when, who, old → new."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    entity: Mapped[str] = mapped_column(String(16), nullable=False)
    entity_key: Mapped[str] = mapped_column(String(128), nullable=False)
    field: Mapped[str] = mapped_column(String(64), nullable=False)
    old_value: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        CheckConstraint(_one_of("entity", AUDIT_ENTITIES), name="entity"),
        Index(None, "entity", "entity_key", "at"),
        Index(None, "at"),
    )


class MonitorCycleRow(Base):
    """One signal monitor cycle; `id` is the cycle number the log markers print."""

    __tablename__ = "monitor_cycles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    symbols: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sql_text("0")
    )
    processed: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sql_text("0")
    )
    skipped: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sql_text("0")
    )
    lag_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    instance: Mapped[str] = mapped_column(String(64), nullable=False)
    # The cycle's decisions by kind, committed with them: counts over a window read these
    # (one row a cycle) instead of a month of decision rows
    buys: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                      server_default=sql_text("0"))
    sells: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                       server_default=sql_text("0"))
    waits: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                       server_default=sql_text("0"))

    __table_args__ = (Index(None, "started_at"),)


ACTIVE_SQL: Final = "decision <> 'WAIT'"


def active_decisions() -> Any:
    """The partial BUY/SELL index's own condition, to AND into a query that filters on
    BUY/SELL so the index serves it."""
    return sql_text(ACTIVE_SQL)


def _same_as_created_at(context: Any) -> datetime | None:
    """A new decision row covers its own instant until an unchanged WAIT extends it."""
    at: datetime | None = context.get_current_parameters().get("created_at")
    return at


class DecisionRow(Base):
    """What the rule engine decided for one symbol, with everything needed to explain it
    (flags, indicator values, reasons) so flips and false signals are visible later."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cycle_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    preset: Mapped[str] = mapped_column(String(64), nullable=False)
    decision: Mapped[str] = mapped_column(String(8), nullable=False)
    buy_index: Mapped[int] = mapped_column(Integer, nullable=False)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    # JSON columns holding compact forms of the usual dicts (store/types.py: ~290 bytes
    # less per row); the ORM and every query see the dicts.
    flags: Mapped[dict[str, Any]] = mapped_column(DecisionFlags(), nullable=False)
    indicators: Mapped[dict[str, Any]] = mapped_column(DecisionIndicators(), nullable=False)
    reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # The unknown inputs that made flags `None`, each with its cause and measured value:
    # {"price": "price stale: 74 s old (limit 60 s)"} (business-rules §1); {} = none.
    unknown_inputs: Mapped[dict[str, str]] = mapped_column(
        JSON, nullable=False, default=dict, server_default=sql_text("'{}'")
    )
    # A BUY/SELL decision inside a blocked run: the decision whose BLOCKED outcome covers
    # it (BLOCKED is recorded once per change of decision, business-rules §5.1).
    alert_ref: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = _created_at()
    # Compact storage (domain/compaction.py): an unchanged WAIT extends its symbol's newest
    # row instead of adding one; the row covers [created_at, seen_until] and `repeats`
    # counts the decisions folded into it. Every row written since 0007w sets seen_until
    # (the migration fills the older ones); nullable only so that adding it to a large
    # SQLite table is an ALTER, not a rebuild.
    seen_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True,
                                                        default=_same_as_created_at)
    repeats: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                         server_default=sql_text("0"))
    # The run's flag timeline, [[seconds since created_at, flag code], ...] (domain/
    # compaction.py, flagcode.py): a WAIT whose flags turned extends the row and adds an
    # entry. NULL = the flags never turned in the run.
    flag_changes: Mapped[list[list[Any]] | None] = mapped_column(JSON(none_as_null=True),
                                                                  nullable=True)

    __table_args__ = (
        CheckConstraint(_one_of("decision", DECISIONS), name="decision"),
        CheckConstraint("buy_index BETWEEN 0 AND 100", name="buy_index"),
        Index(None, "symbol", "created_at"),  # a symbol's newest row, its history
        # BUY/SELL only (orphan outcomes, kind filters): WAIT rows, ~95 %, carry no entry.
        # A query uses it only with this very term in its WHERE (`ACTIVE`, a literal:
        # SQLite matches a partial index's condition by its text, not by implication)
        Index("ix_decisions_active_created_at", "decision", "created_at",
              sqlite_where=sql_text(ACTIVE_SQL), postgresql_where=sql_text(ACTIVE_SQL)),
        Index(None, "seen_until"),  # every windowed page, `atp check` read and retention
    )


class EventRow(Base):
    """The journal: one typed record per pipeline stage. The integrity check, dashboard
    and /status read these instead of grepping logs."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    severity: Mapped[str] = mapped_column(
        String(8), nullable=False, default="info", server_default="info"
    )
    symbol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    instance: Mapped[str] = mapped_column(String(64), nullable=False)
    message: Mapped[str] = mapped_column(
        Text, nullable=False, default="", server_default=sql_text("''")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(
        JSON, nullable=False, default=dict, server_default=sql_text("'{}'")
    )

    __table_args__ = (
        CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
        Index(None, "type", "at"),
        Index(None, "decision_id"),
        Index(None, "symbol", "at"),
        Index(None, "at"),
    )


class AlertOutcomeRow(Base):
    """The one outcome of a BUY/SELL decision (business-rules §5). The unique
    `decision_id` makes "exactly one" a database fact, not a hope (failure mode 1)."""

    __tablename__ = "alert_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False
    )
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    preset: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    origin: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (
        UniqueConstraint("decision_id"),
        CheckConstraint(_one_of("side", SIDES), name="side"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),
        Index(None, "outcome", "created_at"),
        Index(None, "symbol", "created_at"),
        Index(None, "created_at"),
    )


class ThrottleStateRow(Base):
    """The last ACCEPTED alert per (symbol, preset): the input of the throttle verdict
    (business-rules §5.2). A missing table here once meant alert spam (failure mode 8)."""

    __tablename__ = "throttle_state"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    preset: Mapped[str] = mapped_column(String(64), primary_key=True)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    alerted_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    price: Mapped[float] = mapped_column(Float, nullable=False)
    decision_id: Mapped[str] = mapped_column(String(36), nullable=False)

    __table_args__ = (CheckConstraint(_one_of("side", SIDES), name="side"),)


class OutboxRow(Base):
    """A message that must not be lost: written in the same transaction as its outcome,
    delivered and retried by the sender, so a Telegram outage delays and never drops."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    chat_id: Mapped[str] = mapped_column(String(64), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(
        String(8), nullable=False, default="pending", server_default="pending"
    )
    attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sql_text("0")
    )
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    origin: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = _created_at()
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Set (and committed) just before a send, cleared by its answer: a row found with it
    # set was in flight when the process died, so its fate is unknown.
    sending_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The next (and last) send is a possible repeat: the earlier one's fate is unknown.
    possible_repeat: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    __table_args__ = (
        CheckConstraint(_one_of("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "decision_id"),
        Index(None, "possible_repeat"),  # the repeat count: rare rows, read by the state
    )


class ProbeRow(Base):
    """A TEST-marked synthetic alert (`atp check --probe`, `POST /api/probe`, `/test`):
    decision-like but apart from the decisions, so no count, check, throttle or order of
    real alerts ever sees it. Its outbox row (kind `probe`) carries it to Telegram; the
    answer (message id, or the reason it failed) is written here with the row's."""

    __tablename__ = "probes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    author: Mapped[str] = mapped_column(String(64), nullable=False)
    origin: Mapped[str] = mapped_column(String(64), nullable=False)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint(_one_of("status", PROBE_STATUSES), name="status"),
        Index(None, "created_at"),
    )


class OrderRow(Base):
    """An order ATP sent (or, in dry run, gave the paper broker): an entry, an exit or one
    leg of an SL/TP pair, with the state the broker last reported. `client_order_id`
    derives from the decision id and is unique, so a retry can never place the same
    order twice (business-rules §6)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    order_type: Mapped[str] = mapped_column(String(32), nullable=False)
    notional: Mapped[float | None] = mapped_column(Float, nullable=True)
    quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    trigger_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    dry_run: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    exchange_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_client_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    role: Mapped[str] = mapped_column(
        String(16), nullable=False, default="entry", server_default="entry"
    )
    filled_quantity: Mapped[float] = mapped_column(
        Float, nullable=False, default=0.0, server_default=sql_text("0")
    )
    avg_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    fee: Mapped[float] = mapped_column(
        Float, nullable=False, default=0.0, server_default=sql_text("0")
    )
    fee_currency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    list_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the outcome is not known (timeout, lost answer): look it up before anything else
    unknown: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (
        UniqueConstraint("client_order_id"),
        CheckConstraint(_one_of("side", SIDES), name="side"),
        CheckConstraint(_one_of("role", ORDER_ROLES), name="role"),
        Index(None, "decision_id"),
        Index(None, "symbol", "created_at"),
        Index(None, "parent_client_order_id"),
        Index(None, "status"),
        Index(None, "created_at"),
    )


class OrderIntentRow(Base):
    """What an accepted alert on a trade-enabled symbol asked for, and its one order
    outcome (product.md §6). Written in the alert's own transaction; the unique
    `decision_id` makes "one intent per accepted alert" a database fact."""

    __tablename__ = "order_intents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(36), nullable=False)
    client_oid: Mapped[str] = mapped_column(String(36), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    preset: Mapped[str] = mapped_column(String(64), nullable=False)
    notional: Mapped[float | None] = mapped_column(Float, nullable=True)
    quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)  # the decision's
    atr: Mapped[float | None] = mapped_column(Float, nullable=True)  # the decision's
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sql_text("0")
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()

    __table_args__ = (
        UniqueConstraint("decision_id"),
        UniqueConstraint("client_oid"),
        CheckConstraint(_one_of("side", SIDES), name="side"),
        CheckConstraint(_one_of("mode", MODES), name="mode"),
        CheckConstraint(_one_of("outcome", INTENT_OUTCOMES), name="outcome"),
        Index(None, "outcome", "created_at"),
        Index(None, "symbol", "created_at"),
        Index(None, "created_at"),
    )


class PositionRow(Base):
    """One filled BUY held: what it cost, its SL/TP pair, and how it closed. The gates
    count these per base; `protection_status` other than `active` on an open position
    is a naked position (`atp check` critical)."""

    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    base: Mapped[str] = mapped_column(String(16), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    decision_id: Mapped[str] = mapped_column(String(36), nullable=False)
    entry_client_oid: Mapped[str] = mapped_column(String(36), nullable=False)
    quantity: Mapped[float] = mapped_column(Float, nullable=False)
    entry_price: Mapped[float] = mapped_column(Float, nullable=False)  # the fill's average
    avg_entry: Mapped[float] = mapped_column(Float, nullable=False)  # cost per unit held
    cost: Mapped[float] = mapped_column(Float, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    exit_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    realised_pnl: Mapped[float | None] = mapped_column(Float, nullable=True)
    atr: Mapped[float | None] = mapped_column(Float, nullable=True)
    preset: Mapped[str] = mapped_column(String(64), nullable=False)
    protection_status: Mapped[str] = mapped_column(String(16), nullable=False)
    protection_list_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stop_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    take_profit: Mapped[float | None] = mapped_column(Float, nullable=True)
    protection_attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=sql_text("0")
    )
    protection_error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    protection_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    protection_error_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    protection_next_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # a protection request whose answer was lost: look its legs up before a new attempt
    protection_unknown: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    __table_args__ = (
        UniqueConstraint("entry_client_oid"),
        CheckConstraint(_one_of("mode", MODES), name="mode"),
        CheckConstraint(_one_of("status", POSITION_STATUSES), name="status"),
        CheckConstraint(_one_of("protection_status", PROTECTION_STATUSES), name="protection"),
        Index(None, "status", "base"),
        Index(None, "symbol", "status"),
    )


class PaperBalanceRow(Base):
    """The dry-run account: one balance per currency (survives restarts)."""

    __tablename__ = "paper_balances"

    currency: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[datetime] = _updated_at()


class PaperOrderRow(Base):
    """The paper broker's order book: what the exchange would hold for a dry run."""

    __tablename__ = "paper_orders"

    client_oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(4), nullable=False)
    order_type: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    quantity: Mapped[float | None] = mapped_column(Float, nullable=True)
    filled_quantity: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    avg_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    fee: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    fee_currency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    trigger_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    list_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)

    __table_args__ = (Index(None, "status", "symbol"), Index(None, "list_id"))


class TradingNoticeRow(Base):
    """A cause already told to Telegram (`ETH_USDT:rejected:306`): one notice per cause
    until it clears (failure mode 20: a notice per cycle is spam)."""

    __tablename__ = "trading_notices"

    cause: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class LeaseRow(Base):
    """A named lease (e.g. the Telegram poller): one holder at a time, so a second
    instance cannot cause 409 conflicts or duplicate alerts (failure modes 6, 7)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), nullable=False)
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    renewed_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class ReportRunRow(Base):
    """One scheduled report per (report, local date): the key is the primary key, so a
    second insert (a restart, a replica) is refused by the database, not by memory. A
    `queued` row and its outbox message are written in one transaction."""

    __tablename__ = "report_runs"

    report: Mapped[str] = mapped_column(String(16), primary_key=True)
    local_date: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO date
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    instance: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint(_one_of("report", REPORTS), name="report"),
        CheckConstraint(_one_of("status", REPORT_STATUSES), name="status"),
        Index(None, "outbox_id"),
    )


metadata = Base.metadata
