"""host_resources on crafted readings (/proc/meminfo text, statvfs results, df output),
one real local reading, and the thresholds' overrides."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atp.integrity.checks import host_resources
from atp.integrity.context import CheckContext
from atp.integrity.report import Status
from atp.integrity.sources.host import (
    LocalHost,
    Thresholds,
    parse_df,
    parse_meminfo,
    parse_remote,
)
from atp.integrity.sources.http import ApiSource
from atp.integrity.target import TargetSpec, _host_source

GIB_KB = 1024 * 1024


def meminfo(total_kb: int, avail_kb: int, swap_total_kb: int = 0, swap_free_kb: int = 0) -> str:
    return (f"MemTotal:       {total_kb} kB\nMemFree:         {avail_kb // 2} kB\n"
            f"MemAvailable:   {avail_kb} kB\nBuffers:          1000 kB\n"
            f"SwapTotal:      {swap_total_kb} kB\nSwapFree:       {swap_free_kb} kB\n"
            "HugePages_Total:       0\n")


def statvfs(total_bytes: int, free_bytes: int, frsize: int = 4096) -> os.statvfs_result:
    blocks, avail = total_bytes // frsize, free_bytes // frsize
    return os.statvfs_result((frsize, frsize, blocks, avail, avail, 0, 0, 0, 0, 255))


def host(tmp_path: Path, mem: str, disk: os.statvfs_result | None) -> LocalHost:
    path = tmp_path / "meminfo"
    path.write_text(mem)

    def fake(p: str) -> os.statvfs_result:
        if disk is None:
            raise FileNotFoundError(2, "No such file or directory")
        return disk

    return LocalHost(meminfo_path=str(path), statvfs=fake)


def ctx(source: LocalHost, thresholds: Thresholds | None = None,
        paths: list[tuple[str, str]] | None = None) -> CheckContext:
    return CheckContext(api=ApiSource("http://127.0.0.1:1"), now=datetime.now(UTC),
                        window=timedelta(minutes=15), host=source,
                        host_paths=paths if paths is not None else [("data", "/")],
                        thresholds=thresholds or Thresholds())


GB = 1_000_000_000


async def test_healthy_host_is_ok_with_figures(tmp_path: Path) -> None:
    result = await host_resources.run(ctx(host(tmp_path, meminfo(16 * GIB_KB, 8 * GIB_KB),
                                               statvfs(100 * GB, 40 * GB))))
    assert result.status is Status.OK, result.as_dict()
    assert "1 filesystem ok" in result.summary and "memory 50 % available" in result.summary
    assert result.data["disks"][0]["free_pct"] == pytest.approx(40.0, abs=0.1)
    assert any("swap: none configured" in d for d in result.details)


@pytest.mark.parametrize(("free_gb", "total_gb", "status"), [
    (10, 100, Status.WARNING),   # 10 % < 15 %
    (4, 100, Status.CRITICAL),   # 4 % < 5 %
    (0.5, 5, Status.CRITICAL),   # 10 % but under 1 GB
    (20, 100, Status.OK),
])
async def test_disk_thresholds(tmp_path: Path, free_gb: float, total_gb: float,
                               status: Status) -> None:
    source = host(tmp_path, meminfo(16 * GIB_KB, 8 * GIB_KB),
                  statvfs(int(total_gb * GB), int(free_gb * GB)))
    result = await host_resources.run(ctx(source, paths=[("log", "/var/log/atp")]))
    assert result.status is status, result.as_dict()
    if status is not Status.OK:
        assert "disk /" in result.summary
        assert result.remediation and "free space on /" in result.remediation
        assert "rotate or delete old logs" in result.remediation


@pytest.mark.parametrize(("avail_pct", "swap_used_pct", "status", "word"), [
    (10, 0, Status.WARNING, "memory"),
    (3, 0, Status.CRITICAL, "memory"),
    (40, 80, Status.WARNING, "swap"),
    (40, 30, Status.OK, ""),
])
async def test_memory_and_swap(tmp_path: Path, avail_pct: int, swap_used_pct: int,
                               status: Status, word: str) -> None:
    total = 10 * GIB_KB
    swap = 4 * GIB_KB
    source = host(tmp_path, meminfo(total, total * avail_pct // 100, swap,
                                    swap - swap * swap_used_pct // 100),
                  statvfs(100 * GB, 50 * GB))
    result = await host_resources.run(ctx(source))
    assert result.status is status, result.as_dict()
    if word:
        assert result.summary.startswith(word) and result.remediation


async def test_thresholds_are_overridable_to_force_a_warning(tmp_path: Path) -> None:
    source = host(tmp_path, meminfo(16 * GIB_KB, 8 * GIB_KB), statvfs(100 * GB, 40 * GB))
    forced = Thresholds.from_env({"ATP_CHECK_DISK_WARN_PCT": "50"})
    assert (await host_resources.run(ctx(source, forced))).status is Status.WARNING
    forced = Thresholds.from_env({}, ["mem_warn_pct=60"])
    result = await host_resources.run(ctx(source, forced))
    assert result.status is Status.WARNING and result.summary.startswith("memory")
    with pytest.raises(ValueError, match="unknown threshold 'disk_pct'"):
        Thresholds.from_env({}, ["disk_pct=3"])
    with pytest.raises(ValueError, match="not a number"):
        Thresholds.from_env({}, ["disk_warn_pct=lots"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        Thresholds.from_env({}, ["disk_warn_pct"])


async def test_unreadable_parts_are_named_and_nothing_read_is_unknown(tmp_path: Path) -> None:
    source = host(tmp_path, meminfo(16 * GIB_KB, 8 * GIB_KB), None)
    result = await host_resources.run(ctx(source, paths=[("data", "/nowhere")]))
    assert result.status is Status.OK  # memory read; the disk's failure is in the details
    assert any("data (/nowhere): cannot read: No such file" in d for d in result.details)
    blind = LocalHost(meminfo_path=str(tmp_path / "absent"), statvfs=source.statvfs)
    result = await host_resources.run(ctx(blind, paths=[("data", "/nowhere")]))
    assert result.status is Status.UNKNOWN and result.remediation


async def test_no_host_is_skipped_with_the_reason() -> None:
    spec = TargetSpec(url="http://10.1.2.3:8002")
    source, _, reason = _host_source(spec, None)
    assert source is None and reason and "--ssh 10.1.2.3" in reason
    c = CheckContext(api=ApiSource("http://10.1.2.3:8002"), now=datetime.now(UTC),
                     window=timedelta(minutes=15), host_skip_reason=reason)
    result = await host_resources.run(c)
    assert result.status is Status.SKIPPED and "--ssh 10.1.2.3" in result.summary
    local, paths, _ = _host_source(TargetSpec(log_file="/srv/atp/logs/atp.log"), None)
    assert isinstance(local, LocalHost) and ("log", "/srv/atp/logs") in paths


async def test_a_real_local_reading() -> None:
    """This machine, as `atp check` reads it: every figure present and plausible."""
    result = await host_resources.run(ctx(LocalHost(), Thresholds(
        disk_warn_pct=0, disk_crit_pct=0, disk_crit_gb=0, mem_warn_pct=0, mem_crit_pct=0,
        swap_warn_pct=100), paths=[("data", str(Path.cwd()))]))
    assert result.status is Status.OK, result.as_dict()
    [disk, *_] = result.data["disks"]
    assert 0 < disk["free_bytes"] <= disk["total_bytes"]
    assert 0 < result.data["memory"]["available_bytes"] <= result.data["memory"]["total_bytes"]


def test_parsers_on_crafted_output() -> None:
    mem = parse_meminfo(meminfo(1000, 500))
    assert mem["MemTotal"] == 1000 * 1024 and mem["HugePages_Total"] == 0
    disk = parse_df("/srv", "/dev/mapper/vg0-data 1000000 900000 50000 95% /srv data\n")
    assert not isinstance(disk, str)
    assert disk.mount == "/srv data" and disk.free_bytes == 50000 * 1024
    assert parse_df("/x", "df: /x: No such file or directory\n") == \
        "df: /x: No such file or directory"
    text = (meminfo(1000, 500) + "ATP_DISK /srv\n/dev/vda 100 50 40 56% /\n"
            "ATP_DISK /gone\ndf: /gone: No such file or directory\n")
    reading = parse_remote(text, ["/srv", "/gone"])
    assert reading.meminfo and reading.meminfo["MemAvailable"] == 500 * 1024
    assert reading.disks["/srv"].total_bytes == 100 * 1024
    assert "No such file" in reading.disk_errors["/gone"]
    blind = parse_remote("ATP_NO_MEMINFO\nATP_DISK /\n/dev/vda 100 50 40 56% /\n", ["/"])
    assert blind.meminfo is None and blind.memory_error and "/" in blind.disks


async def test_nagios_perfdata_carries_disk_memory_and_probe_latency(tmp_path: Path) -> None:
    from atp.integrity.render import render_nagios
    from atp.integrity.report import CheckResult, Report

    disk = await host_resources.run(ctx(host(tmp_path, meminfo(16 * GIB_KB, 4 * GIB_KB),
                                             statvfs(100 * GB, 40 * GB))))
    probe = CheckResult("end_to_end", Status.OK, "TEST probe delivered in 0.20 s",
                        data={"latency_ms": 200.0})
    line = render_nagios(Report([disk, probe]))
    assert "'disk_free_/'=40.0%;;;0;100" in line and "mem_available=25.0%;;;0;100" in line
    assert "probe_latency=0.200s;10;;0" in line
