"""Real `atp run` processes killed with SIGKILL and restarted, against emulators started in
the test: the harness shared by the crash tests (tests/e2e/test_crash_*.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy.orm
from sqlalchemy import Engine, create_engine, select

from atp.emulators.telegram.state import ChatMessage
from atp.engine.outbox import REPEAT_MARKER
from atp.store import migrate
from atp.store.models import AlertOutcomeRow
from tests.processes import read_port_file

ATP = str(Path(sys.executable).with_name("atp"))


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Runs:
    """`atp run` on one database, started again and again; every process is reaped."""

    db_url: str
    workdir: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        migrate.upgrade(self.db_url)
        self.engine = create_engine(self.db_url)
        self.env = {**os.environ, "DATABASE_URL": self.db_url, "PRODUCTION": "true",
                    "LOG_FILE": str(self.workdir / "atp.log"), **self.env}

    def session(self) -> sqlalchemy.orm.Session:
        return sqlalchemy.orm.Session(self.engine)

    def sessions(self) -> sqlalchemy.orm.sessionmaker[sqlalchemy.orm.Session]:
        return sqlalchemy.orm.sessionmaker(self.engine)

    def start(self, wait: bool = True) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        err = (self.workdir / f"stderr-{n}.log").open("wb")
        port_file = self.workdir / f"port-{n}"
        proc = subprocess.Popen([ATP, "run", "--port", "0", "--port-file", str(port_file)],
                                env=self.env, cwd=self.workdir, stdout=err,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        if wait:
            read_port_file(port_file, proc, 60, Path(err.name))
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def outcomes(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(AlertOutcomeRow)).all())

    def rows(self, model: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(model)).all())


@dataclass(frozen=True)
class Deliveries:
    """What reached the chat, per accepted alert (keyed by its decision id)."""

    copies: dict[str, list[ChatMessage]]
    unmatched: list[ChatMessage]

    @classmethod
    def of(cls, messages: list[ChatMessage], decision_ids: list[str]) -> Deliveries:
        copies: dict[str, list[ChatMessage]] = {d: [] for d in decision_ids}
        unmatched = []
        for m in messages:
            match = next((d for d in decision_ids if d in m.text), None)
            if match is None:
                unmatched.append(m)
            else:
                copies[match].append(m)
        return cls(copies, unmatched)

    @property
    def lost(self) -> list[str]:
        return [d for d, c in self.copies.items() if not c]

    @property
    def doubled(self) -> list[str]:
        return [d for d, c in self.copies.items() if len(c) == 2]

    @property
    def repeats(self) -> int:
        return sum(1 for c in self.copies.values() for m in c
                   if m.text.startswith(REPEAT_MARKER))

    def assert_at_most_one_marked_repeat(self) -> None:
        for decision_id, copies in self.copies.items():
            assert len(copies) <= 2, f"alert {decision_id} arrived {len(copies)} times"
            marked = [m.text.startswith(REPEAT_MARKER) for m in copies]
            if len(copies) == 2:
                # the first copy plain, the second the marked repeat of the same text
                assert marked == [False, True], f"alert {decision_id}: {marked}"
                assert copies[1].text == f"{REPEAT_MARKER}\n{copies[0].text}"
            elif copies:
                # a lone copy may be the marked repeat of a send that never arrived
                assert copies[0].text.removeprefix(f"{REPEAT_MARKER}\n") == copies[0].text \
                    or marked == [True]

    def figures(self) -> dict[str, int]:
        counts = Counter(len(c) for c in self.copies.values())
        return {"alerts": len(self.copies), "lost": len(self.lost),
                "doubled": len(self.doubled), "repeats": self.repeats,
                "delivered_once": counts.get(1, 0)}
