"""The demo fleet: `atp demo` processes (port 0) shared by the modules that only read
them — tests/e2e/integrity/test_demo_faults.py and tests/e2e/test_contract.py — so the
suite pays one warm-up for both. Started on first request, all requested at once; stopped
as soon as the next test does not use the fleet, so no later test shares the CPU with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import DemoFleet

_FLEET: list[DemoFleet] = []


@pytest.fixture(scope="session")
def demo_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFleet]:
    fleet = DemoFleet(tmp_path_factory)
    _FLEET.append(fleet)
    try:
        yield fleet
    finally:
        fleet.stop()
        _FLEET.remove(fleet)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _FLEET and (nextitem is None or "demo_fleet" not in getattr(nextitem, "fixturenames", ())):
        _FLEET[0].stop()
