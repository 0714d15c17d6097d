"""The journal's event kinds (the `type` column) alone, without their payload classes.

`atp.events` re-exports `EventKind`; the integrity checks import it from here, because
building the ~35 payload dataclasses of `atp.events` costs `atp check` ~25 ms of start-up
for names it only filters on.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """The `type` column of the journal; values are part of the API contract."""

    PLATFORM_STARTED = "platform_started"
    TELEGRAM_TOKEN_CHECKED = "telegram_token_checked"
    MONITOR_CYCLE = "monitor_cycle"
    MONITOR_CYCLE_FAILED = "monitor_cycle_failed"
    SYMBOL_SKIPPED = "symbol_skipped"
    ALERT_BLOCKED = "alert_blocked"
    ALERT_THROTTLED = "alert_throttled"
    ALERT_PENDING = "alert_pending"
    ALERT_SENT = "alert_sent"
    ALERT_RETRY = "alert_retry"
    ALERT_FAILED = "alert_failed"
    ALERT_ABANDONED = "alert_abandoned"
    SYSTEM_MESSAGE_QUEUED = "system_message_queued"
    SYSTEM_MESSAGE_SENT = "system_message_sent"
    SYSTEM_MESSAGE_RETRY = "system_message_retry"
    SYSTEM_MESSAGE_FAILED = "system_message_failed"
    EXCHANGE_AUTH = "exchange_auth"
    EXCHANGE_PROXY = "exchange_proxy"
    EXCHANGE_NETWORK = "exchange_network"
    EXCHANGE_RATE_LIMIT = "exchange_rate_limit"
    EXCHANGE_REJECTED = "exchange_rejected"
    EXCHANGE_MALFORMED = "exchange_malformed"
    EXCHANGE_OTHER = "exchange_exchange"
    TELEGRAM_UNAUTHORISED_COMMAND = "telegram_unauthorised_command"
    TELEGRAM_GETUPDATES_CONFLICT = "telegram_getupdates_conflict"
    TELEGRAM_LEASE_ACQUIRED = "telegram_lease_acquired"
    TELEGRAM_LEASE_LOST = "telegram_lease_lost"
    TELEGRAM_POLL_ERROR = "telegram_poll_error"
    TELEGRAM_COMMAND_FAILED = "telegram_command_failed"
    ORDER_INTENT = "order_intent"
    ORDER_BLOCKED = "order_blocked"
    ORDER_PLACED = "order_placed"
    ORDER_FILLED = "order_filled"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_REJECTED = "order_rejected"
    ORDER_FAILED = "order_failed"
    PROTECTION_PLACED = "protection_placed"
    PROTECTION_FAILED = "protection_failed"
    PROTECTION_FILLED = "protection_filled"
    TRADING_SWITCH_CHANGED = "trading_switch_changed"
    REPORT_QUEUED = "report_queued"
    REPORT_SKIPPED = "report_skipped"
    REPORT_SENT = "report_sent"
    REPORT_FAILED = "report_failed"
