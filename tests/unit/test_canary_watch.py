"""The canary test cannot pass on an empty record: run without the tests that put the
secrets to use, it fails and names each missing area (a real pytest run, own process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.canary import WATCHED

ROOT = Path(__file__).resolve().parents[2]


def test_canary_test_alone_fails_naming_the_tests_that_did_not_run():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_canary.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "the canary watch saw no passing test that puts the secrets to use" in done.stdout
    for area in WATCHED:
        assert area in done.stdout


def test_one_area_missing_is_named_alone():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/integration/exchange/test_auth_and_proxy.py::test_unreachable_proxy",
         "tests/test_canary.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "1 passed" in done.stdout  # the exchange test ran, the canary test failed
    tail = done.stdout.split("the canary watch")[1]
    assert "tests/integration/exchange/" not in tail.split("so 'no secret")[0]
    assert "tests/e2e/test_live_chain.py" in tail
