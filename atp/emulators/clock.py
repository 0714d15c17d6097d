"""Clocks for the emulators: real, accelerated (demo) or manual (tests).

Emulator-local on purpose: the engine has its own Clock protocol, and emulators must not
depend on engine code. Every clock answers `now()` in epoch seconds (float).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class EmulatorClock(Protocol):
    def now(self) -> float:
        """Current time of the emulated world, epoch seconds."""
        ...


def now_ms(clock: EmulatorClock) -> int:
    return int(clock.now() * 1000)


class RealClock:
    """Wall-clock time; what production-like runs of the emulator use."""

    def now(self) -> float:
        return time.time()


class AcceleratedClock:
    """Time that starts at `start` and runs `speed` times faster than real time.

    The demo uses it so that hourly candles close every few seconds; `real` is injectable
    so the acceleration itself can be tested without sleeping.
    """

    def __init__(
        self,
        start: float | None = None,
        speed: float = 1.0,
        real: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = time.time() if start is None else start
        self.speed = speed
        self._real = real
        self._t0 = real()

    def now(self) -> float:
        return self.start + (self._real() - self._t0) * self.speed


class ManualClock:
    """Time that only moves when told to: tests step the market with no sleeping."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._now += seconds
        return self._now

    def set(self, t: float) -> None:
        self._now = float(t)
