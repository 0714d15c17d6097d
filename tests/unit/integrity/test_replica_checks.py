"""The checks with replicas on one PostgreSQL: `backend_health` names who holds what, and
`signal_monitor_cycles` counts the symbols every replica's latest cycle covered."""

from __future__ import annotations

from atp.integrity.checks import backend_health, signal_monitor_cycles
from atp.integrity.report import Status

from .fakes import context, load


async def test_backend_health_names_every_replica_and_what_it_holds() -> None:
    p = load()
    p["/api/health"]["replicas"] = {
        "sharded": True, "shards": 8, "unowned_shards": [7], "replicas": [
            {"owner": "r-0@h/10/aa", "instance": "r-0", "me": True, "alive": True,
             "shards": [0, 1, 2, 3], "holds": ["telegram-sender", "retention"]},
            {"owner": "r-1@h/11/bb", "instance": "r-1", "me": False, "alive": True,
             "shards": [4, 5, 6], "holds": ["telegram-poller", "reports"]}]}
    result = await backend_health.run(context(p))
    assert result.status is Status.OK
    [line] = [d for d in result.details if d.startswith("replicas (")]
    assert line == ("replicas (8 shards): r-0@h/10/aa (this one) (shards 0-3; "
                    "telegram-sender; retention), r-1@h/11/bb (shards 4-6; telegram-poller; "
                    "reports); unowned shards 7")
    assert result.data["replicas"]["r-1@h/11/bb"]["holds"] == ["telegram-poller", "reports"]


async def test_replicas_cycles_together_cover_the_watchlist() -> None:
    p = load()
    cycles = p["/api/monitoring/cycles"]
    enabled = len([w for w in p["/api/watchlist"] if w.get("enabled", True)])
    assert enabled >= 2
    # two replicas, each over part of the watchlist
    for c in cycles:
        c.update(instance="r-0", symbols=enabled - 1, processed=enabled - 1)
    cycles[1].update(instance="r-1", symbols=1, processed=1)
    result = await signal_monitor_cycles.run(context(p))
    assert result.status is Status.OK, result.summary
    cycles[1].update(instance="r-0")  # one replica only: a symbol is missing
    result = await signal_monitor_cycles.run(context(p))
    assert result.status is Status.WARNING
    assert f"covered {enabled - 1} of {enabled}" in result.summary
