"""Settings: the one place that reads the environment and `.env`.

Every field has a description and a `fix` hint, so a bad or missing value produces one
message per field that says what is wrong and how to fix it (see `SettingsError`).
Secrets are `SecretStr`: their repr is masked, and nothing here ever formats them.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from atp.domain.limits import Limits, limits
from atp.domain.reports import Report, parse_local_time, parse_timezone


class Timeframe(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"


TIMEFRAME_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}


def _fix(text: str) -> dict[str, Any]:
    return {"fix": text}


def mask_url(url: str) -> str:
    """A database URL with its password hidden, safe for messages."""
    from atp.store.urls import mask_url as mask

    return mask(url)


class Settings(BaseSettings):
    """ATP's settings, from the environment and `.env` (environment wins)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,
    )

    database_url: str = Field(
        default="sqlite:///atp.db",
        description="SQLAlchemy URL of the database: SQLite file or PostgreSQL.",
        json_schema_extra=_fix(
            "set DATABASE_URL to sqlite:///path/to/atp.db or postgresql://user@host:5432/dbname"
        ),
    )
    instance_name: str = Field(
        default="atp",
        min_length=1,
        max_length=64,
        description="Origin tag: which instance made an alert (shown in every message).",
        json_schema_extra=_fix("set INSTANCE_NAME to a short name such as aws-prod"),
    )
    production: bool = Field(
        default=False,
        description="Only the production instance sends to the real chat; others log.",
        json_schema_extra=_fix("set PRODUCTION to true or false"),
    )

    # Exchange
    exchange_api_key: SecretStr | None = Field(
        default=None,
        description="Crypto.com Exchange API key (private calls, orders).",
        json_schema_extra=_fix("set EXCHANGE_API_KEY from the exchange's API management page"),
    )
    exchange_api_secret: SecretStr | None = Field(
        default=None,
        description="Crypto.com Exchange API secret.",
        json_schema_extra=_fix("set EXCHANGE_API_SECRET together with EXCHANGE_API_KEY"),
    )
    exchange_base_url: str | None = Field(
        default=None,
        description="Override of the exchange's base URL (emulator, tests); empty = real.",
        json_schema_extra=_fix("set EXCHANGE_BASE_URL to http://host:port or leave it empty"),
    )
    exchange_proxy_url: SecretStr | None = Field(
        default=None,
        description="HTTP proxy for exchange calls, e.g. http://user:pass@host:8888.",
        json_schema_extra=_fix("set EXCHANGE_PROXY_URL to http://[user:pass@]host:port"),
    )
    candle_timeframe: Timeframe = Field(
        default=Timeframe.H1,
        description="Candle timeframe fed to the indicators.",
        json_schema_extra=_fix("set CANDLE_TIMEFRAME to one of 1m 5m 15m 30m 1h 4h 1d"),
    )
    candle_count: int = Field(
        default=200,
        ge=50,
        le=1000,
        description="Closed candles kept per symbol (MA200 needs 200).",
        json_schema_extra=_fix("set CANDLE_COUNT to a whole number between 50 and 1000"),
    )

    # Monitor
    monitor_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds between signal monitor cycles.",
        json_schema_extra=_fix("set MONITOR_INTERVAL_SECONDS to a number of seconds, e.g. 30"),
    )

    # Trading (business-rules §6; dry run unless the stored live switch is on)
    paper_balance_usd: float = Field(
        default=10_000.0,
        ge=0,
        le=1e12,
        description="Starting balance of the dry-run (paper) account, per quote currency.",
        json_schema_extra=_fix("set PAPER_BALANCE_USD to a number of USD, e.g. 10000"),
    )
    trader_sync_seconds: float = Field(
        default=3.0,
        gt=0,
        le=300,
        description="Seconds between two reads of the state of open ATP orders.",
        json_schema_extra=_fix("set TRADER_SYNC_SECONDS to a number of seconds, e.g. 3"),
    )

    # Telegram
    telegram_bot_token: SecretStr | None = Field(
        default=None,
        description="Telegram bot token from @BotFather.",
        json_schema_extra=_fix("set TELEGRAM_BOT_TOKEN to the token @BotFather gave you"),
    )
    telegram_chat_id: str | None = Field(
        default=None,
        description="Chat id that receives alerts.",
        json_schema_extra=_fix("set TELEGRAM_CHAT_ID to the numeric id of the alert chat"),
    )
    telegram_api_base: str = Field(
        default="https://api.telegram.org",
        description="Bot API server (self-hosted servers and the emulator work too).",
        json_schema_extra=_fix("set TELEGRAM_API_BASE to http(s)://host[:port]"),
    )
    telegram_send_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Seconds a Telegram send may wait for its answer; a send that times out "
        "may have arrived, so it is repeated once, marked.",
        json_schema_extra=_fix("set TELEGRAM_SEND_TIMEOUT_SECONDS to a number of seconds, "
                               "e.g. 10"),
    )
    telegram_allowed_chat_ids: str = Field(
        default="",
        description="Comma-separated chat ids allowed to send commands (the alert chat always is).",
        json_schema_extra=_fix("set TELEGRAM_ALLOWED_CHAT_IDS to ids separated by commas"),
    )
    alerts_enabled: bool = Field(
        default=True,
        description="False runs without Telegram; alerts are then recorded but not sent.",
        json_schema_extra=_fix("set ALERTS_ENABLED to true or false"),
    )

    # API
    api_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP API and dashboard listen on.",
        json_schema_extra=_fix("set API_HOST to an address such as 127.0.0.1 or 0.0.0.0"),
    )
    api_port: int = Field(
        default=8002,
        ge=1,
        le=65535,
        description="Port of the HTTP API and dashboard.",
        json_schema_extra=_fix("set API_PORT to a port number between 1 and 65535"),
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token required by every API call that changes state.",
        json_schema_extra=_fix("set API_TOKEN to a long random string"),
    )

    # Logs and watchdog
    log_level: str = Field(
        default="INFO",
        pattern=r"^(?i:debug|info|warning|error)$",
        description="Log level.",
        json_schema_extra=_fix("set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR"),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Console (stdout) log format: `text`, one greppable line per record "
        "with an upper-case level, the marker and its key=value fields; `json` for log "
        "shippers. LOG_FILE is always JSON lines.",
        json_schema_extra=_fix("set LOG_FORMAT to text or json"),
    )
    log_file: str | None = Field(
        default=None,
        description="Also write the structured JSON log to this file (read by `atp logs`).",
        json_schema_extra=_fix("set LOG_FILE to a writable path or leave it empty"),
    )
    log_max_bytes: int = Field(
        default=50_000_000,
        ge=0,
        description="LOG_FILE is rotated when it reaches this size (bytes; 0 = never): "
        "LOG_FILE.1 … LOG_FILE.N keep the older lines, the oldest is deleted.",
        json_schema_extra=_fix("set LOG_MAX_BYTES to a size in bytes, e.g. 50000000, or 0"),
    )
    log_backups: int = Field(
        default=5,
        ge=1,
        le=100,
        description="How many rotated LOG_FILE.N files to keep (disk use is at most "
        "LOG_MAX_BYTES × (LOG_BACKUPS + 1)).",
        json_schema_extra=_fix("set LOG_BACKUPS to a whole number from 1 to 100"),
    )
    deadman_url: str | None = Field(
        default=None,
        description="Dead-man's-switch URL pinged after each healthy watchdog cycle.",
        json_schema_extra=_fix("set DEADMAN_URL to an http(s) URL or leave it empty"),
    )
    stall_exit_intervals: int = Field(
        default=10,
        ge=0,
        le=10_000,
        description="`atp run` exits (code 3) when the monitor has completed no cycle for "
        "this many intervals, so the container's restart policy restarts it (Docker never "
        "restarts an unhealthy container by itself); 0 never exits.",
        json_schema_extra=_fix("set STALL_EXIT_INTERVALS to a whole number, e.g. 10 (0 = off)"),
    )
    shards: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Shards the watchlist is split into (a stable hash of the symbol) when "
        "replicas of `atp run` share one PostgreSQL: each holds about shards / replicas of "
        "them as leases and evaluates only their symbols. Every replica must use the same "
        "number. SQLite is single-process: the one process evaluates every symbol.",
        json_schema_extra=_fix("set SHARDS to a whole number between 1 and 256, e.g. 8"),
    )
    retention_days: float = Field(
        default=30.0,
        ge=0,
        le=3650,
        description="Decisions, events, cycles and delivered messages older than this many "
        "days are deleted (hourly, in small batches); 0 keeps everything. Decisions behind "
        "an order are kept.",
        json_schema_extra=_fix("set RETENTION_DAYS to a number of days, e.g. 30 (0 = keep)"),
    )

    decision_heartbeat_minutes: float = Field(
        default=240.0,
        ge=0,
        le=1440,
        description="A WAIT decision after a WAIT (same preset and unknown inputs) "
        "extends its symbol's newest row (seen_until, repeats; a turn of its flags goes to "
        "the row's flag timeline) instead of adding one, until that row is this many "
        "minutes old; 0 stores every decision as its own row.",
        json_schema_extra=_fix("set DECISION_HEARTBEAT_MINUTES to minutes, e.g. 240 "
                               "(0 = a row per decision)"),
    )

    # Scheduled reports (sent through the outbox, once per report and local date)
    timezone: str = Field(
        default="UTC",
        description="IANA time zone of the report times, e.g. Europe/Berlin (DST-aware).",
        json_schema_extra=_fix("set TIMEZONE to an IANA zone name such as UTC or "
                               "Europe/Berlin"),
    )
    daily_summary_at: str = Field(
        default="08:00",
        description="Local time (HH:MM) of the daily summary: balances, P&L, decisions, "
        "alerts and orders of the day; off switches it off.",
        json_schema_extra=_fix("set DAILY_SUMMARY_AT to a local time HH:MM such as 08:00, "
                               "or off"),
    )
    sell_report_at: str = Field(
        default="20:00",
        description="Local time (HH:MM) of the sell report (the last 24 h of SELLs with "
        "P&L); off switches it off.",
        json_schema_extra=_fix("set SELL_REPORT_AT to a local time HH:MM such as 20:00, "
                               "or off"),
    )
    sltp_reminder_at: str = Field(
        default="09:00",
        description="Local time (HH:MM) of the reminder naming positions without SL/TP "
        "(nothing is sent when all are protected); off switches it off.",
        json_schema_extra=_fix("set SLTP_REMINDER_AT to a local time HH:MM such as 09:00, "
                               "or off"),
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Parsing a URL is the store's business (the only package importing SQLAlchemy).
        from atp.store.urls import normalise_database_url

        return normalise_database_url(value)

    @field_validator("exchange_base_url", "telegram_api_base", "deadman_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return str(parse_timezone(value).key)

    @field_validator("daily_summary_at", "sell_report_at", "sltp_reminder_at")
    @classmethod
    def _local_time(cls, value: str) -> str:
        at = parse_local_time(value)
        return "off" if at is None else at.strftime("%H:%M")

    @field_validator("telegram_allowed_chat_ids")
    @classmethod
    def _chat_ids(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if not part.lstrip("-").isdigit():
                raise ValueError(f"'{part}' is not a numeric chat id")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        if (self.exchange_api_key is None) != (self.exchange_api_secret is None):
            raise ValueError(
                "EXCHANGE_API_KEY and EXCHANGE_API_SECRET must be set together"
            )
        return self

    @property
    def allowed_chat_ids(self) -> frozenset[str]:
        ids = {p.strip() for p in self.telegram_allowed_chat_ids.split(",") if p.strip()}
        if self.telegram_chat_id:
            ids.add(self.telegram_chat_id)
        return frozenset(ids)

    @property
    def limits(self) -> Limits:
        """Every time limit derived from the monitor interval (one function computes them)."""
        return limits(self.monitor_interval_seconds)

    @property
    def zone(self) -> ZoneInfo:
        """TIMEZONE as a zone (validated at load)."""
        return ZoneInfo(self.timezone)

    @property
    def report_times(self) -> dict[Report, time | None]:
        """Each report's local time; None = switched off."""
        return {Report.DAILY_SUMMARY: parse_local_time(self.daily_summary_at),
                Report.SELL_REPORT: parse_local_time(self.sell_report_at),
                Report.SLTP_REMINDER: parse_local_time(self.sltp_reminder_at)}

    @property
    def has_exchange_credentials(self) -> bool:
        return self.exchange_api_key is not None and self.exchange_api_secret is not None


class SettingsError(Exception):
    """Invalid settings, rendered as one line per bad field with the fix."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = ["Invalid settings (environment or .env):"]
        for name, why, fix in self.problems:
            lines.append(f"  - {name}: {why}; fix: {fix}")
        return "\n".join(lines)

    @classmethod
    def from_validation(cls, exc: ValidationError) -> SettingsError:
        problems: list[tuple[str, str, str]] = []
        for err in exc.errors(include_input=False, include_url=False):
            loc = [str(p) for p in err["loc"]]
            field = loc[0] if loc else ""
            info = Settings.model_fields.get(field)
            extra = info.json_schema_extra if info is not None else None
            fix = str(extra.get("fix")) if isinstance(extra, dict) else "see .env.example"
            why = str(err["msg"]).removeprefix("Value error, ")
            name = field.upper() if field else "settings"
            problems.append((name, why, fix))
        return cls(problems)


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning pydantic's error into a `SettingsError` a user can act on."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError.from_validation(exc) from None


def require(settings: Settings, *names: str) -> None:
    """Fail with a SettingsError when any named field is unset (for `atp run`)."""
    missing = []
    for name in names:
        if getattr(settings, name) in (None, ""):
            info = Settings.model_fields[name]
            extra = info.json_schema_extra
            fix = str(extra.get("fix")) if isinstance(extra, dict) else "see .env.example"
            missing.append((name.upper(), "missing", fix))
    if missing:
        raise SettingsError(missing)
