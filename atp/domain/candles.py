"""Closed OHLCV candles as numpy arrays: what the indicators consume."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Candles:
    """Closed candles, oldest first. `timestamp` is the candle's open time in ms (UTC)."""

    timestamp: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @classmethod
    def from_rows(cls, rows: list[tuple[int, float, float, float, float, float]]) -> Candles:
        if not rows:
            return cls.empty()
        arr = np.asarray(rows, dtype=np.float64)
        return cls(
            timestamp=arr[:, 0].astype(np.int64),
            open=np.ascontiguousarray(arr[:, 1]),
            high=np.ascontiguousarray(arr[:, 2]),
            low=np.ascontiguousarray(arr[:, 3]),
            close=np.ascontiguousarray(arr[:, 4]),
            volume=np.ascontiguousarray(arr[:, 5]),
        )

    @classmethod
    def empty(cls) -> Candles:
        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f)

    def head(self, n: int) -> Candles:
        """The first `n` candles (views, no copy): `atp analyze --all` evaluates prefixes."""
        return Candles(
            self.timestamp[:n], self.open[:n], self.high[:n],
            self.low[:n], self.close[:n], self.volume[:n],
        )

    def tail(self, n: int) -> Candles:
        start = max(0, len(self) - n)
        return Candles(
            self.timestamp[start:], self.open[start:], self.high[start:],
            self.low[start:], self.close[start:], self.volume[start:],
        )

    def closed_at(self, now_ms: int, timeframe_ms: int) -> Candles:
        """Only candles whose period has ended by `now_ms`: the forming one never counts."""
        n = int(np.searchsorted(self.timestamp, now_ms - timeframe_ms, side="right"))
        return self.head(n)
