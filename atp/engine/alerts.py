"""The alert pipeline (business-rules §5): flags → throttle → durable outbox.

Every BUY/SELL decision ends here with exactly one outcome: BLOCKED (once per change of
decision; later decisions of the same blocked run point at that outcome through
`alert_ref`), THROTTLED with its measured reason, or PENDING in the outbox, which the
outbox worker turns into SENT or FAILED. Acceptance, the throttle state and the outbox
row are written in one transaction, so a crash can never accept without enqueueing; the
monitor passes its own unit (`process_in`), so a cycle's decisions and their outcomes
commit together. ABANDONED is the outcome of a decision found without one at start and
too old to alert (`abandon`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from atp.domain.alerts import blocking_flag
from atp.domain.throttle import Side, accept, throttle_verdict
from atp.engine.intents import record_intent
from atp.events import AlertAbandoned, AlertBlocked, AlertPending, AlertThrottled, Event
from atp.logging import ALERT_EMIT, ALERT_THROTTLED, get_logger, log_marker
from atp.store import repository as repo
from atp.store.database import Database
from atp.store.errors import StoreError
from atp.store.journal import record as record_event
from atp.store.repository import WatchItem
from atp.store.uow import UnitOfWork
from atp.telegram.format import format_alert

log = get_logger("atp.alerts")

@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What the pipeline needs of a stored decision."""

    decision_id: str
    symbol: str
    side: Side
    preset: str
    price: float | None
    buy_index: int
    reasons: tuple[str, ...]
    atr: float | None = None  # the decision's ATR: the trader's SL/TP levels use it


@dataclass(frozen=True, slots=True)
class AlertResult:
    decision_id: str
    outcome: str  # BLOCKED | THROTTLED | PENDING | COVERED (an earlier BLOCKED covers it)
    reason: str


@dataclass
class AlertFaults:
    """Demo fault `alert-drop`: the outcome of a decision is never recorded."""

    drop_outcomes: bool = False


@dataclass
class AlertPipeline:
    db: Database
    instance: str
    chat_id: str | None
    alerts_enabled: bool = True
    faults: AlertFaults = field(default_factory=AlertFaults)
    # symbol → (side, flag, decision id of the BLOCKED outcome) for the current blocked run
    _blocked_runs: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def decision_changed(self, symbol: str) -> None:
        """A new decision for `symbol` ends its blocked run: the next block is recorded."""
        self._blocked_runs.pop(symbol, None)

    def process(self, record: DecisionRecord, item: WatchItem, now: datetime) -> AlertResult:
        [result] = self.process_many([(record, item)], now)
        if isinstance(result, Exception):
            raise result
        return result

    def process_many(
        self, batch: list[tuple[DecisionRecord, WatchItem]], now: datetime
    ) -> list[AlertResult | Exception]:
        """A cycle's alerts in one transaction, each decision in its own savepoint: one
        decision's failure leaves it without outcome (named by `atp check`) and the
        others go on, without paying a commit per decision."""
        with self.db.unit("alert_pipeline") as uow:
            return self.process_in(uow, batch, now)

    def process_in(
        self, uow: UnitOfWork, batch: list[tuple[DecisionRecord, WatchItem]], now: datetime
    ) -> list[AlertResult | Exception]:
        """`process_many` inside the caller's transaction (the monitor's, which also holds
        the decisions: both commit, or neither)."""
        if self.faults.drop_outcomes:
            # What a crash between decision and alert looks like: nothing is recorded.
            return [AlertResult(r.decision_id, "DROPPED", "fault alert-drop") for r, _ in batch]
        results: list[AlertResult | Exception] = []
        for record, item in batch:
            runs = dict(self._blocked_runs)
            try:
                with uow.savepoint():
                    results.append(self._process(uow, record, item, now))
            except StoreError as exc:
                self._blocked_runs = runs  # the savepoint's in-memory effects go too
                results.append(exc)
        return results

    def abandon(self, uow: UnitOfWork, record: DecisionRecord, now: datetime, age_s: float,
                limit_s: float, why: str) -> AlertResult:
        """The outcome of an orphan too old to alert: ABANDONED, saying why and how old."""
        reason = (f"{why}; found {age_s:.0f} s after the decision (limit {limit_s:.0f} s): "
                  "too old to alert")
        self._outcome(uow, record, "ABANDONED", reason, now,
                      AlertAbandoned(side=record.side, age_s=round(age_s, 1),
                                     limit_s=limit_s))
        log.warning("alert abandoned", symbol=record.symbol, side=record.side,
                    decision_id=record.decision_id, reason=reason)
        return AlertResult(record.decision_id, "ABANDONED", reason)

    def repeat_of(self, uow: UnitOfWork, record: DecisionRecord, item: WatchItem,
                  now: datetime, run_id: str, run_outcome: str | None,
                  run_reason: str | None) -> AlertResult | None:
        """The result when `record` only repeats its run's outcome, else None (nothing is
        written either way).

        A BUY/SELL decision that follows the same decision of its symbol's newest row,
        whose outcome was THROTTLED and which is throttled again, or BLOCKED by the same
        flag again, adds nothing but a time: the monitor folds it into that row (domain/
        compaction.py), under the row's id and its one outcome, as BLOCKED already was
        recorded once per run. Judged from the record (the row's outcome, the throttle
        state), so a restart folds the same way."""
        flag = self._blocking(record, item)
        if flag is not None:
            if run_outcome == "BLOCKED" and run_reason == _blocked_reason(flag):
                self._blocked_runs[record.symbol] = (record.side, flag, run_id)
                return AlertResult(run_id, "BLOCKED", run_reason)
            return None
        if run_outcome != "THROTTLED":
            return None
        last = repo.get_throttle(uow.session, record.symbol, record.preset)
        verdict = throttle_verdict(last, record.side, record.price or 0.0, now,
                                   item.preset.cooldown_minutes,
                                   item.preset.min_price_change_pct)
        if verdict.allowed:
            return None
        log_marker(log, ALERT_THROTTLED, symbol=record.symbol, side=record.side,
                   reason=verdict.reason, decision_id=run_id, repeat=True)
        return AlertResult(run_id, "THROTTLED", verdict.reason)

    def _blocking(self, record: DecisionRecord, item: WatchItem) -> str | None:
        flag = blocking_flag(item.flags, record.side)
        if flag is None and (not self.alerts_enabled or not self.chat_id):
            flag = "ALERTS_ENABLED" if not self.alerts_enabled else "TELEGRAM_CHAT_ID"
        return flag

    def _process(
        self, uow: UnitOfWork, record: DecisionRecord, item: WatchItem, now: datetime
    ) -> AlertResult:
        flag = self._blocking(record, item)
        if flag is not None:
            return self._blocked(uow, record, flag, now)
        self._blocked_runs.pop(record.symbol, None)
        session = uow.session
        last = repo.get_throttle(session, record.symbol, record.preset)
        price = record.price or 0.0
        verdict = throttle_verdict(
            last, record.side, price, now, item.preset.cooldown_minutes,
            item.preset.min_price_change_pct,
        )
        if not verdict.allowed:
            assert last is not None  # a first alert is never throttled
            # The state the verdict was made from, so `atp check` can recompute it.
            state = AlertThrottled(
                side=record.side, last_side=last.side,
                last_alerted_at=last.alerted_at.isoformat(), last_price=last.price,
                price=price, cooldown_minutes=item.preset.cooldown_minutes,
                min_price_change_pct=item.preset.min_price_change_pct)
            self._outcome(uow, record, "THROTTLED", verdict.reason, now, state)
            log_marker(log, ALERT_THROTTLED, symbol=record.symbol, side=record.side,
                       reason=verdict.reason, decision_id=record.decision_id)
            return AlertResult(record.decision_id, "THROTTLED", verdict.reason)
        repo.save_throttle(session, record.symbol, record.preset,
                           accept(record.side, price, now), record.decision_id)
        self._outcome(uow, record, "PENDING", verdict.reason, now,
                      AlertPending(side=record.side, throttle=verdict.reason))
        assert self.chat_id is not None
        text = format_alert(
            symbol=record.symbol, side=record.side, price=record.price, preset=record.preset,
            reasons=record.reasons, buy_index=record.buy_index, origin=self.instance,
            decision_id=record.decision_id,
        )
        repo.enqueue(session, kind="alert", chat_id=self.chat_id, text=text,
                     origin=self.instance, at=now, decision_id=record.decision_id)
        self._intent(uow, record, item, now)
        return AlertResult(record.decision_id, "PENDING", verdict.reason)

    def _intent(self, uow: UnitOfWork, record: DecisionRecord, item: WatchItem,
                now: datetime) -> None:
        """The order intent of an accepted alert, in the alert's transaction (its own
        savepoint: trading never blocks or undoes the alert)."""
        if not item.trade_enabled:
            return
        try:
            with uow.savepoint():
                record_intent(uow, decision_id=record.decision_id, symbol=record.symbol,
                              side=record.side, price=record.price, atr=record.atr,
                              item=item, now=now, instance=self.instance)
        except Exception as exc:
            log.error("order intent not recorded", symbol=record.symbol,
                      decision_id=record.decision_id, error=f"{type(exc).__name__}: {exc}")

    def _blocked(
        self, uow: UnitOfWork, record: DecisionRecord, flag: str, now: datetime
    ) -> AlertResult:
        run = self._blocked_runs.get(record.symbol)
        if run is not None and run[:2] == (record.side, flag):
            repo.set_alert_ref(uow.session, record.decision_id, run[2])
            return AlertResult(record.decision_id, "COVERED", f"blocked run of {run[2]}")
        reason = _blocked_reason(flag)
        self._outcome(uow, record, "BLOCKED", reason, now,
                      AlertBlocked(side=record.side, flag=flag))
        self._blocked_runs[record.symbol] = (record.side, flag, record.decision_id)
        log_marker(log, ALERT_EMIT, symbol=record.symbol, side=record.side, status="blocked",
                   decision_id=record.decision_id, reason=reason)
        return AlertResult(record.decision_id, "BLOCKED", reason)

    def _outcome(
        self, uow: UnitOfWork, record: DecisionRecord, outcome: str, reason: str,
        now: datetime, event: Event,
    ) -> None:
        session = uow.session
        repo.record_outcome(
            session, decision_id=record.decision_id, symbol=record.symbol, side=record.side,
            preset=record.preset, outcome=outcome, reason=reason, price=record.price,
            origin=self.instance, at=now,
        )
        record_event(session, event, at=now, instance=self.instance, symbol=record.symbol,
                     decision_id=record.decision_id, message=reason)


def _blocked_reason(flag: str) -> str:
    return f"{flag} is off" if flag.islower() else f"{flag} not set"
