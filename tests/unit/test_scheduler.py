"""The scheduler's tick decision: cycles on time, overruns counted, never queued twice."""

from __future__ import annotations

from atp.engine.service import schedule


def test_not_due_yet():
    step = schedule(now=9.0, next_at=10.0, interval=30.0, running=False)
    assert not step.start and step.next_at == 10.0


def test_due_starts_with_its_lag():
    step = schedule(now=10.4, next_at=10.0, interval=30.0, running=False)
    assert step.start and round(step.lag, 6) == 0.4 and step.next_at == 40.0


def test_overrun_is_counted_not_queued():
    step = schedule(now=40.2, next_at=40.0, interval=30.0, running=True)
    assert not step.start and step.missed == 1 and step.next_at == 70.0


def test_a_long_pause_does_not_fire_missed_slots_back_to_back():
    step = schedule(now=200.0, next_at=40.0, interval=30.0, running=False)
    assert step.start and step.next_at == 230.0
    again = schedule(now=201.0, next_at=step.next_at, interval=30.0, running=True)
    assert not again.start and again.missed == 0


def test_stalled_monitor_never_starts():
    assert not schedule(now=100.0, next_at=10.0, interval=30.0, running=False,
                        stalled=True).start
