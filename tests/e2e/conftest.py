"""The demo fleet: `atp demo` processes (port 0) shared by the modules that only read
them — tests/e2e/integrity/test_demo_faults.py and tests/e2e/test_contract.py — so the
suite pays one warm-up for both. Started on first request, all requested at once; stopped
as soon as the next test does not use the fleet, so no later test shares the CPU with it.

The `monitor-stall` demo has to be silent for the check's 60 s before its test can pass,
counted from the fleet's start: that test runs after every other test of the fleet, which
use those 60 s, instead of before the contract tests.
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


def _uses_fleet(item: pytest.Item) -> bool:
    return "demo_fleet" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stall = [i for i in items if _uses_fleet(i) and i.nodeid.endswith("[monitor-stall]")]
    if not stall:
        return
    for item in stall:
        items.remove(item)
    last = max((n for n, i in enumerate(items) if _uses_fleet(i)), default=len(items) - 1)
    items[last + 1:last + 1] = stall
