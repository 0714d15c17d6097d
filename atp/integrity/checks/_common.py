"""Small helpers the check modules share."""

from __future__ import annotations

from datetime import datetime


def hhmmss(at: datetime | None) -> str:
    """A decision's time as operators read it in logs: `12:03:01Z`."""
    return "?" if at is None else at.strftime("%Y-%m-%d %H:%M:%SZ")


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}s"


def limit_list(items: list[str], n: int = 20) -> list[str]:
    """At most n detail lines, then a count of the rest (a report must stay readable)."""
    if len(items) <= n:
        return items
    return [*items[:n], f"… and {len(items) - n} more"]
