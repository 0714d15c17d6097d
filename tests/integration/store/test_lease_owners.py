"""Lease owners are per process; a dead predecessor on this host (SIGKILLed, or a
restarted container reusing our pid) gives its leases up at our start, not after the TTL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from atp.engine.clock import ManualClock
from atp.engine.lease import (
    DbLease,
    dead_predecessor,
    instance_of,
    make_owner,
    release_dead_predecessors,
)
from atp.store import migrate
from atp.store.database import Database


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_owner_names_the_instance_and_tells_dead_predecessors() -> None:
    me = make_owner("prod")
    assert instance_of(me) == "prod" and me != make_owner("prod")
    host = me.split("@", 1)[1].split("/", 1)[0]
    assert dead_predecessor(f"prod@{host}/{_dead_pid()}/abcd1234", me)
    assert dead_predecessor(f"prod@{host}/{os.getpid()}/abcd1234", me)  # container restart
    assert not dead_predecessor(f"prod@{host}/{os.getppid()}/abcd1234", me)  # alive
    assert not dead_predecessor(f"prod@elsewhere/{_dead_pid()}/abcd1234", me)  # other host
    assert not dead_predecessor(me, me) and not dead_predecessor("old-style:ab12", me)


async def test_a_dead_predecessors_leases_are_freed_at_start(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'atp.db'}"
    migrate.upgrade(url)
    db = Database(url)
    clock = ManualClock()
    try:
        me = make_owner("prod")
        host = me.split("@", 1)[1].split("/", 1)[0]
        dead = f"prod@{host}/{_dead_pid()}/deadbeef"
        alive = f"prod@{host}/{os.getppid()}/a11ve000"
        assert await DbLease(db, "telegram-sender", dead, clock, 30).acquire()
        assert await DbLease(db, "telegram-poller", alive, clock, 30).acquire()
        assert not await DbLease(db, "telegram-sender", me, clock, 30).acquire()
        assert await release_dead_predecessors(db, me) == [dead]
        assert await DbLease(db, "telegram-sender", me, clock, 30).acquire()  # at once
        assert not await DbLease(db, "telegram-poller", me, clock, 30).acquire()
        clock.advance(timedelta(seconds=31).total_seconds())
        assert await DbLease(db, "telegram-poller", me, clock, 30).acquire()  # TTL as before
    finally:
        db.close()
