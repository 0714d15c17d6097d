"""`atp analyze` as a user runs it: the real console script, real files."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atp.cli.main import app
from tests.reference import (
    atr_series,
    ema_series,
    reference_decision,
    rsi_series,
    sma_series,
    volume_ratio_at,
)

ATP = str(Path(sys.executable).with_name("atp"))
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "candles"
KEYS_FLAGS = {"buy_rsi_ok", "buy_ma_ok", "buy_volume_ok", "buy_target_ok", "buy_price_ok",
              "sell_rsi_ok", "sell_trend_ok", "sell_volume_ok"}
KEYS_IND = {"price", "rsi", "ma50", "ma200", "ema10", "atr", "volume_ratio"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATP, "analyze", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@functools.cache
def run_shared(*args: str) -> subprocess.CompletedProcess[str]:
    """`run` once per argument list: tests that read the same output share the process."""
    return run(*args)


def run_inproc(*args: str) -> tuple[int, str, str]:
    """The same Typer app in-process: fast for the many error cases."""
    result = CliRunner().invoke(app, ["analyze", *args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.csv"
    path.write_text(text)
    return path


def shared_files() -> list[Path]:
    return sorted(SHARED.glob("*.csv")) if SHARED.is_dir() else []


def close_enough(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared candles absent: {SHARED}")
@pytest.mark.parametrize("path", shared_files(), ids=lambda p: p.name)
def test_all_json_agrees_with_independent_recomputation(path):
    preset = "scalp-aggressive" if "XRP" in path.name else "swing-conservative"
    out = run_shared("--candles", str(path), "--preset", preset, "--all", "--json")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = [r.split(",") for r in path.read_text().splitlines()[1:]]
    assert len(lines) == len(rows)
    _o, h, lo, c, v = ([float(r[i]) for r in rows] for i in range(1, 6))
    rsi, ma50, ma200 = rsi_series(c), sma_series(c, 50), sma_series(c, 200)
    ema10, atr = ema_series(c, 10), atr_series(h, lo, c)
    seen = set()
    for i, line in enumerate(lines):
        obj = json.loads(line)
        assert obj["timestamp"] == rows[i][0]
        assert set(obj["flags"]) == KEYS_FLAGS and set(obj["indicators"]) == KEYS_IND
        ind = obj["indicators"]
        want = {"price": c[i], "rsi": rsi[i], "ma50": ma50[i], "ma200": ma200[i],
                "ema10": ema10[i], "atr": atr[i], "volume_ratio": volume_ratio_at(v, i)}
        for key, value in want.items():
            assert close_enough(ind[key], value), (i, key, ind[key], value)
        # Decide from the engine's reported values, so float noise at a boundary cannot
        # make the two implementations disagree on anything but the rules themselves.
        decision, flags = reference_decision(
            preset, ind["price"], ind["rsi"], ind["ma50"], ind["ma200"], ind["ema10"],
            ind["volume_ratio"],
        )
        assert obj["flags"] == flags, (i, obj["flags"], flags)
        assert obj["decision"] == decision
        assert obj["buy_index"] == round(100 * sum(f is True for f in
                                                   list(flags.values())[:5]) / 5)
        seen.add(decision)
    assert "WAIT" in seen


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared candles absent: {SHARED}")
def test_eth_has_buy_sell_and_wait():
    out = run_shared("--candles", str(SHARED / "ETH_BTC-5m.csv"), "--preset",
                     "swing-conservative", "--all", "--json")
    decisions = {json.loads(line)["decision"] for line in out.stdout.splitlines()}
    assert decisions == {"BUY", "SELL", "WAIT"}


def test_text_output_for_last_candle(tmp_path):
    rows = ["timestamp,open,high,low,close,volume"]
    rows += [f"{1700000000 + i * 3600},1,1.1,0.9,{1 + i / 100},{10 + i}" for i in range(30)]
    code, stdout, stderr = run_inproc("--candles", str(write(tmp_path, "\n".join(rows))))
    assert code == 0, stderr
    assert "decision" in stdout and "buy_rsi_ok" in stdout
    assert "ma50 unknown" in stdout and "ma200 unknown" in stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,open,high,low,close\n1,1,1,1,1\n", "line 1: missing column(s) volume"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,abc,1\n",
         "line 2, column close: 'abc'"),
        ("timestamp,open,high,low,close,volume\n100,1,1,1,1,1\n50,1,1,1,1,1\n",
         "line 3, column timestamp: '50' is out of order"),
        ("timestamp,open,high,low,close,volume\n100,1,1,1,1,1\n100,1,1,1,1,1\n",
         "line 3, column timestamp: '100' is duplicate"),
        ("timestamp,open,high,low,close,volume\nyesterday,1,1,1,1,1\n",
         "line 2, column timestamp"),
        ("timestamp,open,high,low,close,volume\n1,1,1,1,1,-5\n", "line 2, column volume"),
        ("", "line 1: empty file"),
    ],
)
def test_malformed_csv_names_line_and_column(tmp_path, content, message):
    code, _, stderr = run_inproc("--candles", str(write(tmp_path, content)))
    assert code == 2
    assert message in stderr, stderr


def test_unknown_preset_is_a_clear_error(tmp_path):
    code, _, stderr = run_inproc("--candles", str(write(tmp_path, "x")), "--preset", "yolo")
    assert code == 2 and "unknown preset 'yolo'" in stderr


def test_missing_file(tmp_path):
    out = run("--candles", str(tmp_path / "nope.csv"), cwd=tmp_path)
    assert out.returncode == 2 and "cannot open" in out.stderr
    assert "Traceback" not in out.stderr


def _csv(rows: list[tuple[int, float]]) -> str:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{t},{c},{c * 1.01},{c * 0.99},{c},10" for t, c in rows]
    return "\n".join(lines) + "\n"


def test_daily_file_feeds_ma10w_with_only_the_daily_candles_closed_by_then(tmp_path):
    day, hour = 86_400_000, 3_600_000
    d0 = 1_700_006_400_000 - 1_700_006_400_000 % day
    daily = tmp_path / "daily.csv"
    daily.write_text(_csv([(d0 + i * day, 100.0 + i) for i in range(100)]))  # 29 in the future
    h0 = d0 + 69 * day
    hourly = tmp_path / "hourly.csv"
    hourly.write_text(_csv([(h0 + k * hour, 50.0 + (k % 5)) for k in range(48)]))
    code, out, err = run_inproc("--candles", str(hourly), "--daily", str(daily),
                                "--preset", "swing-conservative", "--all", "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert all(set(obj["indicators"]) == KEYS_IND | {"ma10w"} for obj in lines)
    # candle 22 ends before day 69 closes: 69 daily closes, MA10w needs 70
    assert lines[22]["indicators"]["ma10w"] is None
    assert any("too little daily history: 69 closed daily candles" in r
               for r in lines[22]["reasons"])
    assert lines[23]["indicators"]["ma10w"] == pytest.approx(100 + 34.5)  # days 0..69
    assert lines[47]["indicators"]["ma10w"] == pytest.approx(100 + 35.5)  # days 1..70
    # price (≈ 50) is below MA10w: the SELL trend's second branch decides
    assert lines[47]["flags"]["sell_trend_ok"] is True

    code, out, _ = run_inproc("--candles", str(hourly), "--json")
    assert "ma10w" not in json.loads(out)["indicators"]


def test_bad_daily_file_is_a_clear_error(tmp_path):
    hourly = write(tmp_path, _csv([(1_700_000_000_000 + k * 3_600_000, 10.0) for k in range(3)]))
    bad = tmp_path / "daily.csv"
    bad.write_text("timestamp,open,high,low,close\n1,1,1,1,1\n")
    code, out, err = run_inproc("--candles", str(hourly), "--daily", str(bad))
    assert code == 2
    assert "Invalid daily candle file (--daily)" in out + err and "volume" in out + err
