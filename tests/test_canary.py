"""No secret anywhere: the canary API key and secret appear in no log record, event row,
exception text or subprocess log of this run. The root conftest collects the sightings
and runs this test last.

It judges only what ran: run alone (or with -k / -m leaving out the tests that put the
secrets to use) it fails and names them, instead of passing on an empty record.
"""

from __future__ import annotations

import pytest

from tests.canary import CANARIES, SIGHTINGS, WATCHED, unexercised


def test_canary_secrets_never_appear_in_logs_events_or_exceptions():
    assert CANARIES
    missing = unexercised()
    if missing:
        pytest.fail(
            "the canary watch saw no passing test that puts the secrets to use in:\n"
            + "\n".join(f"  {area} ({what})" for area, what in missing.items())
            + "\nso 'no secret leaked' would prove nothing. Run them in the same session: "
            "`pytest tests/`, or `pytest " + " ".join(WATCHED) + " tests/test_canary.py`.",
            pytrace=False,
        )
    assert SIGHTINGS == [], "secret leaked:\n" + "\n".join(f"{w}: {t}" for w, t in SIGHTINGS)
