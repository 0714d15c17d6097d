"""Request and response shapes of the HTTP API (also what /openapi.json publishes).

Requests forbid unknown fields, so a typo is a 422 naming the field instead of a change
that silently did nothing. Numbers are strict and finite: `true` is not 1.0, and NaN,
Infinity and `1e999` (which Python's JSON parser turns into inf) are refused, because a
NaN threshold makes every comparison false and the rule silently never fires. The preset
bounds published here are the domain's (`atp.domain.presets.NUMERIC_RANGES`); the domain
still checks every write, for the channels that do not come through this schema.
Responses are the contract `atp check` and the dashboard read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    with_config,
)
from pydantic.fields import FieldInfo
from typing_extensions import TypedDict

from atp.api.deps import PRESET_PATTERN, SYMBOL_PATTERN
from atp.domain.presets import NUMERIC_RANGES
from atp.events import EventKind

Outcome = Literal["BLOCKED", "THROTTLED", "PENDING", "SENT", "FAILED", "ABANDONED"]
HealthStatus = Literal["ok", "degraded", "down"]


# A JSON number and nothing else: no bool, no numeric string, no NaN / ±Infinity.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _bounds(field: str) -> FieldInfo:
    low, high = NUMERIC_RANGES[field]
    bounds: FieldInfo = Field(ge=low, le=high)
    return bounds


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class PresetValues(TypedDict, total=False):
    """Preset fields a watchlist row overrides; each typed, so `loc` names the bad one."""

    rsi_buy_below: Annotated[Number, _bounds("rsi_buy_below")]
    rsi_sell_above: Annotated[Number, _bounds("rsi_sell_above")]
    check_ema10: StrictBool
    check_ma50: StrictBool
    check_ma200: StrictBool
    risk: Literal["conservative", "aggressive"]
    ema10_tolerance_pct: Annotated[Number, _bounds("ema10_tolerance_pct")]
    min_volume_ratio: Annotated[Number, _bounds("min_volume_ratio")]
    cooldown_minutes: Annotated[Number, _bounds("cooldown_minutes")]
    min_price_change_pct: Annotated[Number, _bounds("min_price_change_pct")]
    sl_pct: Annotated[Number, _bounds("sl_pct")]
    tp_pct: Annotated[Number, _bounds("tp_pct")]
    sl_atr_mult: Annotated[Number, _bounds("sl_atr_mult")]
    tp_atr_mult: Annotated[Number, _bounds("tp_atr_mult")]


# ── monitoring ─────────────────────────────────────────────────────────────────────────


class Replica(BaseModel):
    owner: str = Field(description="the process: INSTANCE@host/pid/id")
    instance: str
    me: bool = Field(description="the process answering this request")
    alive: bool = Field(description="its presence lease is live")
    shards: list[int] = Field(description="the watchlist shards it evaluates")
    holds: list[str] = Field(description="every other lease it holds, by name "
                             "(telegram-sender, telegram-poller, trader-…, retention, …)")


class Replicas(BaseModel):
    sharded: bool = Field(description="false on SQLite: one process evaluates every symbol")
    shards: int
    unowned_shards: list[int] = Field(description="shards no live replica holds right now "
                                      "(for at most two cycles after a replica dies)")
    replicas: list[Replica]


class Health(BaseModel):
    status: HealthStatus
    reason: str
    instance: str
    scheduler_ticks: int
    signal_monitor_ticks: int
    last_update_seconds_ago: float | None
    problems: list[str] = Field(
        default_factory=list, description="why the status is degraded: the database, the "
        "exchange or Telegram unreachable, alerts stuck in the outbox")
    replicas: Replicas | None = Field(
        None, description="the processes sharing this database and who holds what")


class Summary(BaseModel):
    instance: str
    started_at: datetime | None
    scheduler_ticks: int
    signal_monitor_ticks: int
    last_update_seconds_ago: float | None
    last_cycle_id: int | None
    last_cycle_duration_ms: float | None
    last_cycle_symbols: int | None
    last_cycle_processed: int | None
    last_cycle_skipped: int | None
    missed_cycles: int
    cycle_errors: int
    evaluation_errors: int = Field(0, description="symbols whose evaluation raised (a bug)")
    decision_counts: dict[str, int]
    alert_outcome_counts: dict[str, int]
    outbox_pending: int
    decision_flips: dict[str, int]


class Cycle(BaseModel):
    id: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    symbols: int
    processed: int
    skipped: int
    lag_ms: float | None
    instance: str
    buys: int = Field(0, description="BUY decisions the cycle stored")
    sells: int = Field(0, description="SELL decisions the cycle stored")
    waits: int = Field(0, description="WAIT decisions the cycle made (folded ones included)")


# ── the journal and what it explains ───────────────────────────────────────────────────


class FlagChange(BaseModel):
    at: datetime
    flags: dict[str, bool | None]


class DecisionRunOut(BaseModel):
    """A decision row without its explanation (GET /api/decisions/runs)."""

    id: str
    symbol: str
    decision: str
    created_at: datetime
    seen_until: datetime | None
    repeats: int
    unknown_inputs: dict[str, str] = Field(default_factory=dict)


class DecisionOut(BaseModel):
    id: str
    cycle_id: int | None
    symbol: str
    preset: str
    decision: str
    buy_index: int
    price: float | None
    flags: dict[str, bool | None]
    indicators: dict[str, float | None]
    reasons: list[str]
    unknown_inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Each unknown input that kept a flag at null, with its cause, e.g. "
                    '{"price": "price stale: 74 s old (limit 60 s)"}',
    )
    alert_ref: str | None
    created_at: datetime
    seen_until: datetime | None = Field(
        None, description="The last time this decision was made: an unchanged WAIT extends "
        "its symbol's newest row (the row covers created_at to seen_until; its values are "
        "the latest)")
    repeats: int = Field(0, description="Decisions folded into this row after the first")
    flag_changes: list[FlagChange] = Field(
        default_factory=list,
        description="A WAIT run's flag timeline: its first flags and each later set, with "
                    "the time it was first decided; empty when the flags never turned "
                    "(`flags` is always the latest set)")


class AlertOutcomeOut(BaseModel):
    decision_id: str
    symbol: str
    side: str
    preset: str
    outcome: str
    reason: str | None
    price: float | None
    message_id: int | None
    error: str | None
    origin: str
    created_at: datetime
    updated_at: datetime
    message: str | None = Field(None, description="the alert text from the outbox, if any")
    delivery_status: str | None = Field(None, description="outbox status: pending/sent/failed")
    attempts: int | None = None


class EventOut(BaseModel):
    """One journal event; `payload`'s fields per `type` are listed by
    `GET /api/events/kinds` (defined once, in `atp.events`)."""

    id: int
    at: datetime
    type: EventKind
    severity: str
    symbol: str | None
    decision_id: str | None
    instance: str
    message: str
    payload: dict[str, Any]


class EventCountOut(BaseModel):
    type: str
    severity: str
    count: int
    example: str | None = Field(None, description="the newest message, for error groups")


class EventCountsOut(BaseModel):
    """Events of the window per type and severity: what `atp check`'s `errors` counts,
    without paging through every event."""

    total: int
    groups: list[EventCountOut]


class ReconciliationRowOut(BaseModel):
    decision_id: str
    symbol: str
    decision: str
    created_at: datetime
    outcome: str | None = Field(None, description="None: the decision has no outcome")
    reason: str | None
    error: str | None
    outcome_at: datetime | None


class AlertReconciliationOut(BaseModel):
    """The window's BUY/SELL decisions joined to their outcomes (business-rules §5):
    counted, with only the rows worth naming listed (no outcome and no BLOCKED run
    covering them, or an outcome PENDING, FAILED or ABANDONED), newest first."""

    decisions: int
    covered: int = Field(description="without an outcome, covered by a BLOCKED run")
    without_outcome: int
    outcomes: dict[str, int]
    rows: list[ReconciliationRowOut]
    truncated: bool = Field(description="more rows than `limit` matched")


class EventFieldOut(BaseModel):
    name: str
    type: str
    default: Any = None


class EventKindOut(BaseModel):
    kind: EventKind
    doc: str
    default_severity: str
    payload: list[EventFieldOut]


class ThrottleOut(BaseModel):
    symbol: str
    preset: str
    side: str
    alerted_at: datetime
    price: float
    decision_id: str


IntentOutcome = Literal["PENDING", "BLOCKED", "PLACED", "FILLED", "CANCELLED", "REJECTED",
                        "FAILED"]
Mode = Literal["paper", "live"]


class OrderOut(BaseModel):
    """One order of an intent: the entry, the exit or one leg of its SL/TP pair."""

    client_oid: str
    exchange_order_id: str | None
    role: Literal["entry", "exit", "stop_loss", "take_profit"]
    order_type: str
    side: Literal["BUY", "SELL"]
    status: Literal["NEW", "ACTIVE", "FILLED", "CANCELLED", "REJECTED", "EXPIRED"]
    quantity: float | None
    filled_quantity: float
    avg_price: float | None
    fee: float
    fee_currency: str | None
    trigger_price: float | None
    list_id: str | None
    created_at: datetime
    updated_at: datetime


class IntentOut(BaseModel):
    decision_id: str
    client_oid: str
    symbol: str
    side: Literal["BUY", "SELL"]
    mode: Mode
    outcome: IntentOutcome
    reason: str | None
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    orders: list[OrderOut]


class IntentsOut(BaseModel):
    intents: list[IntentOut]
    total: int
    rejections_by_code: dict[str, int]


class PrivateCallOut(BaseModel):
    at: datetime
    operation: str
    ok: bool
    code: int | None
    message: str | None


class TradingStateOut(BaseModel):
    mode: Mode
    live_switch: bool
    kill_switch: bool
    credentials: bool
    live_refused_reason: str | None
    last_private_order_call: PrivateCallOut | None
    open_orders: int
    open_positions: int
    unprotected_positions: int


class KillSwitchOut(TradingStateOut):
    updated_at: datetime
    updated_by: str


class ProtectionOut(BaseModel):
    list_id: str
    stop_loss: float | None
    take_profit: float | None
    status: str


class ProtectionErrorOut(BaseModel):
    code: int | None
    message: str
    attempts: int
    since: datetime


class PositionOut(BaseModel):
    symbol: str
    quantity: float
    avg_entry: float
    mark_price: float | None
    unrealised_pnl: float | None
    unrealised_pnl_pct: float | None = None
    opened_at: datetime
    entry_client_oid: str
    decision_id: str
    protected: bool
    protection: ProtectionOut | None
    protection_error: ProtectionErrorOut | None


class PositionsOut(BaseModel):
    positions: list[PositionOut]
    mode: Mode


class PanicOut(BaseModel):
    cancelled: list[str]


class AuditOut(BaseModel):
    id: int
    at: datetime
    author: str
    entity: str
    entity_key: str
    field: str
    old_value: Any
    new_value: Any


# ── market ─────────────────────────────────────────────────────────────────────────────


class CoinOut(BaseModel):
    """One watchlist symbol with its latest stored decision (the one record every
    channel shows)."""

    symbol: str
    enabled: bool
    preset: str
    alert_enabled: bool
    buy_alert_enabled: bool
    sell_alert_enabled: bool
    trade_enabled: bool
    decision_id: str | None
    decision: str | None
    buy_index: int | None
    flags: dict[str, bool | None]
    indicators: dict[str, float | None]
    reasons: list[str]
    unknown_inputs: dict[str, str] = Field(
        default_factory=dict, description="input → the cause that made it unknown "
        "(`price stale: 74 s old (limit 60 s)`); a WAIT on missing data names it here")
    price: float | None
    price_age_seconds: float | None
    decided_at: datetime | None = Field(None, description="when the decision was recorded")
    decision_age_seconds: float | None = None
    error: str | None = Field(None, description="`disabled`, or why there is no decision")


class CandleOut(BaseModel):
    t: int = Field(description="open time, ms since the epoch (UTC)")
    o: float
    h: float
    l: float  # noqa: E741 - the conventional OHLC key
    c: float
    v: float


class CandlesOut(BaseModel):
    symbol: str
    decision_id: str
    decision: str | None
    candles: list[CandleOut]
    overlays: dict[str, list[float | None]]


# ── adapters' state ────────────────────────────────────────────────────────────────────


class Conflicts(BaseModel):
    count: int
    last_at: datetime | None
    last_description: str | None


class ProcessOut(BaseModel):
    owner: str = Field(description="instance name and a per-start id: unique per process")
    instance: str
    started_at: datetime
    seen_at: datetime


class TelegramState(BaseModel):
    owner: str | None = Field(None, description="this process's lease owner id")
    processes: list[ProcessOut] = Field(
        default_factory=list, description="live processes sharing this database")
    sender_lease_holder: str | None = None
    polling_stopped_reason: str | None = Field(
        None, description="why polling stopped by itself (it retries on its own)")
    poll_restarts: int = 0
    token_configured: bool
    token_valid: bool | None = None  # getMe at start: None when not checked or unreachable
    bot_username: str | None = None
    chat_configured: bool
    production: bool
    alerts_enabled: bool
    lease_holder: str | None
    lease_expires_at: datetime | None
    polling: bool
    holding_lease: bool
    conflicts: Conflicts
    last_send_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    sent: int
    failed: int
    retries: int
    system_sent: int = Field(0, description="system (watchdog) messages delivered")
    possible_repeats: int = Field(
        0, description="messages this process sent a second time, marked 'possible repeat' "
        "(the first send's fate was unknown: a timeout or a crash mid-send)")
    possible_repeats_total: int = Field(
        0, description="the same over the outbox's whole history (every process)")
    unauthorised_dropped: int = Field(
        0, description="messages from unknown chats dropped by the rate limit")
    outbox_pending: int
    oldest_pending_age_seconds: float | None


class ExchangeFailureOut(BaseModel):
    category: str
    kind: str
    code: int | None = None  # the exchange's code (40101, 40102, 40103 …) when it gave one
    diagnosis: str
    fix: str
    at: datetime | None


class ExchangeState(BaseModel):
    credentials_configured: bool
    proxy_in_use: bool
    last_private_ok_at: datetime | None
    last_failure: ExchangeFailureOut | None


# ── configuration ──────────────────────────────────────────────────────────────────────


class WatchlistOut(BaseModel):
    symbol: str
    exchange: str
    enabled: bool
    alert_enabled: bool
    buy_alert_enabled: bool
    sell_alert_enabled: bool
    preset: str
    overrides: dict[str, Any]
    trade_enabled: bool
    trade_amount_usd: float
    buy_target: float | None
    created_at: datetime
    updated_at: datetime


class WatchlistCreate(_Request):
    symbol: str = Field(pattern=SYMBOL_PATTERN, description="instrument, e.g. BTC_USDT")
    preset: str = Field("swing-conservative", pattern=PRESET_PATTERN)
    enabled: StrictBool = True
    alert_enabled: StrictBool = True
    buy_alert_enabled: StrictBool = True
    sell_alert_enabled: StrictBool = True
    overrides: PresetValues = Field(default_factory=lambda: PresetValues())
    trade_enabled: StrictBool = False
    trade_amount_usd: Number = Field(0.0, ge=0, le=1e9)
    buy_target: Number | None = Field(None, gt=0, le=1e12)

    @field_validator("symbol", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class WatchlistPatch(_Request):
    """Only the fields sent change; `buy_target: null` clears the target."""

    enabled: StrictBool | None = None
    alert_enabled: StrictBool | None = None
    buy_alert_enabled: StrictBool | None = None
    sell_alert_enabled: StrictBool | None = None
    preset: str | None = Field(None, pattern=PRESET_PATTERN)
    overrides: PresetValues | None = None
    trade_enabled: StrictBool | None = None
    trade_amount_usd: Number | None = Field(None, ge=0, le=1e9)
    buy_target: Number | None = Field(None, gt=0, le=1e12)

    @field_validator("*", mode="before")
    @classmethod
    def _no_null_except_buy_target(cls, value: Any, info: ValidationInfo) -> Any:
        # per field (not per model), so the 422's loc names the field sent as null
        if value is None and info.field_name != "buy_target":
            raise ValueError("must not be null (leave it out to keep it)")
        return value


class PresetOut(BaseModel):
    name: str
    rsi_buy_below: float
    rsi_sell_above: float
    check_ema10: bool
    check_ma50: bool
    check_ma200: bool
    risk: str
    ema10_tolerance_pct: float
    min_volume_ratio: float
    cooldown_minutes: float
    min_price_change_pct: float
    sl_pct: float
    tp_pct: float
    sl_atr_mult: float
    tp_atr_mult: float
    updated_at: datetime
    updated_by: str


class PresetPatch(_Request):
    """Fields of a preset to change; validated by the domain's one preset validator."""

    rsi_buy_below: Annotated[Number | None, _bounds("rsi_buy_below")] = None
    rsi_sell_above: Annotated[Number | None, _bounds("rsi_sell_above")] = None
    check_ema10: StrictBool | None = None
    check_ma50: StrictBool | None = None
    check_ma200: StrictBool | None = None
    risk: Literal["conservative", "aggressive"] | None = None
    ema10_tolerance_pct: Annotated[Number | None, _bounds("ema10_tolerance_pct")] = None
    min_volume_ratio: Annotated[Number | None, _bounds("min_volume_ratio")] = None
    cooldown_minutes: Annotated[Number | None, _bounds("cooldown_minutes")] = None
    min_price_change_pct: Annotated[Number | None, _bounds("min_price_change_pct")] = None
    sl_pct: Annotated[Number | None, _bounds("sl_pct")] = None
    tp_pct: Annotated[Number | None, _bounds("tp_pct")] = None
    sl_atr_mult: Annotated[Number | None, _bounds("sl_atr_mult")] = None
    tp_atr_mult: Annotated[Number | None, _bounds("tp_atr_mult")] = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null (leave it out to keep it)")
        return value


class SettingOut(BaseModel):
    key: str
    value: Any
    updated_at: datetime | None
    updated_by: str | None


class SettingsOut(BaseModel):
    live_trading: bool
    stored: list[SettingOut]
    runtime: dict[str, Any] = Field(description="read-only settings from the environment")


class LiveTrading(_Request):
    enabled: StrictBool


class KillSwitch(_Request):
    enabled: StrictBool


class TelegramMessage(BaseModel):
    """One alert outcome as the old "Telegram Messages" view listed it."""

    timestamp: datetime
    symbol: str
    side: str
    status: str = Field(description="sent / pending / throttled / blocked / failed")
    blocked: bool = Field(description="true when the alert was not sent by rule "
                          "(BLOCKED or THROTTLED)")
    message: str | None
    reason: str | None
    message_id: int | None
    decision_id: str
    origin: str | None


class TelegramMessages(BaseModel):
    messages: list[TelegramMessage]
    total: int = Field(description="outcomes in the window, not only this page")


class SnapshotData(BaseModel):
    health: Health
    coins: list[CoinOut]
    recent_alerts: list[AlertOutcomeOut]


class DashboardSnapshot(BaseModel):
    data: SnapshotData
    generated_at: datetime
