"""The application core: every channel's reads and writes go through here.

API routers, the dashboard (through the API), Telegram commands and the CLI only
translate their input into a call of `Core` and its answer into their format. The core
validates (with the domain's rules), audits and commits each change in one unit of work,
and serves read models built from the stored records — the latest stored decision per
symbol is what every channel shows (one record; failure mode 3), never a process's memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from atp.domain.candles import Candles
from atp.domain.errors import FieldError
from atp.domain.indicators import EMA_PERIOD, MA_LONG, MA_SHORT, average_series
from atp.domain.instruments import check_listed
from atp.domain.presets import Preset, apply_overrides
from atp.engine.clock import Clock
from atp.engine.intents import KILL_SWITCH, LIVE_TRADING
from atp.engine.portfolio import Portfolio
from atp.engine.trader import Trader
from atp.events import SystemMessageQueued, TradingSwitchChanged
from atp.store import aggregates, queries
from atp.store import configuration as rows
from atp.store import repository as repo
from atp.store import trading as trading_rows
from atp.store.database import Database
from atp.store.journal import record

ALERT_FLAG_FIELDS = {"buy": "buy_alert_enabled", "sell": "sell_alert_enabled",
                     "all": "alert_enabled"}

Loc = list[str | int]


class CoreError(Exception):
    """A request the core refuses; `loc` names the field (FastAPI's error shape)."""

    def __init__(self, message: str, loc: Loc | None = None) -> None:
        super().__init__(message)
        self.message, self.loc = message, loc


class NotFound(CoreError):
    pass


class Conflict(CoreError):
    pass


class Invalid(CoreError):
    pass


Listed = Callable[[], Awaitable[Collection[str] | None]]


@dataclass
class Core:
    """One instance per process, shared by every channel."""

    db: Database
    clock: Clock
    instance: str
    chat_id: str | None = None
    listed: Listed | None = None  # the instruments the exchange lists; None = cannot say
    candles: Callable[[str], Candles | None] | None = None  # the market data service's
    wake_outbox: Callable[[], None] | None = None
    trader: Trader | None = None  # the trading desk (orders, positions, switches)

    # ── writes ─────────────────────────────────────────────────────────────────────────

    async def add_symbol(self, values: dict[str, Any], author: str) -> dict[str, Any]:
        """Watch a new symbol: one row per symbol (failure mode 12), an instrument the
        exchange lists, a known preset and overrides valid on top of it."""
        symbol = values["symbol"]
        if self.listed is not None:
            try:
                check_listed(symbol, await self.listed(), exchange="Crypto.com")
            except FieldError as exc:
                raise Invalid(exc.problems[exc.field], ["body", exc.field]) from None

        def write() -> dict[str, Any]:
            with self.db.unit("core_watchlist") as uow:
                if rows.watch_row(uow.session, symbol) is not None:
                    raise Conflict(f"{symbol} is already on the watchlist", ["body", "symbol"])
                self._check_preset(uow.session, values["preset"], values.get("overrides") or {})
                return rows.insert_watch_row(uow.session, values, author, self.clock.now())

        return await self.db.run(write)

    async def update_symbol(self, symbol: str, changes: dict[str, Any],
                            author: str) -> dict[str, Any]:
        """Change a symbol's switches, preset or overrides; audited per field."""

        def write() -> dict[str, Any]:
            with self.db.unit("core_watchlist") as uow:
                current = rows.watch_row(uow.session, symbol)
                if current is None:
                    raise NotFound(f"{symbol} is not on the watchlist")
                if "preset" in changes or "overrides" in changes:
                    self._check_preset(uow.session, changes.get("preset", current["preset"]),
                                       changes.get("overrides", current["overrides"] or {}))
                return rows.update_watch_row(uow.session, symbol, changes, author,
                                             self.clock.now())

        return await self.db.run(write)

    async def remove_symbol(self, symbol: str, author: str) -> None:
        def write() -> bool:
            with self.db.unit("core_watchlist") as uow:
                return rows.delete_watch_row(uow.session, symbol, author, self.clock.now())

        if not await self.db.run(write):
            raise NotFound(f"{symbol} is not on the watchlist")

    async def set_alert_flag(self, symbol: str, side: str, on: bool,
                             author: str) -> dict[str, Any]:
        """Telegram's `/alerts SYMBOL buy off`: the same audited write as the API's."""
        field = ALERT_FLAG_FIELDS.get(side)
        if field is None:
            raise Invalid(f"side must be one of {', '.join(ALERT_FLAG_FIELDS)}", ["side"])
        return await self.update_symbol(symbol, {field: on}, author)

    async def update_preset(self, name: str, changes: dict[str, Any],
                            author: str) -> dict[str, Any]:
        """Edit preset thresholds, validated by the domain's preset rules, audited."""

        def write() -> dict[str, Any]:
            with self.db.unit("core_presets") as uow:
                current = rows.preset(uow.session, name)
                if current is None:
                    raise NotFound(f"no preset named {name!r}")
                updated = _validated(current, changes, ["body"])
                return rows.update_preset_row(uow.session, updated, author, self.clock.now())

        return await self.db.run(write)

    async def set_live_trading(self, on: bool, author: str) -> dict[str, Any]:
        """The one switch between dry-run and live orders (business-rules §6), audited."""

        return await self._switch(LIVE_TRADING, on, author)

    async def _switch(self, key: str, on: bool, author: str) -> dict[str, Any]:
        """A trading switch: stored, audited, journaled (TradingSwitchChanged) together."""

        def write() -> dict[str, Any]:
            now = self.clock.now()
            with self.db.unit("core_settings") as uow:
                before = rows.get_setting(uow.session, key) is True
                row = rows.set_setting(uow.session, key, on, author, now)
                if before != on:
                    record(uow.session, TradingSwitchChanged(switch=key, on=on, author=author),
                           at=now, instance=self.instance,
                           message=f"{key} {'on' if on else 'off'} by {author}")
                return row

        return await self.db.run(write)

    # ── trading (the contract of /api/trading, /api/orders, /api/positions) ──────────────

    async def set_kill_switch(self, on: bool, author: str) -> dict[str, Any]:
        """While on, every new order intent is BLOCKED (`kill switch`); audited."""
        row = await self._switch(KILL_SWITCH, on, author)
        state = await self.trading_state()
        return {**state, "kill_switch": row["value"] is True, "updated_at": row["updated_at"],
                "updated_by": row["updated_by"]}

    async def kill_switch(self) -> bool:
        return await self._read(rows.get_setting, KILL_SWITCH) is True

    async def panic(self, author: str) -> dict[str, Any]:
        """Cancel every open ATP entry order; SL/TP orders stay in place."""
        if self.trader is None:
            return {"cancelled": []}
        return {"cancelled": await self.trader.panic(author)}

    async def trading_state(self) -> dict[str, Any]:
        if self.trader is None:
            live = await self.live_trading()
            return {"mode": "paper", "live_switch": live, "kill_switch": await self.kill_switch(),
                    "credentials": False,
                    "live_refused_reason": "live trading refused: no trader" if live else None,
                    "last_private_order_call": None, "open_orders": 0, "open_positions": 0,
                    "unprotected_positions": 0}
        return await self.trader.state()

    async def positions(self) -> dict[str, Any]:
        if self.trader is None:
            return {"positions": [], "mode": "paper"}
        return await self.trader.positions()

    def _portfolio(self) -> Portfolio:
        return Portfolio(self.db, self.clock, self.trader)

    async def portfolio(self) -> dict[str, Any]:
        """Balances in USD with the total, positions with SL/TP and unrealised P&L, and the
        expected take-profit per symbol (atp.engine.portfolio; figures from the domain)."""
        return await self._portfolio().portfolio()

    async def open_orders(self) -> dict[str, Any]:
        return await self._portfolio().open_orders()

    async def executed_orders(self, *, symbol: str | None = None, since: datetime | None = None,
                              limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return await self._portfolio().executed_orders(symbol=symbol, since=since,
                                                       limit=limit, offset=offset)

    async def pnl(self) -> dict[str, Any]:
        return await self._portfolio().pnl()

    async def order_intents(self, since: datetime | None = None, outcome: str | None = None,
                            symbol: str | None = None, limit: int = 200) -> dict[str, Any]:
        """Intents newest first with their orders, the total and rejections by code."""
        result: dict[str, Any] = await self._read(trading_rows.intents_view, since=since,
                                                  outcome=outcome, symbol=symbol, limit=limit)
        return result

    async def notify_system(self, source: str, text: str) -> bool:
        """A system message (the watchdog's, for one) through the same durable outbox as
        alerts, journaled as such — never counted or logged as an alert. False when no
        chat is configured (nothing to send to)."""
        chat_id = self.chat_id
        if not chat_id:
            return False

        def write() -> None:
            now = self.clock.now()
            with self.db.unit("core_system_message") as uow:
                repo.enqueue(uow.session, kind="watchdog", chat_id=chat_id, text=text,
                             origin=self.instance, at=now)
                record(uow.session, SystemMessageQueued(source=source), at=now,
                       instance=self.instance, message=text.splitlines()[0][:200])

        await self.db.run(write)
        if self.wake_outbox is not None:
            self.wake_outbox()
        return True

    async def probe(self, symbol: str, author: str) -> dict[str, Any]:
        """A TEST-marked alert for a watched symbol through the real path (record, outbox,
        Telegram), apart from real alerts and never an order (`atp.engine.probe`)."""
        from atp.engine import probe

        symbol = symbol.strip().upper().replace("/", "_").replace("-", "_")
        try:
            view = await self.db.run(probe.create, self.db, symbol=symbol, author=author,
                                     origin=self.instance, chat_id=self.chat_id,
                                     now=self.clock.now())
        except probe.ProbeRefused as exc:
            if exc.field is None:
                raise Conflict(exc.message) from None
            raise Invalid(exc.message, ["body", exc.field]) from None
        if self.wake_outbox is not None:
            self.wake_outbox()
        return view

    async def probe_status(self, probe_id: str) -> dict[str, Any]:
        """The stage a probe reached: queued / sent (message id, latency) / failed."""
        from atp.store import probes

        view: dict[str, Any] | None = await self._read(probes.view, probe_id)
        if view is None:
            raise NotFound(f"no probe {probe_id!r}")
        return view

    def _check_preset(self, session: Any, preset: str, overrides: dict[str, Any]) -> None:
        base = rows.preset(session, preset)
        if base is None:
            names = ", ".join(rows.preset_names(session))
            raise Invalid(f"unknown preset {preset!r} (known: {names})", ["body", "preset"])
        _validated(base, overrides, ["body", "overrides"])

    # ── reads ──────────────────────────────────────────────────────────────────────────

    async def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            with self.db.read_sessions() as session:
                return fn(session, *args, **kwargs)

        return await self.db.read(run)

    async def watchlist(self, symbol: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.watchlist, symbol)
        return result

    async def presets(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.presets)
        return result

    async def stored_settings(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.settings)
        return result

    async def live_trading(self) -> bool:
        return await self._read(rows.get_setting, LIVE_TRADING) is True

    async def coins(self) -> list[dict[str, Any]]:
        """Every watchlist symbol with its latest stored decision: the one record that
        the API, the dashboard, Telegram's /signals and `atp check` all show. A disabled
        symbol shows as disabled, with no decision (none made after the change shows)."""

        return (await self.coins_page())[1]

    async def coins_page(self, offset: int = 0, limit: int | None = None,
                         symbols: frozenset[str] | None = None
                         ) -> tuple[int, list[dict[str, Any]]]:
        """A page of `coins` in watchlist order (only `symbols` when given) and how many
        there are in all: only the page's latest decisions are read, so a dashboard page
        of 100 does not pay for 1,000 symbols."""

        def read(session: Any) -> tuple[int, list[dict[str, Any]], dict[str, dict[str, Any]]]:
            watch = queries.watchlist(session)
            if symbols is not None:
                watch = [w for w in watch if w["symbol"] in symbols]
            total = len(watch)
            watch = watch[offset:None if limit is None else offset + limit]
            enabled = [w["symbol"] for w in watch if w["enabled"]]
            return total, watch, queries.latest_decisions(session, enabled)

        total, watch, latest = await self._read(read)
        now = self.clock.now()
        return total, [coin_view(row, latest.get(row["symbol"]), now) for row in watch]

    async def decisions(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.decisions, **filters)
        return result

    async def decision_runs(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.decision_runs, **filters)
        return result

    async def outcomes(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.outcomes, **filters)
        return result

    async def telegram_messages(self, since: datetime | None, limit: int) -> dict[str, Any]:
        """The old platform's "Monitoring → Telegram Messages" view, from the alert outcomes:
        newest first, and the total in the window (not only this page)."""

        def read(session: Any) -> dict[str, Any]:
            rows = queries.outcomes(session, since=since, outcome=None, symbol=None,
                                    decision_id=None, limit=limit, offset=0)
            total = sum(repo.outcome_counts(session, since).values())
            return {"rows": rows, "total": total}

        result: dict[str, Any] = await self._read(read)
        return result

    async def events(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.events, **filters)
        return result

    async def throttle(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.throttle)
        return result

    async def orders(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.orders, **filters)
        return result

    async def audit(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.audit, **filters)
        return result

    async def cycles(self, since: datetime | None, limit: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(queries.cycles, since, limit)
        return result

    async def summary_counts(self, since: datetime | None) -> dict[str, Any]:
        result: dict[str, Any] = await self._read(queries.summary_counts, since)
        return result

    async def event_counts(self, since: datetime | None, until: datetime | None
                           ) -> dict[str, Any]:
        """Events per type and severity in the window (the `errors` check's count)."""
        result: dict[str, Any] = await self._read(aggregates.event_counts, since=since,
                                                  until=until)
        return result

    async def latest_events(self, types: list[str] | None, since: datetime | None
                            ) -> list[dict[str, Any]]:
        """The newest event of each symbol, newest first (one row per symbol)."""
        result: list[dict[str, Any]] = await self._read(aggregates.latest_per_symbol,
                                                        types=types, since=since)
        return result

    async def alert_reconciliation(self, since: datetime | None, limit: int
                                   ) -> dict[str, Any]:
        """BUY/SELL decisions joined to their outcomes, counted; only exceptions listed."""
        result: dict[str, Any] = await self._read(aggregates.alert_reconciliation,
                                                  since=since, limit=limit)
        return result

    async def lease(self, name: str) -> tuple[str | None, datetime | None]:
        result: tuple[str | None, datetime | None] = await self._read(
            queries.lease_holder, name, self.clock.now())
        return result

    async def processes(self, prefix: str) -> list[dict[str, Any]]:
        """Every live process sharing this database (presence leases named `prefix`…)."""
        result: list[dict[str, Any]] = await self._read(queries.processes, prefix,
                                                        self.clock.now())
        return result

    async def live_leases(self) -> list[dict[str, Any]]:
        """Every unexpired lease: the replicas' shards, sender, poller, trader, …"""
        result: list[dict[str, Any]] = await self._read(queries.live_leases, self.clock.now())
        return result

    async def outbox_depth(self) -> tuple[int, datetime | None]:
        result: tuple[int, datetime | None] = await self._read(queries.outbox_depth)
        return result

    async def outbox_repeats(self) -> int:
        """Messages ever sent as a marked possible repeat (durable, every process)."""
        result: int = await self._read(queries.outbox_repeats)
        return result

    async def last_exchange_failure_at(self) -> datetime | None:
        result: datetime | None = await self._read(queries.last_exchange_failure_at)
        return result

    async def chart(self, symbol: str, limit: int) -> dict[str, Any] | None:
        """The chart of one symbol: candles from the market data service (the ones the
        monitor evaluates), the decision from the record; None when there are none."""
        candles = self.candles(symbol) if self.candles is not None else None
        if candles is None or len(candles) == 0:
            return None
        latest = await self._read(queries.latest_decisions, [symbol])
        decision = latest.get(symbol)
        return chart_view(symbol, candles, decision, limit)


def _decided_at(decision: dict[str, Any]) -> datetime:
    """When a stored decision was last made: a compacted WAIT row's `seen_until`."""
    at: datetime = decision.get("seen_until") or decision["created_at"]
    return at


def _validated(base: Preset, changes: dict[str, Any], loc: Loc) -> Preset:
    try:
        return apply_overrides(base, changes)
    except FieldError as exc:
        field, why = next(iter(exc.problems.items()))
        raise Invalid(f"{field}: {why}", [*loc, field]) from None


def coin_view(row: dict[str, Any], decision: dict[str, Any] | None,
              now: datetime) -> dict[str, Any]:
    """One top-coins entry: the watchlist row and its latest stored decision."""
    item: dict[str, Any] = {
        k: row[k] for k in ("symbol", "enabled", "preset", "alert_enabled",
                            "buy_alert_enabled", "sell_alert_enabled", "trade_enabled")
    }
    item.update(decision_id=None, decision=None, buy_index=None, flags={}, indicators={},
                reasons=[], unknown_inputs={}, price=None, price_age_seconds=None,
                decided_at=None, decision_age_seconds=None, error=None)
    if not row["enabled"]:
        item["error"] = "disabled"
        return item
    if decision is None:
        item["error"] = "not evaluated yet"
        return item
    indicators = dict(decision.get("indicators") or {})
    item.update(
        decision_id=decision["id"], decision=decision["decision"],
        buy_index=decision["buy_index"], flags=dict(decision.get("flags") or {}),
        indicators=indicators, reasons=list(decision.get("reasons") or []),
        unknown_inputs=dict(decision.get("unknown_inputs") or {}),
        price=decision.get("price"), decided_at=_decided_at(decision),
        decision_age_seconds=round((now - _decided_at(decision)).total_seconds(), 3),
    )
    age = decision.get("price_age_seconds", indicators.get("price_age_seconds"))
    if isinstance(age, int | float):
        item["price_age_seconds"] = round(float(age), 3)
    return item


def chart_view(symbol: str, c: Candles, decision: dict[str, Any] | None,
               limit: int) -> dict[str, Any]:
    """Candles with the MA50 / MA200 / EMA10 lines drawn by the domain's own definitions."""
    import math

    overlays = {
        f"ma{MA_SHORT}": average_series(c.close, "sma", MA_SHORT),
        f"ma{MA_LONG}": average_series(c.close, "sma", MA_LONG),
        f"ema{EMA_PERIOD}": average_series(c.close, "ema", EMA_PERIOD),
    }
    start = max(0, len(c) - limit)
    # JSON has no NaN: a malformed candle is left out of the picture, not a 500
    keep = [i for i in range(start, len(c))
            if all(math.isfinite(float(a[i])) for a in (c.open, c.high, c.low, c.close, c.volume))]
    return {
        "symbol": symbol,
        "decision_id": None if decision is None else decision["id"],
        "decision": None if decision is None else decision["decision"],
        "candles": [
            {"t": int(c.timestamp[i]), "o": float(c.open[i]), "h": float(c.high[i]),
             "l": float(c.low[i]), "c": float(c.close[i]), "v": float(c.volume[i])}
            for i in keep
        ],
        "overlays": {name: [values[i] for i in keep] for name, values in overlays.items()},
    }
