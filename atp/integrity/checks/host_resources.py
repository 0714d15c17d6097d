"""Disk, memory and swap of the target host (product.md §6): the old platform's
production incidents included a full disk and memory pressure.

Disks: the data volume (the SQLite database's directory, the log's, `--data-path`), the
Docker root when a Docker Engine is reachable, and `/`; each filesystem is judged once.
Read locally (/proc/meminfo, statvfs) when the target is on this machine, over SSH with
`--ssh`; `skipped` when the target is another host reached by URL only (nothing here can
read its disks), `unknown` when the host was reachable but could not be read.
"""

from __future__ import annotations

import asyncio

from atp.integrity.context import CheckContext
from atp.integrity.report import CheckResult, Status
from atp.integrity.sources import SourceUnavailable
from atp.integrity.sources.host import Disk, HostReading, Thresholds

ID = "host_resources"
TITLE = "Host resources (disk, memory, swap)"
GB = 1_000_000_000


def _gb(n: float) -> str:
    return f"{n / GB:.1f} GB"


def available_memory(mem: dict[str, int]) -> int | None:
    """MemAvailable, or its pre-3.14-kernel estimate (free + buffers + page cache)."""
    if "MemAvailable" in mem:
        return mem["MemAvailable"]
    parts = [mem.get(k) for k in ("MemFree", "Buffers", "Cached")]
    return sum(p for p in parts if p is not None) if mem.get("MemFree") is not None else None


def _disk_fix(labels: list[str], mount: str) -> str:
    fixes = []
    if any(label.startswith("Docker root") for label in labels):
        fixes.append("docker system prune -af && docker builder prune -af (unused images, "
                     "build cache)")
    if any(label.startswith("log") for label in labels):
        fixes.append("rotate or delete old logs (log rotation in the compose file / "
                     "logrotate)")
    fixes.append(f"find what grows: sudo du -xh {mount} | sort -h | tail; or grow the volume")
    return f"free space on {mount}: " + "; ".join(fixes)


def judge(reading: HostReading, paths: list[tuple[str, str]], t: Thresholds,
          host: str = "the host", notes: list[str] | None = None) -> CheckResult:
    """The verdict from one reading (pure: unit-tested on crafted readings)."""
    critical: list[str] = []
    warning: list[str] = []
    fixes: list[str] = []
    details: list[str] = list(notes or [])
    data: dict[str, object] = {"host": host, "thresholds": {n: getattr(t, n)
                                                            for n in Thresholds.names()}}
    # one line per filesystem, naming every path on it
    by_mount: dict[str, tuple[Disk, list[str]]] = {}
    for label, path in paths:
        disk = reading.disks.get(path)
        if disk is None:
            why = reading.disk_errors.get(path, "not read")
            details.append(f"{label} ({path}): cannot read: {why}")
            continue
        entry = by_mount.setdefault(disk.mount, (disk, []))
        entry[1].append(f"{label} {path}")
    disks_data = []
    for mount, (disk, labels) in by_mount.items():
        free = f"{_gb(disk.free_bytes)} free of {_gb(disk.total_bytes)} ({disk.free_pct:.0f} %)"
        details.append(f"disk {mount}: {free} — {', '.join(labels)}")
        disks_data.append({"mount": mount, "paths": labels, "free_bytes": disk.free_bytes,
                           "total_bytes": disk.total_bytes,
                           "free_pct": round(disk.free_pct, 1)})
        what = f"disk {mount} ({labels[0].split(' ')[0]}) {free}"
        if disk.free_pct < t.disk_crit_pct or disk.free_bytes < t.disk_crit_gb * GB:
            critical.append(what)
            fixes.append(_disk_fix(labels, mount))
        elif disk.free_pct < t.disk_warn_pct:
            warning.append(what)
            fixes.append(_disk_fix(labels, mount))
    data["disks"] = disks_data
    mem = reading.meminfo
    if mem is None:
        details.append(f"memory: cannot read: {reading.memory_error or 'not read'}")
    else:
        total, avail = mem.get("MemTotal"), available_memory(mem)
        if total and avail is not None:
            pct = 100.0 * avail / total
            line = f"memory: {_gb(avail)} available of {_gb(total)} ({pct:.0f} %)"
            details.append(line)
            data["memory"] = {"available_bytes": avail, "total_bytes": total,
                              "available_pct": round(pct, 1)}
            if pct < t.mem_warn_pct:
                (critical if pct < t.mem_crit_pct else warning).append(line)
                fixes.append("memory pressure: find the biggest processes (ps aux --sort=-rss "
                             "| head), set container memory limits, or add RAM")
        swap_total, swap_free = mem.get("SwapTotal", 0), mem.get("SwapFree", 0)
        if swap_total:
            used_pct = 100.0 * (swap_total - swap_free) / swap_total
            line = f"swap: {used_pct:.0f} % used of {_gb(swap_total)}"
            data["swap"] = {"total_bytes": swap_total, "used_pct": round(used_pct, 1)}
            details.append(line)
            if used_pct > t.swap_warn_pct:
                warning.append(line)
                fixes.append("swap in heavy use: the host is short of memory (see above); "
                             "restart the leaking process or add RAM")
        else:
            details.append("swap: none configured")
    if not by_mount and mem is None:
        return CheckResult(ID, Status.UNKNOWN, f"could not read disk or memory on {host}",
                           details, "check that the host is Linux and that df and "
                           "/proc/meminfo are readable by this user", data)
    if critical:
        return CheckResult(ID, Status.CRITICAL, "; ".join(critical), details,
                           " | ".join(dict.fromkeys(fixes)), data)
    if warning:
        return CheckResult(ID, Status.WARNING, "; ".join(warning), details,
                           " | ".join(dict.fromkeys(fixes)), data)
    parts = [f"{len(by_mount)} filesystem{'s' if len(by_mount) != 1 else ''} ok"]
    if isinstance(data.get("memory"), dict):
        parts.append(f"memory {data['memory']['available_pct']:.0f} % available")  # type: ignore[index]
    return CheckResult(ID, Status.OK, f"{host}: " + ", ".join(parts), details, None, data)


async def run(ctx: CheckContext) -> CheckResult:
    if ctx.host is None:
        return CheckResult(ID, Status.SKIPPED, ctx.host_skip_reason
                           or "no access to the target host's disk and memory")
    paths = list(ctx.host_paths)
    notes: list[str] = []
    if ctx.docker is not None:
        try:
            root = await asyncio.to_thread(ctx.docker.root_dir)
            paths.append(("Docker root", root))
        except SourceUnavailable as exc:
            if ctx.compose_project:
                notes.append(f"Docker root: not read ({exc.reason})")
    if not any(path == "/" for _, path in paths):
        paths.append(("root filesystem", "/"))
    wanted = list(dict.fromkeys(path for _, path in paths))
    reading = await ctx.host.read(wanted)
    return judge(reading, paths, ctx.thresholds, ctx.host.name, notes)
