"""Splitting the watchlist between replicas: a fixed number of shards, a stable hash.

A symbol's shard never depends on the process, the order of the watchlist or Python's
per-process string hash, so every replica computes the same split; a replica evaluates
only the symbols of the shards it holds (the leases are the engine's, `engine.shards`).
"""

from __future__ import annotations

import math
import zlib


def shard_of(symbol: str, shards: int) -> int:
    """The shard of `symbol` among `shards`: CRC-32 of its upper-cased name, modulo."""
    return zlib.crc32(symbol.upper().encode("utf-8")) % shards


def fair_share(shards: int, replicas: int) -> int:
    """How many shards one replica may hold: ceil(shards / live replicas), at least 1."""
    return max(1, math.ceil(shards / max(1, replicas)))


def ranges(indexes: list[int] | tuple[int, ...] | frozenset[int]) -> str:
    """`0-2,5,7`: a set of shard numbers for people (health, `atp check`)."""
    out: list[str] = []
    for n in sorted(indexes):
        if out and "-" not in out[-1] and int(out[-1]) == n - 1:
            out[-1] = f"{out[-1]}-{n}"
        elif out and "-" in out[-1] and int(out[-1].split("-")[1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ",".join(out) or "none"
