"""The platform's live status as one typed object: what channels read of the process.

Everything here is process state that has no stored record (tick counters, the poller's
lease, the last send): the API, `/metrics` and Telegram's /status read this snapshot
instead of reaching into `Platform`'s attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CycleStatus:
    cycle_id: int
    finished_at: datetime
    duration_ms: float
    symbols: int
    processed: int
    skipped: int
    decisions: dict[str, int]


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    sent: int = 0
    failed: int = 0
    retries: int = 0
    system_sent: int = 0
    last_send_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    holding_lease: bool = False
    repeats: int = 0  # sent a second time, marked: the first send's fate was unknown


@dataclass(frozen=True, slots=True)
class TelegramStatus:
    token_configured: bool
    chat_configured: bool
    alerts_enabled: bool
    production: bool
    token_valid: bool | None = None
    bot_username: str | None = None
    polling: bool = False
    holding_lease: bool = False
    conflicts: int = 0
    conflict_last_at: datetime | None = None
    conflict_last_description: str | None = None
    unauthorised_dropped: int = 0
    polling_stopped_reason: str | None = None  # polling stopped by itself: why
    poll_restarts: int = 0


@dataclass(frozen=True, slots=True)
class ExchangeFailureStatus:
    category: str
    kind: str
    code: int | None
    diagnosis: str
    fix: str


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    credentials_configured: bool
    proxy_in_use: bool
    last_private_ok_at: datetime | None = None
    last_failure: ExchangeFailureStatus | None = None
    failures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlatformStatus:
    instance: str
    started_at: datetime | None
    running: bool
    scheduler_ticks: int
    monitor_ticks: int
    last_cycle: CycleStatus | None
    last_update_seconds_ago: float | None
    missed_cycles: int
    cycle_errors: int
    evaluation_errors: int
    decision_flips: dict[str, int]
    outbox: OutboxStatus
    telegram: TelegramStatus
    exchange: ExchangeStatus
    owner: str = ""  # instance name + per-start id: what this process's leases carry
    # what keeps the platform from working now (database, exchange, Telegram, outbox):
    # each makes /api/health `degraded` with that reason (issue 14, item 4)
    problems: tuple[str, ...] = ()
    cycle_stale_after_seconds: float = 60.0  # health's "degraded" limit (Settings.limits)
    watchdog_gauges: dict[str, int] = field(default_factory=dict)
    # who holds what on this database (engine.shards.replicas_view), None until read
    replicas: dict[str, Any] | None = None
