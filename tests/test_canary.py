"""No secret anywhere: the canary API key and secret, used by every test that talks to the
exchange, appear in no log record, event row, exception text or subprocess log of this
run. The root conftest collects the sightings and runs this test last."""

from __future__ import annotations

from tests.canary import CANARIES, SIGHTINGS


def test_canary_secrets_never_appear_in_logs_events_or_exceptions():
    assert CANARIES
    assert SIGHTINGS == [], "secret leaked:\n" + "\n".join(f"{w}: {t}" for w, t in SIGHTINGS)
