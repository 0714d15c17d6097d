"""For every demo fault (product.md §5): `atp demo --fault NAME` runs, and `atp check`
names it with the right check id and status, in text, JSON and Nagios form, with the
right exit code, while no other check is critical. A healthy demo passes after warm-up.

The two order faults trade LIVE on the demo's own emulator: `order-reject` (every order
refused with 306) warns in `order_execution` naming the code, `naked-position` (SL/TP
refused with 140001) is critical there naming the symbol. The healthy demo trades in dry
run and passes all eleven checks once an order has filled.

All nine demos start at once (the demo fleet, shared with tests/e2e/test_contract.py)
so the suite waits for the slowest one (`monitor-stall` needs its 60 s of silence)
instead of their sum.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atp.integrity.context import CheckContext
from atp.integrity.report import Report, Status
from atp.integrity.runner import evaluate
from atp.integrity.sources.http import ApiSource
from atp.integrity.sources.logs import FileLog
from tests import host_limits
from tests.processes import HEALTHY, DemoFleet

pytestmark = pytest.mark.slow
ATP = str(Path(sys.executable).parent / "atp")
DEADLINE_S = 180.0

# fault → (check id, status that names it)
FAULTS: dict[str, tuple[str, Status]] = {
    "alert-drop": ("alert_emissions", Status.CRITICAL),
    "telegram-conflict": ("telegram", Status.WARNING),
    "telegram-outage": ("telegram", Status.CRITICAL),
    "exchange-auth": ("exchange_auth", Status.CRITICAL),
    "proxy-auth": ("exchange_auth", Status.CRITICAL),
    "monitor-stall": ("signal_monitor_cycles", Status.CRITICAL),
    "order-reject": ("order_execution", Status.WARNING),
    "naked-position": ("order_execution", Status.CRITICAL),
}
TRADING = ("ETH_USDT", "ADA_USDT", "DOT_USDT")  # atp/demo.py's TRADING
EXIT = {Status.WARNING: 1, Status.CRITICAL: 2}


@dataclass
class Demo:
    name: str
    url: str
    log: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def demos(demo_fleet: DemoFleet) -> dict[str, Demo]:
    """Every demo at once, on port 0 (the fleet: tests/e2e/conftest.py)."""
    return {name: Demo(name, d.url, d.log, d.proc)
            for name, d in demo_fleet.demos([HEALTHY, *FAULTS]).items()}


async def _report(demo: Demo) -> Report:
    api = ApiSource(demo.url)
    try:
        logs = FileLog(demo.log) if demo.log.exists() else None
        ctx = CheckContext(api=api, now=datetime.now(UTC), window=timedelta(minutes=15),
                           logs=logs, target=demo.url)
        return await evaluate(ctx)
    finally:
        await api.aclose()


async def _until(demo: Demo, done: object) -> Report:
    """Poll the demo until `done(report)` holds (condition with a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    report = None
    while time.monotonic() < deadline:
        assert demo.proc.poll() is None, f"atp demo {demo.name} exited"
        report = await _report(demo)
        if done(report):  # type: ignore[operator]
            return report
        await asyncio.sleep(2)
    assert report is not None
    pytest.fail(f"{demo.name}: condition not reached; last report: "
                + json.dumps(report.as_dict(), indent=1)[:4000])


def _cli(demo: Demo, fmt: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATP, "check", "--url", demo.url, "--log-file", str(demo.log),
                           "--format", fmt], capture_output=True, text=True, timeout=60,
                          check=False, env=host_limits.env())


async def test_healthy_demo_passes_after_warmup(demos: dict[str, Demo]) -> None:
    demo = demos[HEALTHY]
    report = await _until(demo, lambda r: r.status is Status.OK
                          and r.check("alert_emissions").data.get("outcomes", {}).get("SENT")
                          and r.check("order_execution").data.get("outcomes", {}).get("FILLED"))
    orders = report.check("order_execution")
    assert orders.data["mode"] == "paper" and orders.data["trade_alerts"] >= 1
    assert set(orders.data["trade_enabled_symbols"]) == set(TRADING)
    # a newcomer sees positions with their SL/TP pairs (the demo's wide stop keeps them)
    assert orders.data["positions"] >= 1 and orders.data["protected"] == orders.data["positions"]
    done = _cli(demo, "text")
    assert done.returncode == 0, done.stdout
    assert "Summary: ✅ Passed: 10  ⚠️ Warnings: 0  ❌ Failed: 0" in done.stdout
    assert done.stdout.count("\n[") == 11  # eleven numbered sections (host_resources too)
    assert "(order_execution)" in done.stdout


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_is_named_by_its_check(demos: dict[str, Demo], fault: str) -> None:
    demo = demos[fault]
    check_id, status = FAULTS[fault]
    report = await _until(demo, lambda r: r.check(check_id).status is status)
    critical = [c.id for c in report.checks if c.status is Status.CRITICAL]
    assert critical in ([], [check_id]), report.as_dict()

    body = _cli(demo, "json")
    data = json.loads(body.stdout)
    named = next(c for c in data["checks"] if c["id"] == check_id)
    assert named["status"] == str(status) and named["remediation"]
    assert [c["id"] for c in data["checks"] if c["status"] == "critical"] in ([], [check_id])
    assert body.returncode == EXIT[status]

    text = _cli(demo, "text")
    assert text.returncode == EXIT[status]
    section = text.stdout.split(f"({check_id})")[1].split("\n[")[0]
    assert "→ fix:" in section

    nagios = _cli(demo, "nagios")
    assert nagios.returncode == EXIT[status]
    assert nagios.stdout.startswith(f"ATP {str(status).upper()} - ")
    assert f"{check_id} {status}" in nagios.stdout
    if fault == "alert-drop":
        missing = named["data"]["missing"][0]
        assert missing["decision_id"] in body.stdout and missing["symbol"]
    if fault == "order-reject":
        assert named["data"]["mode"] == "live"
        assert "306" in named["data"]["rejections_by_code"] and "306" in named["summary"]
        assert "306" in text.stdout.split("(order_execution)")[1]
    if fault == "naked-position":
        assert named["data"]["mode"] == "live"
        [naked, *_] = named["data"]["unprotected"]
        assert naked["symbol"] in TRADING and naked["symbol"] in named["summary"]
        assert "140001" in named["remediation"]
        assert naked["symbol"] in nagios.stdout
