"""The target host's disk and memory as a check source: locally from /proc/meminfo and
statvfs, over SSH by one small POSIX command (`cat /proc/meminfo; df -Pk PATH…`) through
the tunnel's master connection, so a remote check pays no new handshake.

Readings are plain numbers (bytes); judging them is `checks.host_resources`' business.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from atp.integrity.sources import SourceUnavailable

MEMINFO = "/proc/meminfo"
COMMAND_TIMEOUT_S = 15.0
_DISK = "ATP_DISK "
_NO_MEMINFO = "ATP_NO_MEMINFO"
# One remote command: memory, then one `df -Pk` per path (POSIX output: 1024-byte blocks)
REMOTE_SCRIPT = (f'cat {MEMINFO} 2>/dev/null || echo {_NO_MEMINFO}; '
                 f'for p in "$@"; do echo "{_DISK}$p"; df -Pk "$p" 2>&1 | tail -n +2; done')
_DF_LINE = re.compile(r"^(?P<fs>.*?)\s+(?P<blocks>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+"
                      r"(?P<cap>\d+|-)%?\s+(?P<mount>/.*)$")


@dataclass(frozen=True, slots=True)
class Disk:
    path: str
    mount: str
    total_bytes: int
    free_bytes: int  # available to an unprivileged process (what the platform can write)

    @property
    def free_pct(self) -> float:
        return 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass
class HostReading:
    """What could be read; `*_error` says why a part could not."""

    meminfo: dict[str, int] | None = None  # bytes, keys as in /proc/meminfo
    memory_error: str | None = None
    disks: dict[str, Disk] = field(default_factory=dict)  # by requested path
    disk_errors: dict[str, str] = field(default_factory=dict)


class HostSource(Protocol):
    name: str

    async def read(self, paths: Sequence[str]) -> HostReading: ...


def parse_meminfo(text: str) -> dict[str, int]:
    """`MemTotal:  24683584 kB` lines as bytes (values without a unit are kept as is)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or not parts or not parts[0].isdigit():
            continue
        value = int(parts[0])
        out[key.strip()] = value * 1024 if len(parts) > 1 and parts[1].lower() == "kb" else value
    return out


def parse_df(path: str, text: str) -> Disk | str:
    """One `df -Pk PATH` data line (header removed) as a Disk, or the error text."""
    for line in text.splitlines():
        m = _DF_LINE.match(line.strip())
        if m:
            blocks, avail = int(m["blocks"]), int(m["avail"])
            return Disk(path, m["mount"], blocks * 1024, avail * 1024)
    return text.strip().splitlines()[-1][:200] if text.strip() else "df printed nothing"


def parse_remote(text: str, paths: Sequence[str]) -> HostReading:
    """The output of REMOTE_SCRIPT."""
    reading = HostReading()
    head, _, _ = text.partition(_DISK)
    if _NO_MEMINFO in head or not head.strip():
        reading.memory_error = f"{MEMINFO} not readable on the host (not Linux?)"
    else:
        reading.meminfo = parse_meminfo(head)
    chunks = text.split(_DISK)[1:]
    for path, chunk in zip(paths, chunks, strict=False):
        _, _, body = chunk.partition("\n")
        found = parse_df(path, body)
        if isinstance(found, Disk):
            reading.disks[path] = found
        else:
            reading.disk_errors[path] = found
    for path in paths[len(chunks):]:
        reading.disk_errors[path] = "not reported by the host"
    return reading


def _mount_of(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


@dataclass
class LocalHost:
    """This machine (the target's URL is on loopback). Readers are injectable for tests."""

    name: str = "this host"
    meminfo_path: str = MEMINFO
    statvfs: Callable[[str], os.statvfs_result] = os.statvfs

    async def read(self, paths: Sequence[str]) -> HostReading:
        return await asyncio.to_thread(self._read, paths)

    def _read(self, paths: Sequence[str]) -> HostReading:
        reading = HostReading()
        try:
            with open(self.meminfo_path, encoding="ascii", errors="replace") as f:
                reading.meminfo = parse_meminfo(f.read())
        except OSError as exc:
            reading.memory_error = f"{self.meminfo_path} not readable ({exc.strerror}; not " \
                                   "Linux?)"
        for path in paths:
            try:
                st = self.statvfs(path)
            except OSError as exc:
                reading.disk_errors[path] = f"{exc.strerror or exc}"
                continue
            reading.disks[path] = Disk(path, _mount_of(path), st.f_blocks * st.f_frsize,
                                       st.f_bavail * st.f_frsize)
        return reading


@dataclass
class SshHost:
    """The SSH target: REMOTE_SCRIPT run once over the tunnel's master connection."""

    command: Callable[[list[str]], list[str]]  # SshTunnel.command
    name: str = "the SSH host"

    async def read(self, paths: Sequence[str]) -> HostReading:
        argv = self.command(["sh", "-c", REMOTE_SCRIPT, "sh", *paths])
        try:
            done = await asyncio.to_thread(subprocess.run, argv, capture_output=True,
                                           timeout=COMMAND_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceUnavailable("ssh", f"reading disk and memory on {self.name}: "
                                    f"{type(exc).__name__}") from None
        text = done.stdout.decode("utf-8", "replace")
        if done.returncode == 255 or (done.returncode != 0 and not text.strip()):
            err = done.stderr.decode("utf-8", "replace").strip()[-200:]
            raise SourceUnavailable("ssh", f"reading disk and memory on {self.name} failed "
                                    f"(exit {done.returncode}): {err}")
        return parse_remote(text, paths)


def env_overrides(environ: Mapping[str, str], prefix: str) -> dict[str, str]:
    """`PREFIX_NAME=value` variables as {name: value} (lower-case names)."""
    return {k[len(prefix):].lower(): v for k, v in environ.items() if k.startswith(prefix)}


THRESHOLD_ENV = "ATP_CHECK_"  # e.g. ATP_CHECK_DISK_WARN_PCT=20


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When `host_resources` warns or fails; overridable by ATP_CHECK_<NAME> or
    `atp check --threshold NAME=VALUE` (names as the fields)."""

    disk_warn_pct: float = 15.0  # free below this: warning
    disk_crit_pct: float = 5.0  # free below this: critical
    disk_crit_gb: float = 1.0  # …or less than this many GB free: critical
    mem_warn_pct: float = 15.0  # MemAvailable below this share of MemTotal: warning
    mem_crit_pct: float = 5.0
    swap_warn_pct: float = 50.0  # swap used above this share: warning

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.__dataclass_fields__)

    def overridden(self, values: Mapping[str, str]) -> Thresholds:
        """A copy with `values` applied; ValueError naming the bad one and the fix."""
        changes: dict[str, float] = {}
        for name, raw in values.items():
            if name not in self.names():
                raise ValueError(f"unknown threshold {name!r} (known: "
                                 f"{', '.join(self.names())})")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"threshold {name}={raw!r} is not a number") from None
            if not 0 <= value <= (1e6 if name.endswith("_gb") else 100):
                raise ValueError(f"threshold {name}={raw} is out of range")
            changes[name] = value
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], extra: Sequence[str] = ()) -> Thresholds:
        """Defaults, then ATP_CHECK_<NAME> variables, then `NAME=VALUE` strings."""
        found = {k: v for k, v in env_overrides(environ, THRESHOLD_ENV).items()
                 if k in cls.names()}
        for item in extra:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--threshold {item!r}: use NAME=VALUE, e.g. disk_warn_pct=20")
            found[name.strip().lower()] = value.strip()
        return cls().overridden(found)
