"""Runs ON THE LOG'S HOST (shipped as `python3 -c` source by `RemoteFileLog`): print the
lines of a log file and its rotated predecessors (FILE.N … FILE.1, FILE) from a UTC time
on, optionally only lines holding a literal needle, so only the window crosses SSH.

Standalone on purpose: the host has a Python 3, not ATP (stdlib only, Python 3.7+, no
imports from atp). Times are compared as their first 19 characters (`YYYY-MM-DDTHH:MM:SS`,
UTC as ATP writes them): the lines of the window's first second are kept, the reader
filters exactly. argv: FILE SINCE|- [NEEDLE].
"""

from __future__ import annotations

import os
import re
import sys
from typing import IO

TS = re.compile(rb'"timestamp": ?"([^"]+)"|^(\d{4}-\d\d-\d\dT\S+) [A-Z]')


def stamp(line: bytes) -> bytes | None:
    match = TS.search(line)
    if not match:
        return None
    return (match.group(1) or match.group(2))[:19]


def first_stamp(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            for _ in range(50):
                line = handle.readline()
                if not line:
                    return None
                at = stamp(line)
                if at is not None:
                    return at
    except OSError:
        return None
    return None


def offset(handle: IO[bytes], since: bytes) -> int:
    """A line start at or before the first line stamped >= since (binary search)."""
    size = os.fstat(handle.fileno()).st_size
    lo, hi = 0, size
    while hi - lo > 64 * 1024:
        mid = (lo + hi) // 2
        handle.seek(mid)
        handle.readline()
        at: bytes | None = None
        for _ in range(50):
            line = handle.readline()
            if not line:
                break
            at = stamp(line)
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
    return handle.tell()


def main(argv: list[str]) -> None:
    path = argv[0]
    since = None if argv[1] == "-" else argv[1].encode()
    needle = argv[2].encode() if len(argv) > 2 and argv[2] else None
    files = [path]
    n = 1
    while since is None or (first_stamp(files[0]) or b"~") > since:
        older = f"{path}.{n}"
        if not os.path.isfile(older):
            break
        files.insert(0, older)
        n += 1
    out = sys.stdout.buffer
    with open(path, "rb"):  # the current file must exist: its error is the answer
        pass
    for name in files:
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed by the with below
        except OSError:
            continue  # rotated away meanwhile
        with handle:
            start = offset(handle, since) if since is not None else 0
            handle.seek(start)
            skipping = since is not None
            for line in handle:
                if skipping and since is not None:
                    at = stamp(line)
                    if at is None or at < since:
                        continue
                    skipping = False
                if needle is None or needle in line:
                    out.write(line)
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
