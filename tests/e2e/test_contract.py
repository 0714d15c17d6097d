"""The names product.md fixes are produced: every API path and field of §3, every check
id and output field of §4, every log marker and its fields of §5, by a real `atp demo`.

Demos on port 0 from the demo fleet (tests/e2e/conftest.py, shared with the fault tests,
so no extra warm-up): the healthy one, once a BUY or SELL alert has been delivered and one
throttled, for §3, §4 and most of §5; `--fault exchange-auth` and `--fault
telegram-conflict` for the two diagnostic markers. The names are data below, each list
quoting the line of product.md it comes from; the test code only checks them, so a
renamed field fails here first.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import host_limits
from tests.processes import ATP, HEALTHY, DemoFleet, DemoProcess

pytestmark = pytest.mark.slow
DEADLINE_S = 150.0

# ── §3 HTTP API ─────────────────────────────────────────────────────────────────────────
# "GET /api/health → 200 with {"status": "ok" | "degraded" | "down", ...}"
HEALTH = "/api/health"
HEALTH_STATUSES = ("ok", "degraded", "down")
# "GET /api/monitoring/summary → includes scheduler_ticks, signal_monitor_ticks,
#  last_update_seconds_ago, the last cycle's duration and symbol count, decision_counts
#  ({"BUY", "SELL", "WAIT"}) and alert_outcome_counts ({"sent", "throttled", "blocked",
#  "failed", "pending"})"
SUMMARY = "/api/monitoring/summary"
SUMMARY_FIELDS = ("scheduler_ticks", "signal_monitor_ticks", "last_update_seconds_ago",
                  "last_cycle_duration_ms", "last_cycle_symbols", "decision_counts",
                  "alert_outcome_counts")
DECISION_COUNTS = ("BUY", "SELL", "WAIT")
OUTCOME_COUNTS = ("sent", "throttled", "blocked", "failed", "pending")
# "GET /api/market/top-coins-data → per watchlist symbol: price, price age, indicators,
#  decision, flags, buy index"  (spec wording → field)
TOP_COINS = "/api/market/top-coins-data"
TOP_COIN_FIELDS = {"symbol": "symbol", "price": "price", "price age": "price_age_seconds",
                   "indicators": "indicators", "decision": "decision", "flags": "flags",
                   "buy index": "buy_index"}
# "Watchlist CRUD, signals/decisions, alert outcomes, events, throttle state, orders,
#  settings, integrity report (GET /api/monitoring/integrity), Prometheus metrics at /metrics"
READ_PATHS = ("/api/watchlist", "/api/decisions", "/api/alerts/outcomes", "/api/events",
              "/api/throttle", "/api/orders", "/api/settings", "/api/monitoring/integrity",
              "/metrics")
# "Every request that changes state needs the API token (Authorization: Bearer …)"
STATE_CHANGE = ("POST", "/api/watchlist", {"symbol": "BTC_USDT"})

# ── §4 the integrity check ──────────────────────────────────────────────────────────────
CHECK_IDS = ("backend_health", "signal_monitor_cycles", "strategy_decisions",
             "alert_emissions", "throttled_alerts", "errors", "containers", "exchange_auth",
             "telegram",
             # §6 "Checks beyond the runbook's nine: order_execution (...), end_to_end (only
             #  with --probe ...), host_resources (disk, memory, swap of the target host)"
             "order_execution", "host_resources")
CHECK_STATUSES = ("ok", "warning", "critical", "unknown", "skipped")
# "json: {"status": ..., "checks": [{"id", "status", "summary", "details", "remediation"}],
#  "counts": {"passed", "warnings", "failed", "unknown", "skipped"}}"
JSON_FIELDS = ("status", "checks", "counts")
JSON_CHECK_FIELDS = ("id", "status", "summary", "details", "remediation")
JSON_COUNTS = ("passed", "warnings", "failed", "unknown", "skipped")
# "text (default): numbered sections ..., then Summary: ✅ Passed: N  ⚠️ Warnings: N
#  ❌ Failed: N and a one-line verdict"  (counts the spec does not name may follow)
TEXT_SUMMARY = re.compile(r"^Summary: ✅ Passed: \d+  ⚠️ Warnings: \d+  ❌ Failed: \d+", re.M)
# "nagios: one line ATP <STATE> - ... | perfdata"
NAGIOS_LINE = re.compile(r"^ATP (OK|WARNING|CRITICAL|UNKNOWN) - .+ \| .+$")
# "Exit code: 0 ok, 1 warning, 2 critical, 3 unknown"
EXIT_CODES = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}

# ── §5 log markers ──────────────────────────────────────────────────────────────────────
# marker → the `name=` fields its line carries, as product.md §5 writes them
MARKER_FIELDS: dict[str, tuple[str, ...]] = {
    # "[DEBUG_SIGNAL_MONITOR] cycle=N | symbols=N | duration_ms=N | ... — one per cycle"
    "DEBUG_SIGNAL_MONITOR": ("cycle", "symbols", "duration_ms"),
    # "[DEBUG_STRATEGY_FINAL] symbol=X | decision=BUY | buy_signal=True |
    #  sell_signal=False | decision_id=... | flags..."
    "DEBUG_STRATEGY_FINAL": ("symbol", "decision", "buy_signal", "sell_signal", "decision_id"),
    # "[ALERT_EMIT_FINAL] symbol=X | side=BUY | status=success|failed|blocked |
    #  decision_id=... | message_id=..."
    "ALERT_EMIT_FINAL": ("symbol", "side", "status", "decision_id", "message_id"),
    # "[ALERT_THROTTLED] symbol=X | side=BUY | reason=..."
    "ALERT_THROTTLED": ("symbol", "side", "reason"),
}
# "[DEBUG_SIGNAL_MONITOR] ... plus one per symbol processed"
MONITOR_SYMBOL_FIELDS = ("cycle", "symbol")
EMIT_STATUSES = ("success", "failed", "blocked")
# "(also send_buy_signal / send_sell_signal in the line)"
EMIT_CALLS = {"BUY": "send_buy_signal", "SELL": "send_sell_signal"}
# fault → the line prefix it must produce
FAULT_LINES = {
    "exchange-auth": "[CRYPTO_AUTH_DIAG]",  # "for exchange credential / proxy diagnostics"
    "telegram-conflict": "[TG] getUpdates conflict (409)",  # "for Telegram polling conflicts"
}


# ── §6 endpoints kept for operators' existing tools, and `atp logs` with no flags ────────
# "/health, /ping_fast, /__ping (liveness)"
LIVENESS_ALIASES = ("/health", "/ping_fast", "/__ping")
# "/api/monitoring/telegram-messages ({messages, total}, newest first, ISO timestamp)"
TELEGRAM_MESSAGES = "/api/monitoring/telegram-messages"
# "/api/dashboard/snapshot ({data})"
DASHBOARD_SNAPSHOT = "/api/dashboard/snapshot"
# README: "atp logs --marker ALERT_EMIT_FINAL --since 15m" after `make demo`, no flags
LOGS_ARGV = ("logs", "--marker", "ALERT_EMIT_FINAL", "--since", "15m")


# ── the demos ───────────────────────────────────────────────────────────────────────────


def events(log: Path) -> list[str]:
    """The `event` text of every JSON log line (what the runbook's greps match)."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(str(json.loads(line).get("event", "")))
        except ValueError:
            continue
    return out


def fields(event: str) -> dict[str, str]:
    """`[MARKER] a=1 | b=x y | c=...` → {"a": "1", "b": "x y", "c": "..."}."""
    body = event.split("] ", 1)[1] if "] " in event else ""
    return dict(part.split("=", 1) for part in body.split(" | ") if "=" in part)


def marked(lines: list[str], marker: str) -> list[dict[str, str]]:
    return [fields(e) for e in lines if e.startswith(f"[{marker}] ")]


def delivered_and_throttled(lines: list[str]) -> bool:
    sent = [f for f in marked(lines, "ALERT_EMIT_FINAL")
            if f.get("status") == "success" and f.get("side") in EMIT_CALLS]
    return bool(sent) and bool(marked(lines, "ALERT_THROTTLED"))


@dataclass
class Demos:
    healthy: DemoProcess
    faulty: dict[str, DemoProcess]  # fault → its demo


def _wait(demo: DemoProcess, done: Callable[[list[str]], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:  # a condition on the demo's own log, with a deadline
        assert demo.proc.poll() is None, f"atp demo exited: {demo.workdir / 'stderr.txt'}"
        if done(events(demo.log)):
            return
        time.sleep(1)
    pytest.fail(f"{what} not in {demo.log} within {DEADLINE_S:.0f} s", pytrace=False)


@pytest.fixture(scope="module")
def demos(demo_fleet: DemoFleet) -> Demos:
    fleet = demo_fleet.demos([HEALTHY, *FAULT_LINES])
    both = Demos(fleet[HEALTHY], {fault: fleet[fault] for fault in FAULT_LINES})
    _wait(both.healthy, delivered_and_throttled, "a delivered BUY/SELL alert and a throttled one")
    for fault, line in FAULT_LINES.items():
        _wait(both.faulty[fault], lambda lines, p=line: any(e.startswith(p) for e in lines),
              line)
    return both


def get(demo: DemoProcess, path: str) -> httpx.Response:
    response = httpx.get(f"{demo.url}{path}", timeout=30)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return response


# ── §3 ─────────────────────────────────────────────────────────────────────────────────


def test_health_and_summary_carry_the_named_fields(demos: Demos) -> None:
    health = get(demos.healthy, HEALTH).json()
    assert health["status"] in HEALTH_STATUSES
    summary = get(demos.healthy, SUMMARY).json()
    missing = [f for f in SUMMARY_FIELDS if f not in summary]
    assert not missing, f"{SUMMARY} lacks {missing}"
    assert summary["scheduler_ticks"] > 0 and summary["signal_monitor_ticks"] > 0
    assert isinstance(summary["last_update_seconds_ago"], int | float)
    assert set(DECISION_COUNTS) <= set(summary["decision_counts"]), summary["decision_counts"]
    assert set(OUTCOME_COUNTS) <= set(summary["alert_outcome_counts"]), \
        summary["alert_outcome_counts"]
    assert summary["alert_outcome_counts"]["sent"] >= 1
    assert summary["alert_outcome_counts"]["throttled"] >= 1


def test_top_coins_have_price_age_indicators_decision_flags_buy_index(demos: Demos) -> None:
    coins: list[dict[str, Any]] = get(demos.healthy, TOP_COINS).json()
    assert coins, "no watchlist symbol in top-coins-data"
    for named, field in TOP_COIN_FIELDS.items():
        assert all(field in c for c in coins), f"{TOP_COINS}: no {field!r} ({named})"
    decided = [c for c in coins if c["decision"] in DECISION_COUNTS]
    assert decided, coins[0]
    coin = decided[0]
    assert isinstance(coin["price"], float) and isinstance(coin["price_age_seconds"], float)
    assert coin["indicators"] and coin["flags"] and isinstance(coin["buy_index"], int)


@pytest.mark.parametrize("path", READ_PATHS)
def test_named_read_path_answers(demos: Demos, path: str) -> None:
    response = get(demos.healthy, path)
    if path == "/metrics":
        assert response.headers["content-type"].startswith("text/plain")
        assert "# TYPE" in response.text
    else:
        assert response.json() is not None


def test_a_state_change_without_the_token_is_refused(demos: Demos) -> None:
    method, path, body = STATE_CHANGE
    response = httpx.request(method, f"{demos.healthy.url}{path}", json=body, timeout=10)
    assert response.status_code in (401, 403), response.text


# ── §4 ─────────────────────────────────────────────────────────────────────────────────


def check(demo: DemoProcess, fmt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATP, "check", "--url", demo.url, "--log-file", str(demo.log),
                           "--format", fmt], capture_output=True, text=True, timeout=60,
                          check=False, env=host_limits.env())


def test_check_json_has_every_id_and_field(demos: Demos) -> None:
    done = check(demos.healthy, "json")
    report = json.loads(done.stdout)
    assert [f for f in JSON_FIELDS if f not in report] == []
    assert [c["id"] for c in report["checks"]] == list(CHECK_IDS)
    for c in report["checks"]:
        assert [f for f in JSON_CHECK_FIELDS if f not in c] == [], c
        assert c["status"] in CHECK_STATUSES, c
        assert c["status"] in ("ok", "skipped") or c["remediation"], c
    assert [f for f in JSON_COUNTS if f not in report["counts"]] == []
    assert done.returncode == EXIT_CODES[report["status"]]


def test_check_text_and_nagios_have_their_named_lines(demos: Demos) -> None:
    text = check(demos.healthy, "text")
    summary = TEXT_SUMMARY.search(text.stdout)
    assert summary, text.stdout[-800:]
    verdict = [line for line in text.stdout[summary.start():].splitlines()[1:] if line.strip()]
    assert len(verdict) == 1 and "INTEGRITY CHECK" in verdict[0], verdict
    for check_id in CHECK_IDS:
        assert f"({check_id})" in text.stdout
    nagios = check(demos.healthy, "nagios")
    assert len(nagios.stdout.strip().splitlines()) == 1
    assert NAGIOS_LINE.match(nagios.stdout.strip()), nagios.stdout
    assert text.returncode == nagios.returncode


# ── §5 ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("marker", list(MARKER_FIELDS))
def test_marker_lines_carry_their_named_fields(demos: Demos, marker: str) -> None:
    lines = marked(events(demos.healthy.log), marker)
    full = [f for f in lines if all(name in f for name in MARKER_FIELDS[marker])]
    assert full, f"no [{marker}] line with {', '.join(MARKER_FIELDS[marker])}; " \
                 f"first: {lines[:1]}"


def test_monitor_logs_one_line_per_symbol_processed(demos: Demos) -> None:
    lines = marked(events(demos.healthy.log), "DEBUG_SIGNAL_MONITOR")
    per_symbol = [f for f in lines if all(name in f for name in MONITOR_SYMBOL_FIELDS)]
    per_cycle = [f for f in lines if "symbols" in f]
    first = per_cycle[0]
    assert len([f for f in per_symbol if f["cycle"] == first["cycle"]]) == int(first["symbols"])


def test_alert_emit_lines_name_the_call_and_a_known_status(demos: Demos) -> None:
    raw = [e for e in events(demos.healthy.log) if e.startswith("[ALERT_EMIT_FINAL] ")]
    sent = [e for e in raw if fields(e).get("status") == "success"
            and fields(e).get("side") in EMIT_CALLS]
    assert sent
    for e in sent:
        assert EMIT_CALLS[fields(e)["side"]] in e, e
        assert fields(e)["message_id"] not in ("", "None"), e
    assert all(fields(e).get("status") in EMIT_STATUSES for e in raw)


def test_no_alert_emit_line_is_a_watchdog_message(demos: Demos) -> None:
    for demo in (demos.healthy, *demos.faulty.values()):
        for f in marked(events(demo.log), "ALERT_EMIT_FINAL"):
            assert f.get("side") in EMIT_CALLS and f.get("symbol") not in (None, "", "None"), f


@pytest.mark.parametrize("fault", list(FAULT_LINES))
def test_fault_produces_its_marker(demos: Demos, fault: str) -> None:
    assert any(e.startswith(FAULT_LINES[fault]) for e in events(demos.faulty[fault].log))


# ── §6 kept endpoints, and the README's `atp logs` ─────────────────────────────────────


@pytest.mark.parametrize("path", LIVENESS_ALIASES)
def test_liveness_alias_answers_as_the_health_endpoint(demos: Demos, path: str) -> None:
    body = get(demos.healthy, path).json()
    assert body["status"] in HEALTH_STATUSES and body["signal_monitor_ticks"] > 0


def test_telegram_messages_newest_first_with_iso_timestamps(demos: Demos) -> None:
    body = get(demos.healthy, TELEGRAM_MESSAGES + "?limit=5").json()
    messages = body["messages"]
    assert set(body) == {"messages", "total"} and body["total"] >= len(messages) >= 1
    stamps = [datetime.fromisoformat(m["timestamp"]) for m in messages]
    assert all(s.tzinfo is not None for s in stamps), messages[0]
    assert stamps == sorted(stamps, reverse=True)
    outcomes = get(demos.healthy, "/api/alerts/outcomes?limit=100").json()
    recorded = [o["decision_id"] for o in outcomes]  # newer ones may have come since
    assert [m["decision_id"] for m in messages] == \
        [d for d in recorded if d in {m["decision_id"] for m in messages}]
    sent = [m for m in messages if m["status"] == "sent"]
    assert all(m["message_id"] and m["message"] for m in sent)


def test_dashboard_snapshot_holds_the_stored_decisions(demos: Demos) -> None:
    data = get(demos.healthy, DASHBOARD_SNAPSHOT).json()["data"]
    coins = get(demos.healthy, TOP_COINS).json()
    assert {c["symbol"] for c in data["coins"]} == {c["symbol"] for c in coins}
    assert data["health"]["status"] in HEALTH_STATUSES


def test_atp_logs_without_flags_finds_the_running_demo(demos: Demos, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.upper() != "LOG_FILE"}
    env["ATP_STATE_DIR"] = str(demos.healthy.state_dir)
    done = subprocess.run([ATP, *LOGS_ARGV], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=env, check=False)  # no .env in tmp_path
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if "[ALERT_EMIT_FINAL]" in ln]
    assert lines and all(" INFO " in ln for ln in lines), done.stdout[-1000:]
    env["ATP_STATE_DIR"] = str(tmp_path / "nothing-runs-here")
    none = subprocess.run([ATP, *LOGS_ARGV], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=env, check=False)
    assert none.returncode == 2 and "--log-file PATH" in none.stderr, none.stderr
