"""The backend's structured log as a check source: a local file, a command's output
(`ssh HOST cat FILE`, `docker logs`), read as byte blocks.

The log is JSON lines (structlog, `atp.logging`; `event` carries the runbook's marker
text, `level`, `timestamp` and `exception` are fields) or, from a console (`docker logs`),
the text lines of `LOG_FORMAT=text` (`TIME LEVEL LOGGER EVENT k=v`, a traceback on indented
lines after its record): both parse into the same records. Scans work on raw byte blocks and
parse only the lines a literal search selects, which keeps a 1,000,000-line scan within a
small factor of `grep -c` (bench/check_speed.py).
"""

from __future__ import annotations

import json
import mmap
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from atp.integrity.sources import SourceUnavailable

BLOCK = 8 << 20
LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50,
          "exception": 40}


@runtime_checkable
class LogSource(Protocol):
    name: str

    def blocks(self, since: datetime | None = None) -> Iterator[bytes]:
        """The log as byte blocks that end at line ends; may start at `since` (best effort)."""
        ...


def _ts(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_TS_BYTES = re.compile(rb'"timestamp": ?"([^"]+)"|^(\d{4}-\d\d-\d\dT\S+) [A-Z]')


def _line_time(line: bytes) -> datetime | None:
    match = _TS_BYTES.search(line)
    if not match:
        return None
    return _ts((match.group(1) or match.group(2)).decode("ascii", "replace"))


class FileLog:
    """A local log file and its rotated predecessors (`LOG_FILE.1` … `.N`, RotatingFileHandler
    naming, `.1` the newest), read oldest first. With `since`, only the files the window
    reaches are opened, and a binary search on line timestamps skips the past within the
    first of them (structlog writes in time order), so a 15-minute window never reads a
    week of log."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"log file {self.path}"

    def files(self, since: datetime | None = None) -> list[Path]:
        """The files holding the log from `since` on (all without it), oldest first."""
        chosen = [self.path]
        n = 1
        while since is None or not self._starts_by(chosen[0], since):
            older = Path(f"{self.path}.{n}")
            if not older.is_file():
                break
            chosen.insert(0, older)
            n += 1
        return chosen

    @staticmethod
    def _starts_by(path: Path, since: datetime) -> bool:
        """Whether the file's first timestamped line is at or before `since` (so no older
        file is needed); a file that cannot be read or has no timestamp says no."""
        try:
            with path.open("rb") as handle:
                for _ in range(50):
                    line = handle.readline()
                    if not line:
                        return False
                    at = _line_time(line)
                    if at is not None:
                        return at <= since
        except OSError:
            return False
        return False

    def blocks(self, since: datetime | None = None) -> Iterator[bytes]:
        for path in self.files(since):
            yield from self._file_blocks(path, since, required=path == self.path)

    def _file_blocks(self, path: Path, since: datetime | None, required: bool
                     ) -> Iterator[bytes]:
        try:
            handle = path.open("rb")
        except OSError as exc:
            if not required:  # rotated away between listing and opening
                return
            raise SourceUnavailable("log", f"{path}: {exc.strerror or exc}") from None
        with handle:
            if since is not None:
                handle.seek(self._offset_of(handle, since))
            rest = b""
            while block := handle.read(BLOCK):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest = block
                    continue
                rest = block[cut:]
                yield block[:cut]
            if rest:
                yield rest + b"\n"

    def regions(self, since: datetime | None = None) -> Iterator[Region]:
        """Each file the window needs mapped read-only (one region from the window's start)."""
        for path in self.files(since):
            yield from self._file_regions(path, since, required=path == self.path)

    def _file_regions(self, path: Path, since: datetime | None, required: bool
                      ) -> Iterator[Region]:
        try:
            handle = path.open("rb")
        except OSError as exc:
            if not required:
                return
            raise SourceUnavailable("log", f"{path}: {exc.strerror or exc}") from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return
            start = self._offset_of(handle, since) if since is not None else 0
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                yield mapped, start, size

    @staticmethod
    def _offset_of(handle: Any, since: datetime) -> int:
        """Offset of a line start at or before the first line with timestamp >= since."""
        size = os.fstat(handle.fileno()).st_size
        lo, hi = 0, size
        while hi - lo > 64 * 1024:
            mid = (lo + hi) // 2
            handle.seek(mid)
            handle.readline()  # to the next line start
            at = None
            for _ in range(50):  # skip non-JSON lines (tracebacks printed raw)
                line = handle.readline()
                if not line:
                    break
                at = _line_time(line)
                if at is not None:
                    break
            if at is None or at >= since:
                hi = mid
            else:
                lo = mid
        if lo == 0:
            return 0
        handle.seek(lo)
        handle.readline()
        return int(handle.tell())


class CommandLog:
    """A command whose stdout is the log: `ssh HOST cat FILE`, `docker logs NAME`."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.argv, self.name = argv, name

    def blocks(self, since: datetime | None = None) -> Iterator[bytes]:
        try:
            proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SourceUnavailable("log", f"{self.argv[0]}: {exc.strerror or exc}") from None
        assert proc.stdout is not None and proc.stderr is not None
        rest = b""
        try:
            while block := proc.stdout.read1(BLOCK):  # type: ignore[attr-defined]
                block = rest + block
                cut = block.rfind(b"\n") + 1
                rest = block[cut:]
                if cut:
                    yield block[:cut]
            if rest:
                yield rest + b"\n"
        finally:
            proc.stdout.close()
            err = proc.stderr.read().decode("utf-8", "replace").strip()
            proc.stderr.close()
            code = proc.wait()
        if code != 0:
            raise SourceUnavailable("log", f"{self.name}: exit {code}: {err[-300:]}")


# The host side of `RemoteFileLog`: python3 when the host has it, else awk (POSIX; mawk on
# Debian), which scans every rotated file instead of bisecting, but still ships only the
# window. $1 FILE, $2 SINCE or -, $3 NEEDLE, $4 the Python source, $5 auto | awk.
_REMOTE_SH = r"""
f=$1; since=$2; needle=$3
if [ "$5" != awk ] && command -v python3 >/dev/null 2>&1; then
  exec python3 -c "$4" "$f" "$since" "$needle"
fi
[ -r "$f" ] || { echo "$f: cannot read" >&2; exit 2; }
set -- "$f"; n=1
while [ -f "$f.$n" ]; do set -- "$f.$n" "$@"; n=$((n+1)); done
exec awk -v since="$since" -v needle="$needle" '
  !on && since != "-" {
    t = ""
    if (match($0, /"timestamp": ?"[^"]+"/)) {
      t = substr($0, RSTART, RLENGTH); sub(/^"timestamp": ?"/, "", t)
    }
    else if ($0 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/) { t = $1 }
    if (t == "" || substr(t, 1, 19) < since) next
    on = 1
  }
  needle == "" || index($0, needle) { print }
' "$@"
"""


class RemoteFileLog:
    """A log file (and its rotated predecessors) on the SSH host, filtered there: only the
    lines from the window's start (and, for `atp logs --marker`, holding the marker) cross
    the connection, not the whole file. `command` turns a remote argv into a local one
    (`SshTunnel.command`); `tool="awk"` forces the fallback used where python3 is absent."""

    def __init__(self, command: Any, path: str, name: str, needle: str = "",
                 tool: str = "auto") -> None:
        self.command, self.path, self.name = command, path, name
        self.needle, self.tool = needle, tool

    def argv(self, since: datetime | None) -> list[str]:
        from atp.integrity.sources import remote_log_filter

        source = Path(remote_log_filter.__file__).read_text(encoding="utf-8")
        stamp = "-" if since is None else \
            since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        remote: list[str] = self.command(["sh", "-c", _REMOTE_SH, "atp-log", self.path, stamp,
                                          self.needle, source, self.tool])
        return remote

    def blocks(self, since: datetime | None = None) -> Iterator[bytes]:
        yield from CommandLog(self.argv(since), self.name).blocks(since)


class BytesLog:
    """An in-memory log (tests, and Docker SDK output already fetched)."""

    def __init__(self, data: bytes, name: str = "log") -> None:
        self.data, self.name = data, name

    def blocks(self, since: datetime | None = None) -> Iterator[bytes]:
        yield self.data if self.data.endswith(b"\n") or not self.data else self.data + b"\n"


# ── records ──────────────────────────────────────────────────────────────────────────────


@dataclass(slots=True)
class LogRecord:
    timestamp: datetime | None
    level: str
    event: str
    marker: str | None
    fields: dict[str, Any]
    exception: str | None
    raw: str

    @property
    def is_json(self) -> bool:
        return bool(self.fields) or self.raw.startswith("{")


_MARKER = re.compile(r"^\[([A-Z_]+)\]")
_SKIP = {"event", "level", "timestamp", "logger", "marker", "exception"}
# `LOG_FORMAT=text` (atp.logging.render_text): time, upper-case level, logger, event.
_TEXT = re.compile(r"^(\d{4}-\d\d-\d\dT\S+) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) (.*)$")
_PAIR = re.compile(r'(?:^| )([a-z_][a-z0-9_]*)=("[^"]*"|\S*)')


def _text_fields(event: str, marker: str | None) -> dict[str, Any]:
    """The `key=value` pairs of a text line (marker lines: `[M] k=v | k=v`), as strings."""
    if marker:
        body = event[len(marker) + 2:]
        pairs = (part.strip().partition("=") for part in body.split(" | "))
        return {k: v for k, sep, v in pairs if sep and k}
    return {k: v.strip('"') for k, v in _PAIR.findall(event)}


def _parse_text(text: str) -> LogRecord | None:
    match = _TEXT.match(text)
    if match is None:
        return None
    stamp, level, logger, event = match.groups()
    m = _MARKER.match(event)
    marker = m.group(1) if m else None
    fields = {"logger": logger, **_text_fields(event, marker)}
    if marker is None:  # the event text ends where its first `key=value` starts
        first = _PAIR.search(event)
        if first is not None and first.start() > 0:
            event = event[:first.start()]
    return LogRecord(_ts(stamp), level.lower(), event, marker, fields, None, text)


def parse_line(line: str) -> LogRecord:
    """One log line as a record; non-JSON lines (raw tracebacks, uvicorn) keep their text."""
    text = line.rstrip("\n")
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            event = str(obj.get("event", ""))
            marker = obj.get("marker")
            if marker is None and (m := _MARKER.match(event)):
                marker = m.group(1)
            return LogRecord(_ts(obj.get("timestamp")), str(obj.get("level", "info")).lower(),
                             event, marker, obj, obj.get("exception"), text)
    parsed = _parse_text(text)
    if parsed is not None:
        return parsed
    level = "error" if ("ERROR" in text or "Traceback" in text) else "info"
    m = _MARKER.match(text)
    return LogRecord(None, level, text, m.group(1) if m else None, {}, None, text)


def iter_records(blocks: Iterable[bytes]) -> Iterator[LogRecord]:
    for block in blocks:
        for line in block.decode("utf-8", "replace").splitlines():
            if line:
                yield parse_line(line)


def format_record(record: LogRecord, show_logger: bool = True) -> str:
    """Human-readable: `2026-01-01 12:00:00Z INFO  atp.monitor  [DEBUG_...] k=v | ...`."""
    if not record.is_json:
        return record.raw
    at = record.timestamp.strftime("%Y-%m-%d %H:%M:%SZ") if record.timestamp else "-"
    logger = f"{record.fields.get('logger', '')}  " if show_logger else ""
    extra = {k: v for k, v in record.fields.items() if k not in _SKIP}
    tail = ""
    if extra and not record.marker:  # marker lines already carry their fields in the text
        tail = "  " + " ".join(f"{k}={v}" for k, v in extra.items())
    out = f"{at} {record.level.upper():<7} {logger}{record.event}{tail}"
    if record.exception:
        out += "\n" + "\n".join("    " + ln for ln in str(record.exception).splitlines())
    return out


# ── the errors scan (runbook step f) ─────────────────────────────────────────────────────

# Every candidate line contains one of these: JSON error/critical levels, a traceback (a
# JSON `exception` field starts with "Traceback" too), a raw "ERROR" line. Four literal
# searches (C speed) instead of a regex over every byte.
_CANDIDATES = (b'"level": "error"', b'critical"', b"Traceback", b"ERROR", b" CRITICAL ")
# A chunk of JSON lines only (LOG_FILE always is): its levels and tracebacks, no text-format
# needles; longer needles search faster (each pass over 260 MB costs 0.1-0.2 s)
_JSON_CANDIDATES = (b'"level": "error"', b'"level": "critical"', b"Traceback (most recent")
EXPECTED = re.compile(
    r"timeout|timed out|TimeoutError|RequestTimeout|NetworkError|exchange unreachable|"
    r"ConnectionReset|ServerDisconnected|temporarily unavailable|DDoSProtection", re.I)
_CLASS = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Timeout))\b")
_CLASS_LINE = re.compile(rb"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Timeout))\b",
                         re.M)
_DIGITS = re.compile(r"\d+")
# The exchange adapter's line for an order call the exchange refused (306, 140001, …):
# recorded as the intent's REJECTED outcome or the position's protection error, which
# `order_execution` names; not an unexpected error.
_ORDER_REFUSAL = re.compile(r"^exchange call failed \| .*kind=rejected \| .*"
                            r"operation=\S*(?:create-order|create-oco|create-order-list|"
                            r"cancel-order|cancel-oco|create_order|create_oco)")


@dataclass
class ErrorScan:
    """Errors by class: unexpected ones fail the check; expected (transient) ones and
    those another check names (auth, Telegram, failed alerts) are counted."""

    lines: int = 0  # -1 when not counted (a mapped file)
    bytes_read: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    attributed: Counter[str] = field(default_factory=Counter)  # check id → count
    tracebacks: int = 0
    examples: dict[str, str] = field(default_factory=dict)
    last_at: dict[str, str] = field(default_factory=dict)


def classify(record: LogRecord) -> tuple[str, str]:
    """(kind, key): kind is `unexpected` | `expected` | `attributed`; key a class name or
    check id. The class comes from the traceback's last line, else from `error=`."""
    event = record.event
    if record.marker == "CRYPTO_AUTH_DIAG" or event.startswith("[CRYPTO_AUTH_DIAG]"):
        return "attributed", "exchange_auth"
    if record.marker == "TG" or event.startswith("[TG]"):
        return "attributed", "telegram"
    if record.marker == "ALERT_EMIT_FINAL":
        return "attributed", "alert_emissions"
    if _ORDER_REFUSAL.search(event):  # the exchange said no to an order: a recorded outcome
        return "attributed", "order_execution"
    key = None
    if record.exception:
        lines = [ln for ln in str(record.exception).splitlines() if ln.strip()]
        if lines and (m := _CLASS.match(lines[-1].strip())):
            key = m.group(1)
    error = record.fields.get("error")
    if key is None and isinstance(error, str) and (m := _CLASS.match(error)):
        key = m.group(1)
    if key is None:
        key = _DIGITS.sub("N", event.split(":")[0])[:80] or "error"
    blob = " ".join(str(x) for x in (key, event, error or "", record.exception or ""))
    return ("expected" if EXPECTED.search(blob) else "unexpected"), key


Region = tuple[Any, int, int]  # (bytes or mmap, start, end): searched in place, no copy


def regions(source: LogSource, since: datetime | None = None) -> Iterator[Region]:
    """What `scan_errors` searches: a file's mapping (zero-copy) or the source's blocks."""
    mapped = getattr(source, "regions", None)
    if mapped is not None:
        yield from mapped(since)
        return
    for block in source.blocks(since):
        yield block, 0, len(block)


CHUNK = 8 * 1024 * 1024  # the unit whose format is sampled


def _chunks(parts: Iterable[Region]) -> Iterator[Region]:
    """Regions cut at line ends into pieces of about CHUNK bytes, each sampled for its
    format (`_json_lines`): a text part of a log gets the text needles, the rest not."""
    for block, lo, hi in parts:
        while hi - lo > CHUNK:
            cut = block.find(b"\n", lo + CHUNK, hi)
            if cut == -1:
                break
            # a raw traceback stays with its first line: cut before indented lines
            while cut + 1 < hi and block[cut + 1:cut + 2] in (b" ", b"\t", b"T"):
                nxt = block.find(b"\n", cut + 1, hi)
                if nxt == -1:
                    break
                cut = nxt
            yield block, lo, cut + 1
            lo = cut + 1
        yield block, lo, hi


def _json_lines(block: Any, lo: int, hi: int, samples: int = 16) -> bool:
    """True when the sampled line starts of [lo, hi) are all JSON records (`{`): a text
    line or a raw traceback anywhere in the sample means every needle is searched."""
    if hi <= lo:
        return False
    for k in range(samples + 1):
        pos = lo + (hi - lo - 1) * k // samples
        start = max(lo, block.rfind(b"\n", lo, pos) + 1) if pos > lo else lo
        if block[start:start + 1] != b"{":
            return False
    return True


def scan_errors(source: LogSource | Iterable[bytes], since: datetime | None = None
                ) -> ErrorScan:
    """Errors and tracebacks by class in a log (or byte blocks), at or after `since`."""
    result = ErrorScan()
    parts: Iterable[Region] = (
        regions(source, since) if isinstance(source, LogSource)
        else ((b, 0, len(b)) for b in source)
    )
    for block, lo, hi in _chunks(parts):
        if isinstance(block, bytes):
            result.lines += block.count(b"\n", lo, hi)
        else:
            result.lines = -1  # not counted for a mapped file: it would cost a full pass
        result.bytes_read += hi - lo
        starts: set[int] = set()
        for needle in (_JSON_CANDIDATES if _json_lines(block, lo, hi) else _CANDIDATES):
            pos = block.find(needle, lo, hi)
            while pos != -1:
                start = max(lo, block.rfind(b"\n", lo, pos) + 1)
                starts.add(start)
                end = block.find(b"\n", pos, hi)
                if end == -1:
                    break
                pos = block.find(needle, end, hi)
        skip_until = -1
        for start in sorted(starts):
            if start < skip_until:
                continue  # a line inside a raw traceback already counted
            end = block.find(b"\n", start, hi)
            if end == -1:
                end = hi
            line = block[start:end]
            if line[:1] in (b" ", b"\t"):
                continue  # an indented traceback line, taken with the record above it
            record = parse_line(line.decode("utf-8", "replace"))
            if record.is_json and not record.raw.startswith("{"):  # a text line
                record.exception, end = _text_traceback(block, end, hi)
                skip_until = end
            if record.is_json:
                if LEVELS.get(record.level, 20) < 40 and not record.exception:
                    continue
                if since is not None and record.timestamp is not None and \
                        record.timestamp < since:
                    continue
            elif line.startswith(b"Traceback"):
                tail = block[end:min(hi, end + 64 * 1024)]
                m = _CLASS_LINE.search(tail)
                cls = m.group(1).decode() if m else "Traceback"
                skip_until = end + m.end() if m else end
                record = LogRecord(None, "error", cls, None, {}, line.decode() + "\n" + cls,
                                   line.decode("utf-8", "replace"))
            if record.exception:
                result.tracebacks += 1
            kind, key = classify(record)
            getattr(result, kind)[key] += 1
            result.examples.setdefault(key, record.event[:200])
            if record.timestamp is not None:
                result.last_at[key] = record.timestamp.isoformat()
    return result


def _text_traceback(block: Any, end: int, hi: int) -> tuple[str | None, int]:
    """The indented lines after a text record (its traceback) and where they end."""
    lines = []
    pos = end + 1
    while pos < hi and block[pos:pos + 1] in (b" ", b"\t"):
        nxt = block.find(b"\n", pos, hi)
        nxt = hi if nxt == -1 else nxt
        lines.append(bytes(block[pos:nxt]).decode("utf-8", "replace").strip())
        pos = nxt + 1
    return ("\n".join(lines) if lines else None), max(end, pos - 1)


class DockerLog:
    """`docker logs` of a container through the Docker SDK (local or over SSH)."""

    def __init__(self, docker: Any, container: str) -> None:
        self.docker, self.container = docker, container
        self.name = f"docker logs {container}"

    def blocks(self, since: datetime | None = None) -> Iterator[bytes]:
        try:
            data = self.docker.container_logs(self.container, since=since)
        except SourceUnavailable:
            raise
        except Exception as exc:
            raise SourceUnavailable("log", f"{self.name}: {type(exc).__name__}: {exc}") from None
        yield data if data.endswith(b"\n") or not data else data + b"\n"
