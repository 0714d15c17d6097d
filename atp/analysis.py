"""Offline analysis: candles from a CSV file through the same engine the monitor uses.

`atp analyze` is how a trader asks "what would ATP decide on these candles?". It calls
`signals.evaluate` — never a copy of the rules — with the candle's close as a fresh price.
With `--daily FILE`, daily candles feed MA10w; for each evaluated candle only the daily
candles closed by the end of that candle count (no look-ahead).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atp.domain.candles import Candles
from atp.domain.presets import Preset
from atp.domain.signals import FLAG_NAMES, Decision, evaluate

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
INDICATOR_KEYS = ("price", "rsi", "ma50", "ma200", "ema10", "atr", "volume_ratio")
DAY_MS = 86_400_000


class CandleFileError(ValueError):
    """A malformed candle file, with the line and column a user must fix."""


@dataclass(frozen=True, slots=True)
class CandleFile:
    candles: Candles
    labels: tuple[str, ...]  # the timestamps as written in the file


def parse_timestamp(text: str) -> int:
    """ISO 8601 (with Z or offset) or epoch seconds / milliseconds → epoch ms (UTC)."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return int(number if number > 1e11 else number * 1000)


def read_candles_csv(path: Path) -> CandleFile:
    """Read and validate a `timestamp,open,high,low,close,volume` file."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CandleFileError(f"{path}: cannot open ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise CandleFileError(
                f"{path}: line 1: empty file, expected header {','.join(COLUMNS)}"
            )
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise CandleFileError(
                f"{path}: line 1: missing column(s) {', '.join(missing)}; "
                f"expected header {','.join(COLUMNS)}"
            )
        index = {c: names.index(c) for c in COLUMNS}
        rows: list[tuple[int, float, float, float, float, float]] = []
        labels: list[str] = []
        last_ts: int | None = None
        for line_no, record in enumerate(reader, start=2):
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(record) < len(names):
                raise CandleFileError(
                    f"{path}: line {line_no}: {len(record)} fields, expected {len(names)}"
                )
            label = record[index["timestamp"]].strip()
            try:
                ts = parse_timestamp(label)
            except ValueError:
                raise CandleFileError(
                    f"{path}: line {line_no}, column timestamp: '{label}' is not a timestamp"
                ) from None
            if last_ts is not None and ts <= last_ts:
                what = "duplicate" if ts == last_ts else "out of order (not after line above)"
                raise CandleFileError(
                    f"{path}: line {line_no}, column timestamp: '{label}' is {what}"
                )
            values: list[float] = []
            for column in COLUMNS[1:]:
                cell = record[index[column]].strip()
                try:
                    value = float(cell)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value) or value < 0:
                    raise CandleFileError(
                        f"{path}: line {line_no}, column {column}: '{cell}' is not a "
                        "non-negative number"
                    )
                values.append(value)
            rows.append((ts, values[0], values[1], values[2], values[3], values[4]))
            labels.append(label)
            last_ts = ts
    if not rows:
        raise CandleFileError(f"{path}: no candles after the header")
    return CandleFile(Candles.from_rows(rows), tuple(labels))


def analyze_candle(
    candles: Candles,
    preset: Preset,
    buy_target: float | None = None,
    daily: Candles | None = None,
    timeframe_ms: int | None = None,
) -> Decision:
    """Decision on the last candle of `candles`; offline its close is a fresh price.

    `daily`: daily candles; only those closed by the end of the last candle (its open
    time + `timeframe_ms`, by default the candles' own step) feed MA10w.
    """
    now = datetime.fromtimestamp(int(candles.timestamp[-1]) / 1000, tz=UTC)
    daily_close = None
    daily_cause = "no daily candle file (--daily)"
    if daily is not None:
        step = candle_step_ms(candles) if timeframe_ms is None else timeframe_ms
        daily_close = daily.closed_at(int(candles.timestamp[-1]) + step, DAY_MS).close
        daily_cause = "none closed by then"
    return evaluate(
        candles,
        preset,
        price=float(candles.close[-1]),
        price_at=now,
        now=now,
        buy_target=buy_target,
        daily_close=daily_close if daily_close is None or len(daily_close) else None,
        daily_cause=daily_cause,
    )


def candle_step_ms(candles: Candles) -> int:
    """The candles' period: the smallest step between two of them (0 for one candle)."""
    if len(candles) < 2:
        return 0
    return int((candles.timestamp[1:] - candles.timestamp[:-1]).min())


def analyze_file(
    data: CandleFile,
    preset: Preset,
    every: bool,
    buy_target: float | None = None,
    daily: CandleFile | None = None,
) -> Iterator[tuple[str, Decision]]:
    """(timestamp label, decision) for the last candle, or for every prefix with `every`."""
    total = len(data.candles)
    step = candle_step_ms(data.candles)
    daily_candles = None if daily is None else daily.candles
    for end in range(1, total + 1) if every else (total,):
        yield data.labels[end - 1], analyze_candle(data.candles.head(end), preset, buy_target,
                                                   daily_candles, step)


def decision_json(label: str, decision: Decision, daily: bool = False) -> dict[str, Any]:
    """The JSON object of product.md §2, one per evaluated candle (`ma10w` with `--daily`)."""
    indicators = decision.indicators.to_dict()
    keys = (*INDICATOR_KEYS, "ma10w") if daily else INDICATOR_KEYS
    return {
        "timestamp": label,
        "decision": decision.decision,
        "buy_index": decision.buy_index,
        "flags": {name: decision.flags[name] for name in FLAG_NAMES},
        "indicators": {key: indicators[key] for key in keys},
        "reasons": list(decision.reasons),
    }
