"""The canary secrets: used as API key and secret wherever tests talk to the exchange,
and searched for in every log line, event row and exception text the whole run produced
(`tests/test_canary.py`, which runs last).

A test that puts the secrets to use asks for the `canary` fixture (root conftest): that
enrols it, and the canary test fails unless every area of WATCHED had a passing test in
the same run. Without them "no sighting" would prove nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

CANARY_KEY = "canary-key-7Qx2Lm9Vb3"
CANARY_SECRET = "canary-secret-Zr8Kp4Wd6Tn1"
CANARIES = (CANARY_KEY, CANARY_SECRET)

# Where the secrets are exercised (test path prefix) → what passes them through.
WATCHED: dict[str, str] = {
    "tests/integration/exchange/": "the ccxt adapter signing requests, its errors and retries",
    "tests/e2e/test_live_chain.py": "the whole chain in-process: monitor, alerts, outbox, "
                                    "journal (DEBUG logs and event rows)",
    "tests/e2e/test_restart_delivery.py": "`atp run` as a process: its log file, stderr "
                                          "and event rows",
}

# Filled during the run by the root conftest: (where, excerpt) of every sighting.
SIGHTINGS: list[tuple[str, str]] = []
# Node ids of the passing tests that used the canary, by WATCHED area.
EXERCISED: dict[str, list[str]] = {}


@dataclass(frozen=True)
class Canary:
    key: str = CANARY_KEY
    secret: str = CANARY_SECRET


def scan(where: str, text: str) -> None:
    for canary in CANARIES:
        index = text.find(canary)
        if index >= 0:
            SIGHTINGS.append((where, text[max(0, index - 80): index + 80]))


def exercised(nodeid: str) -> None:
    """Record a passing test that used the canary, under the WATCHED area it belongs to."""
    area = next((a for a in WATCHED if nodeid.startswith(a)), nodeid.split("::")[0])
    EXERCISED.setdefault(area, []).append(nodeid)


def unexercised() -> dict[str, str]:
    """The WATCHED areas no passing test of this run exercised."""
    return {area: what for area, what in WATCHED.items() if not EXERCISED.get(area)}
