"""`atp backtest` as a user runs it, and its trades re-derived independently."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atp.analysis import analyze_file, read_candles_csv
from atp.cli.main import app
from atp.domain.presets import DEFAULT_PRESETS

ATP = str(Path(sys.executable).with_name("atp"))
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "candles"
ETH_BTC = SHARED / "ETH_BTC-5m.csv"
needs_shared = pytest.mark.skipif(not ETH_BTC.is_file(),
                                  reason=f"shared candles absent: {ETH_BTC}")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATP, "backtest", *args], capture_output=True, text=True,
                          timeout=120)


def run_inproc(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["backtest", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def eth_json() -> dict[str, Any]:
    if not ETH_BTC.is_file():
        pytest.skip(f"shared candles absent: {ETH_BTC}")
    done = run("--candles", str(ETH_BTC), "--preset", "swing-conservative", "--json")
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@needs_shared
def test_json_prints_trades_and_summary(eth_json: dict[str, Any]) -> None:
    s = eth_json["summary"]
    assert eth_json["symbol"] == "ETH_BTC" and eth_json["quote"] == "BTC"
    assert s["candles"] == 5760 and s["trades"] > 0
    assert len(eth_json["trades"]) == s["trades"] + s["open_trades"]
    closed = [t for t in eth_json["trades"] if t["closed_by"] != "open"]
    assert s["wins"] == sum(1 for t in closed if t["pnl"] > 0)
    assert s["realised_pnl"] == pytest.approx(sum(t["pnl"] for t in closed), abs=1e-8)
    assert s["fees"] == pytest.approx(sum(t["entry_fee"] + t["exit_fee"]
                                          for t in eth_json["trades"]), rel=1e-9)
    # equity also holds the base dust the quantity tick leaves (≤ 1 tick per trade)
    dust = s["final_equity"] - (s["starting_balance"] + s["realised_pnl"] + s["unrealised_pnl"])
    assert 0 <= dust <= len(eth_json["trades"]) * 0.01 * 0.11
    assert 0 < s["exposure_pct"] <= 100 and 0 <= s["max_drawdown_pct"] < 100
    assert {t["closed_by"] for t in closed} <= {"stop_loss", "take_profit", "sell"}


# ── the independent re-derivation ─────────────────────────────────────────────────────
# business-rules §5.2 (throttle), §6 (gates, SL/TP) and the paper broker's fills, written
# out here from the spec; only the decisions come from `atp analyze --all`'s engine.

def floor_to(value: float, tick: float) -> float:
    return round(math.floor(value / tick + 1e-9) * tick, 12)


def ceil_to(value: float, tick: float) -> float:
    return round(math.ceil(value / tick - 1e-9) * tick, 12)


def rederive(path: Path, preset_name: str, amount: float, fee_rate: float,
             price_tick: float, qty_tick: float) -> list[dict[str, Any]]:
    preset = DEFAULT_PRESETS[preset_name]
    data = read_candles_csv(path)
    c = data.candles
    step = int(c.timestamp[1] - c.timestamp[0])
    decisions = [d for _, d in analyze_file(data, preset, every=True)]
    open_pos: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    last_alert: tuple[str, float, float] | None = None  # side, minute, price
    last_buy_min: float | None = None
    for i, d in enumerate(decisions):
        o, h, lo, px = (float(c.open[i]), float(c.high[i]), float(c.low[i]),
                        float(c.close[i]))
        minute = (int(c.timestamp[i]) + step) / 60_000
        for p in list(open_pos):  # SL/TP on this candle: gap → open, else trigger, SL first
            sl, tp = p["stop_loss"], p["take_profit"]
            exit_px = (o if o <= sl or o >= tp else sl if lo <= sl else tp if h >= tp
                       else None)
            if exit_px is None:
                continue
            by = "stop_loss" if exit_px <= sl else "take_profit"
            fee = p["quantity"] * exit_px * fee_rate
            p.update(closed_by=by, exit_price=exit_px, exit_fee=fee,
                     pnl=p["quantity"] * exit_px - fee - p["cost"])
            open_pos.remove(p)
        if d.decision == "WAIT":
            continue
        if last_alert is not None and last_alert[0] == d.decision:
            moved = abs(px - last_alert[2]) / last_alert[2] * 100
            if minute - last_alert[1] < preset.cooldown_minutes or moved < 1.0 - 1e-9:
                continue  # throttled
        last_alert = (d.decision, minute, px)
        if d.decision == "BUY":
            if len(open_pos) >= 3:
                continue
            if last_buy_min is not None and minute - last_buy_min < 5:
                continue
            if open_pos:
                ref = open_pos[-1]["entry_price"]
                if abs(px - ref) / ref * 100 + 1e-9 < preset.min_price_change_pct:
                    continue
            if sum(p["quantity"] * px for p in open_pos) + amount > 3 * amount + 1e-9:
                continue
            qty = floor_to(amount / px, qty_tick)
            fee_base = qty * fee_rate
            held = floor_to(qty - fee_base, qty_tick)
            atr = d.indicators.atr
            sl = px * (1 - preset.sl_pct / 100)
            tp = px * (1 + preset.tp_pct / 100)
            if atr:
                sl = min(sl, px - preset.sl_atr_mult * atr)
                tp = max(tp, px + preset.tp_atr_mult * atr)
            p = {"entry_price": px, "quantity": held, "cost": qty * px,
                 "entry_fee": fee_base * px, "stop_loss": floor_to(sl, price_tick),
                 "take_profit": ceil_to(tp, price_tick), "closed_by": "open",
                 "exit_price": None, "exit_fee": 0.0, "pnl": None}
            open_pos.append(p)
            trades.append(p)
            last_buy_min = minute
        elif open_pos:  # SELL: everything held, at the close
            total = sum(p["quantity"] for p in open_pos)
            qty = floor_to(total, qty_tick)
            fee = qty * px * fee_rate
            for p in open_pos:
                share = p["quantity"] / total
                p.update(closed_by="sell", exit_price=px, exit_fee=fee * share,
                         pnl=(qty * px - fee) * share - p["cost"])
            open_pos.clear()
    return trades


@needs_shared
def test_trades_match_an_independent_rederivation(eth_json: dict[str, Any]) -> None:
    from atp.backtest import backtest_rules

    rules = backtest_rules("ETH_BTC", read_candles_csv(ETH_BTC).candles, 100.0)
    want = rederive(ETH_BTC, "swing-conservative", 100.0, 0.005, rules.price_tick,
                    rules.quantity_tick)
    got = eth_json["trades"]
    assert len(got) == len(want) > 5
    for g, w in zip(got, want, strict=True):
        for key in ("entry_price", "quantity", "cost", "entry_fee", "stop_loss",
                    "take_profit", "exit_price", "exit_fee"):
            if w[key] is None:
                assert g[key] is None, (key, g, w)
            else:
                assert g[key] == pytest.approx(w[key], rel=1e-9, abs=1e-12), (key, g, w)
        assert g["closed_by"] == w["closed_by"], (g, w)
        if w["pnl"] is not None:
            assert g["pnl"] == pytest.approx(w["pnl"], rel=1e-7, abs=1e-8), (g, w)
    assert {w["closed_by"] for w in want} >= {"stop_loss", "take_profit", "sell"}


@needs_shared
def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "equity.png"
    code, stdout, stderr = run_inproc("--candles", str(ETH_BTC), "--plot", str(out))
    assert code == 0, stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "max drawdown" in stdout and "win rate" in stdout and str(out) in stdout


@needs_shared
def test_daily_candles_feed_ma10w(tmp_path: Path, eth_json: dict[str, Any]) -> None:
    """With daily candles closed before the file starts, MA10w is known: the SELL trend
    gains its second side, so at least as many SELL decisions as without."""
    first = read_candles_csv(ETH_BTC).candles
    start = int(first.timestamp[0]) - 100 * 86_400_000
    rows = ["timestamp,open,high,low,close,volume"]
    for day in range(100):
        price = 0.12 - 0.0002 * day  # above the file's prices: price < MA10w
        rows.append(f"{(start + day * 86_400_000) // 1000},{price},{price},{price},{price},1")
    daily = write(tmp_path, "daily.csv", "\n".join(rows) + "\n")
    done = run("--candles", str(ETH_BTC), "--daily", str(daily), "--json")
    assert done.returncode == 0, done.stderr
    with_daily = json.loads(done.stdout)["summary"]["decisions"]
    assert with_daily["SELL"] > eth_json["summary"]["decisions"]["SELL"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,1,1,1,1\n"


@pytest.mark.parametrize(("files", "args", "expected"), [
    ({}, ["--candles", "{tmp}/ETH_BTC-5m.csv"], "cannot open"),
    ({"ETH_BTC-5m.csv": "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,x,1,1,1\n"},
     ["--candles", "{tmp}/ETH_BTC-5m.csv"], "line 2, column high: 'x'"),
    ({"ETH_BTC-5m.csv": "time,price\n"}, ["--candles", "{tmp}/ETH_BTC-5m.csv"],
     "missing column(s)"),
    ({"ETH_BTC-5m.csv": GOOD}, ["--candles", "{tmp}/ETH_BTC-5m.csv", "--preset", "yolo"],
     "unknown preset 'yolo'"),
    ({"ETH_BTC-5m.csv": GOOD}, ["--candles", "{tmp}/ETH_BTC-5m.csv", "--plot", "{tmp}/e.jpg"],
     "does not end in .png"),
    ({"ETH_BTC-5m.csv": GOOD, "d.csv": "nope\n"},
     ["--candles", "{tmp}/ETH_BTC-5m.csv", "--daily", "{tmp}/d.csv"], "--daily"),
    ({"candles.csv": GOOD}, ["--candles", "{tmp}/candles.csv"], "pass --symbol"),
    ({"ETH_BTC-5m.csv": GOOD}, ["--candles", "{tmp}/ETH_BTC-5m.csv", "--trade-amount", "-5"],
     "--trade-amount"),
], ids=["missing", "malformed", "header", "preset", "plot", "daily", "symbol", "amount"])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, files: dict[str, str],
                                          args: list[str], expected: str) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    code, stdout, stderr = run_inproc(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert stdout == ""
    assert stderr.count("\n") == 1 and expected in stderr, stderr


def test_one_candle_file_reports_nothing_traded(tmp_path: Path) -> None:
    path = write(tmp_path, "ETH_USDT-5m.csv", GOOD)
    code, stdout, stderr = run_inproc("--candles", str(path), "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out["trades"] == [] and out["summary"]["win_rate_pct"] is None
    assert out["summary"]["final_equity"] == out["summary"]["starting_balance"]
