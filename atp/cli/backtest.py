"""`atp backtest`: replay a candle file through the rules ATP trades with (issue 12)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from atp.cli.common import fail
from atp.domain.presets import DEFAULT_PRESETS, PRESET_NAMES

if TYPE_CHECKING:
    from atp.backtest import BacktestResult

_SYMBOL = re.compile(r"^[A-Z0-9]+_[A-Z0-9]+$")


def backtest(
    candles: Path = typer.Option(
        ..., "--candles", help="CSV file: timestamp,open,high,low,close,volume"
    ),
    preset: str = typer.Option(
        "swing-conservative", "--preset", help=f"One of: {', '.join(PRESET_NAMES)}"
    ),
    trade_amount: float = typer.Option(
        100.0, "--trade-amount", help="Notional of each BUY, in the quote currency."
    ),
    daily: Path | None = typer.Option(
        None, "--daily", help="CSV of daily candles (same columns): feeds MA10w."
    ),
    symbol: str | None = typer.Option(
        None, "--symbol", help="e.g. ETH_BTC; default: the file name up to its first '-'."
    ),
    taker_fee: float | None = typer.Option(
        None, "--taker-fee", help="Fee rate of a fill (default: the paper broker's, 0.005)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print trades and summary as JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the equity curve to this PNG."),
) -> None:
    """Replay candles through the live rules (throttle, gates, paper fills, SL/TP) and report."""
    from atp.analysis import CandleFileError, read_candles_csv
    from atp.backtest import backtest_rules, run_backtest

    if preset not in DEFAULT_PRESETS:
        fail(f"--preset: unknown preset '{preset}'; fix: use one of {', '.join(PRESET_NAMES)}")
    if not trade_amount >= 0:
        fail(f"--trade-amount: {trade_amount:g} is negative; fix: give an amount ≥ 0")
    if taker_fee is not None and not 0 <= taker_fee < 1:
        fail(f"--taker-fee: {taker_fee:g} is not a rate in [0, 1); fix: e.g. 0.005")
    if plot is not None and plot.suffix.lower() != ".png":
        fail(f"--plot: '{plot}' does not end in .png; fix: e.g. --plot equity.png")
    try:
        data = read_candles_csv(candles)
    except CandleFileError as exc:
        fail(f"Invalid candle file: {exc}")
    name = (symbol or candles.name.split("-", 1)[0].removesuffix(".csv")).upper()
    if not _SYMBOL.match(name):
        fail(f"--symbol: '{name}' is not BASE_QUOTE (from the file name); fix: pass "
             "--symbol, e.g. ETH_BTC")
    daily_candles = None
    if daily is not None:
        try:
            daily_candles = read_candles_csv(daily).candles
        except CandleFileError as exc:
            fail(f"Invalid daily candle file (--daily): {exc}")
    rules = backtest_rules(name, data.candles, trade_amount, taker_fee)
    result = run_backtest(data.candles, DEFAULT_PRESETS[preset], symbol=name,
                          trade_amount=trade_amount, daily=daily_candles, rules=rules)
    if plot is not None:
        try:
            write_plot(result, plot)
        except OSError as exc:
            fail(f"--plot: cannot write '{plot}' ({exc.strerror or exc})")
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), allow_nan=False) + "\n")
        return
    console = Console()
    if not console.is_terminal:  # piped: wide enough for the trades table on one line each
        console = Console(width=120)
    _print(console, result, plot)


def _num(value: float | None, digits: int = 8) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _when(iso: str | None) -> str:
    return "–" if iso is None else iso.replace("T", " ").removesuffix(":00Z")


def _print(console: Console, result: BacktestResult, plot: Path | None) -> None:
    s = result.summary
    q = result.quote
    summary = Table("", "value", title=f"Backtest {result.symbol} · {result.preset} · "
                    f"{result.trade_amount:g} {q} per BUY · taker fee {result.rules.taker_fee:g}")
    rows = [
        ("candles", f"{s.candles:,}"),
        ("decisions", ", ".join(f"{k} {v}" for k, v in s.decisions.items())),
        ("trades closed / open", f"{s.trades} / {s.open_trades}"),
        ("win rate", "–" if s.win_rate_pct is None else f"{s.win_rate_pct:.1f} % "
         f"({s.wins} won, {s.losses} lost)"),
        ("realised P&L", f"{s.realised_pnl:+.8g} {q}"),
        ("unrealised P&L (open)", f"{s.unrealised_pnl:+.8g} {q}"),
        ("fees", f"{s.fees:.8g} {q}"),
        ("equity", f"{s.starting_balance:g} → {s.final_equity:.8g} {q} ({s.return_pct:+.3f} %)"),
        ("max drawdown", f"{s.max_drawdown:.8g} {q} ({s.max_drawdown_pct:.3f} %)"),
        ("exposure", f"{s.exposure_pct:.1f} % of candles; at most {s.max_exposure:.8g} {q}"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in s.outcomes.items()) or "–"),
    ]
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)
    trades = Table("#", "opened", "entry", "SL / TP", "closed", "by", "exit", f"P&L {q}",
                   title="Trades (fees in the P&L)")
    for n, t in enumerate(result.trades, start=1):
        colour = "green" if (t.pnl or 0) > 0 else "red"
        trades.add_row(str(n), _when(t.opened_at), _num(t.entry_price, 6),
                       f"{_num(t.stop_loss, 6)} / {_num(t.take_profit, 6)}",
                       _when(t.closed_at), t.closed_by.replace("_", " "),
                       _num(t.exit_price, 6), f"[{colour}]{_num(t.pnl, 5)}[/]")
    console.print(trades)
    if plot is not None:
        console.print(f"equity curve written to {plot}")


def write_plot(result: BacktestResult, path: Path) -> None:
    """The equity curve at each close, with the trades' entries and exits marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    times = np.asarray(result.times, dtype="datetime64[ms]")
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    try:
        ax.plot(times, result.equity, linewidth=1.0, color="#1f77b4")
        ax.axhline(result.summary.starting_balance, color="grey", linewidth=0.6,
                   linestyle="--")
        ax.set_title(f"{result.symbol} · {result.preset} · equity in {result.quote}")
        ax.set_ylabel(result.quote)
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
