"""Renderers: text (the runbook's numbered sections), JSON (product.md §4), Nagios."""

from __future__ import annotations

import json

from atp.integrity.checks import TITLES
from atp.integrity.report import Report, Status

ICON = {Status.OK: "✅", Status.WARNING: "⚠️ ", Status.CRITICAL: "❌", Status.UNKNOWN: "❔",
        Status.SKIPPED: "➖"}
VERDICT = {
    Status.OK: "✅ INTEGRITY CHECK PASSED",
    Status.WARNING: "⚠️  INTEGRITY CHECK PASSED WITH WARNINGS - review the warnings above",
    Status.CRITICAL: "❌ INTEGRITY CHECK FAILED - Investigate failed checks above",
    Status.UNKNOWN: "❔ INTEGRITY CHECK INCOMPLETE - some checks could not be evaluated",
}


def render_text(report: Report) -> str:
    title = " ATP RUNTIME INTEGRITY CHECK "
    out = ["=" * len(title), title, "=" * len(title)]
    window = f"{report.window_seconds / 60:g} min"
    at = report.generated_at.strftime("%Y-%m-%d %H:%M:%SZ") if report.generated_at else ""
    out.append(f"Target: {report.target}  window: {window}  at: {at}")
    for n, check in enumerate(report.checks, 1):
        head = f"[{n}] {TITLES.get(check.id, check.id)} ({check.id})"
        out += ["", head, "-" * len(head)]
        out.append(f"{ICON[check.status]} {check.summary}")
        out += [f"   {line}" for line in check.details]
        if check.remediation and check.status not in (Status.OK, Status.SKIPPED):
            out.append(f"   → fix: {check.remediation}")
    c = report.counts
    extra = "".join(f"  {ICON[s]} {label}: {c[key]}" for s, label, key in (
        (Status.UNKNOWN, "Unknown", "unknown"), (Status.SKIPPED, "Skipped", "skipped"))
        if c[key])
    out += ["", "========== CHECK COMPLETE ==========", "",
            f"Summary: ✅ Passed: {c['passed']}  ⚠️ Warnings: {c['warnings']}  "
            f"❌ Failed: {c['failed']}" + extra, "", VERDICT[report.status]]
    return "\n".join(out)


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)


def _perf_label(text: str) -> str:
    return text.replace("'", "").replace("=", "_").replace(" ", "_")


def render_nagios(report: Report) -> str:
    """`ATP CRITICAL - alert_emissions: … | 'backend_health'=0;1;2;0;3 …` (one line)."""
    state = {Status.OK: "OK", Status.WARNING: "WARNING", Status.CRITICAL: "CRITICAL",
             Status.UNKNOWN: "UNKNOWN"}[report.status]
    bad = [c for c in report.checks if c.status not in (Status.OK, Status.SKIPPED)]
    bad.sort(key=lambda c: -c.status.severity)
    if bad:
        text = "; ".join(f"{c.id} {c.status}: {c.summary}" for c in bad)
    else:
        c = report.counts
        text = f"{c['passed']} checks passed" + (f", {c['skipped']} skipped" if c["skipped"]
                                                 else "")
    text = text.replace("|", "/").replace("\n", " ")
    perf = []
    c = report.counts
    for key in ("passed", "warnings", "failed", "unknown", "skipped"):
        perf.append(f"{key}={c[key]};;;0;{len(report.checks)}")
    for check in report.checks:
        if check.status is not Status.SKIPPED:
            perf.append(f"'{_perf_label(check.id)}'={check.status.exit_code};1;2;0;3")
    figures = {c.id: c.data for c in report.checks}
    last = (figures.get("backend_health") or {}).get("last_update_seconds_ago")
    if isinstance(last, int | float):
        perf.append(f"last_update={last:.0f}s;60;120;0")
    for side, n in ((figures.get("strategy_decisions") or {}).get("counts") or {}).items():
        perf.append(f"decisions_{side.lower()}={n};;;0")
    missing = (figures.get("alert_emissions") or {}).get("missing")
    if isinstance(missing, list):
        perf.append(f"alerts_missing={len(missing)};;1;0")
    orders = figures.get("order_execution") or {}
    for key, label in (("missing", "orders_missing"), ("unprotected", "positions_unprotected")):
        if isinstance(orders.get(key), list):
            perf.append(f"{label}={len(orders[key])};;1;0")
    rejected = orders.get("rejections_by_code")
    if isinstance(rejected, dict):
        perf.append(f"orders_rejected={sum(rejected.values())};1;;0")
    probe = figures.get("end_to_end") or {}
    if isinstance(probe.get("latency_ms"), int | float):
        perf.append(f"probe_latency={probe['latency_ms'] / 1000:.3f}s;10;;0")
    host = figures.get("host_resources") or {}
    for disk in host.get("disks") or []:
        if isinstance(disk, dict) and isinstance(disk.get("free_pct"), int | float):
            perf.append(f"'disk_free_{_perf_label(str(disk['mount']))}'="
                        f"{disk['free_pct']:.1f}%;;;0;100")
    memory = host.get("memory")
    if isinstance(memory, dict) and isinstance(memory.get("available_pct"), int | float):
        perf.append(f"mem_available={memory['available_pct']:.1f}%;;;0;100")
    if report.duration_ms is not None:
        perf.append(f"duration={report.duration_ms / 1000:.3f}s;;;0")
    return f"ATP {state} - {text} | {' '.join(perf)}"


RENDERERS = {"text": render_text, "json": render_json, "nagios": render_nagios}
