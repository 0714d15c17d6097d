"""The report model, renderers and exit codes (product.md §4 contract)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from atp.integrity.render import render_json, render_nagios, render_text
from atp.integrity.report import CheckResult, Report, Status, parse_duration, worst


def r(check_id: str, status: Status) -> CheckResult:
    return CheckResult(check_id, status, f"{check_id} is {status}", ["a detail"],
                       None if status in (Status.OK, Status.SKIPPED) else "do this")


@pytest.mark.parametrize(("statuses", "code"), [
    ([Status.OK, Status.SKIPPED], 0),
    ([Status.OK, Status.WARNING], 1),
    ([Status.WARNING, Status.CRITICAL, Status.UNKNOWN], 2),
    ([Status.WARNING, Status.UNKNOWN], 3),
    ([Status.SKIPPED], 0),
])
def test_worst_wins_and_skipped_is_neutral(statuses: list[Status], code: int) -> None:
    report = Report([r(f"c{i}", s) for i, s in enumerate(statuses)])
    assert report.exit_code == code
    assert worst(statuses).exit_code == code


def test_not_ok_needs_a_remediation() -> None:
    with pytest.raises(ValueError, match="remediation"):
        CheckResult("x", Status.WARNING, "bad")


def test_renderers_follow_the_contract() -> None:
    report = Report([r("backend_health", Status.OK), r("telegram", Status.WARNING),
                     r("containers", Status.SKIPPED)], target="t")
    text = render_text(report)
    assert "[1] Backend health summary (backend_health)" in text
    assert "Summary: ✅ Passed: 1  ⚠️ Warnings: 1  ❌ Failed: 0" in text
    assert "→ fix: do this" in text
    body = json.loads(render_json(report))
    assert body["status"] == "warning"
    assert set(body["counts"]) == {"passed", "warnings", "failed", "unknown", "skipped"}
    assert set(body["checks"][0]) >= {"id", "status", "summary", "details", "remediation"}
    nagios = render_nagios(report)
    assert nagios.startswith("ATP WARNING - telegram warning: telegram is warning | ")
    assert "\n" not in nagios and nagios.count("|") == 1
    assert "'telegram'=1;1;2;0;3" in nagios


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("90s", 90), ("2h", 7200),
                                                ("1d", 86400), ("45", 45)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_parse_duration_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="15m"):
        parse_duration("soon")
