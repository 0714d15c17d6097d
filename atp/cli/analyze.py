"""`atp analyze`: what the strategy decides for given candles (product.md §2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from atp.cli.common import fail
from atp.domain.presets import DEFAULT_PRESETS, PRESET_NAMES

if TYPE_CHECKING:
    from atp.domain.signals import Decision

_COLOURS = {True: "green", False: "red", None: "yellow"}


def analyze(
    candles: Path = typer.Option(
        ..., "--candles", help="CSV file: timestamp,open,high,low,close,volume"
    ),
    preset: str = typer.Option(
        "swing-conservative", "--preset", help=f"One of: {', '.join(PRESET_NAMES)}"
    ),
    every: bool = typer.Option(False, "--all", help="Evaluate every candle on its own prefix."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per evaluated candle."),
    buy_target: float | None = typer.Option(None, "--buy-target", help="Optional buy target."),
    daily: Path | None = typer.Option(
        None, "--daily", help="CSV of daily candles (same columns): feeds MA10w."
    ),
) -> None:
    """Print the decision, flags, indicators and reasons for the candles of a file."""
    # Imported here so other commands start without loading TA-Lib.
    from atp.analysis import CandleFileError, analyze_file, decision_json, read_candles_csv

    if preset not in DEFAULT_PRESETS:
        fail(f"--preset: unknown preset '{preset}'; fix: use one of {', '.join(PRESET_NAMES)}")
    try:
        data = read_candles_csv(candles)
    except CandleFileError as exc:
        fail(f"Invalid candle file: {exc}")
    daily_data = None
    if daily is not None:
        try:
            daily_data = read_candles_csv(daily)
        except CandleFileError as exc:
            fail(f"Invalid daily candle file (--daily): {exc}")
    results = analyze_file(data, DEFAULT_PRESETS[preset], every, buy_target, daily_data)
    if as_json:
        out = sys.stdout
        for label, decision in results:
            obj = decision_json(label, decision, daily=daily_data is not None)
            out.write(json.dumps(obj, allow_nan=False) + "\n")
        return
    console = Console()
    if every:
        for label, decision in results:
            console.print(f"{label}  {decision.decision:<4}  buy_index={decision.buy_index:>3}")
        return
    for label, decision in results:
        _print_one(console, label, decision)


def _print_one(console: Console, label: str, decision: Decision) -> None:
    colour = {"BUY": "green", "SELL": "red", "WAIT": "yellow"}[decision.decision]
    console.print(
        f"[bold]{label}[/]  preset {decision.preset}  decision [bold {colour}]"
        f"{decision.decision}[/]  buy_index {decision.buy_index}"
    )
    flags = Table("flag", "value", title="Flags")
    for name, value in decision.flags.items():
        flags.add_row(name, f"[{_COLOURS[value]}]{value}[/]")
    indicators = Table("indicator", "value", title="Indicators")
    for name, ind_value in decision.indicators.to_dict().items():
        indicators.add_row(name, "unknown" if ind_value is None else f"{ind_value:.8g}")
    console.print(flags, indicators)
    for reason in decision.reasons:
        console.print(f"  - {reason}", markup=False)
