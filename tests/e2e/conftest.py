"""The demo fleet: `atp demo` processes (port 0) shared by the modules that only read
them — tests/e2e/integrity/test_demo_faults.py and tests/e2e/test_contract.py — so the
suite pays one warm-up for both. Started on first request, all requested at once.

The `monitor-stall` demo has to be silent for the check's 60 s, counted from the fleet's
start, before its test can pass. So that test runs last of tests/e2e: once the other fleet
tests are done every other demo is stopped, the stalled one (idle, by definition) waits
while the rest of tests/e2e runs, and the fleet is gone after the last test using it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import DemoFleet

_FLEET: list[DemoFleet] = []
LATE = {"monitor-stall"}  # demos whose tests run last (see above)
_LAST_USER: list[str] = []  # node id of the last test that uses the fleet


@pytest.fixture(scope="session")
def demo_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFleet]:
    fleet = DemoFleet(tmp_path_factory)
    _FLEET.append(fleet)
    try:
        yield fleet
    finally:
        fleet.stop()
        _FLEET.remove(fleet)


def _uses_fleet(item: pytest.Item) -> bool:
    return "demo_fleet" in getattr(item, "fixturenames", ())


def _is_late(item: pytest.Item) -> bool:
    return _uses_fleet(item) and any(item.nodeid.endswith(f"[{n}]") for n in LATE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    late = [i for i in items if _is_late(i)]
    for item in late:
        items.remove(item)
    here = Path(__file__).parent
    ours = [n for n, i in enumerate(items) if i.path.is_relative_to(here)]
    if ours:
        # the fleet's users run together, first of tests/e2e: a test between them would
        # retire the fleet under the ones after it (new modules sort anywhere)
        block = [items[n] for n in ours]
        block = [i for i in block if _uses_fleet(i)] + [i for i in block if not _uses_fleet(i)]
        for n, item in zip(ours, block, strict=True):
            items[n] = item
    at = ours[-1] + 1 if ours else len(items)
    items[at:at] = late
    users = [i.nodeid for i in items if _uses_fleet(i)]
    _LAST_USER[:] = users[-1:]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Between fleet tests and others: stop every demo no later test needs, so no other
    test shares the CPU with them."""
    if not _FLEET or (nextitem is not None and _uses_fleet(nextitem)):
        return
    if not _LAST_USER or item.nodeid == _LAST_USER[0]:
        _FLEET[0].stop()
    else:
        _FLEET[0].retire(keep=LATE)
