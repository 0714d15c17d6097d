"""The canary secrets: used as API key and secret (and bot token) wherever tests talk to
the exchange, and searched for in every log line, event row and exception text the whole
run produced (`tests/test_canary.py`, which runs last)."""

from __future__ import annotations

CANARY_KEY = "canary-key-7Qx2Lm9Vb3"
CANARY_SECRET = "canary-secret-Zr8Kp4Wd6Tn1"
CANARIES = (CANARY_KEY, CANARY_SECRET)

# Filled during the run by the root conftest: (where, excerpt) of every sighting.
SIGHTINGS: list[tuple[str, str]] = []


def scan(where: str, text: str) -> None:
    for canary in CANARIES:
        index = text.find(canary)
        if index >= 0:
            SIGHTINGS.append((where, text[max(0, index - 80): index + 80]))
