"""PostgreSQL restarted under a running `atp run` (issue 14, item 8): a private server of
the test's own (initdb into a temp dir, a unix socket only, never the machine's shared
server) is stopped mid-run and started again. Meanwhile `/api/health` says `degraded`
naming the database; afterwards the monitor cycles on without a restart of ATP, every
BUY/SELL decision has exactly one outcome and no alert is lost or sent twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from atp.emulators.telegram.server import TelegramEmulator
from tests.e2e.crash_harness import Deliveries, Runs, wait_for
from tests.e2e.test_crash_delivery import accepted, env, scripted_exchange, settled, watch
from tests.outcomes import assert_one_outcome_per_decision

pytestmark = pytest.mark.slow
TOKEN, CHAT = "779:crash-delivery-token", 557  # the scripted env() of the crash tests
PORT = 5499  # names the socket file only: the server listens on no TCP port


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """`initdb` + `pg_ctl` as the postgres user, in a directory of the test's own."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="atp-pg-"))
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.sock.mkdir()
        shutil.chown(self.root, "postgres")
        shutil.chown(self.sock, "postgres")
        self._as_pg(str(bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                    "postgres", "--no-sync")

    def _as_pg(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                       capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/postgres?host={self.sock}&port={PORT}"

    def start(self) -> None:
        self._as_pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                    str(self.root / "pg.log"), "-o",
                    f"-c listen_addresses='' -k {self.sock} -p {PORT} -c fsync=off", "start")

    def stop(self) -> None:
        self._as_pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast",
                    "stop")

    def remove(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bindir / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "stop"], capture_output=True,
                       check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    if bindir is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        if os.environ.get("ATP_REQUIRE_PG") == "1":
            pytest.fail("a private PostgreSQL needs root, runuser and the server binaries")
        pytest.skip("no PostgreSQL server binaries / not root: cannot run a private server")
    pg = PrivatePostgres(bindir)
    pg.start()
    try:
        yield pg
    finally:
        pg.remove()


async def test_postgres_restart_mid_run_is_degraded_then_loses_nothing(
        private_pg: PrivatePostgres, tmp_path: Path) -> None:
    exchange, symbols = scripted_exchange(6)
    await exchange.start()
    tg = TelegramEmulator(tokens=[TOKEN])
    await tg.start()
    runs = Runs(private_pg.url, tmp_path, env(exchange, tg))
    try:
        watch(runs, symbols[:3])
        proc = runs.start()
        api = f"http://127.0.0.1:{int((tmp_path / 'port-0').read_text())}"
        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= 3, 60,
                       "the first alerts delivered")
        await asyncio.to_thread(private_pg.stop)

        def health() -> dict[str, object]:
            return httpx.get(f"{api}/api/health", timeout=10).json()

        await wait_for(lambda: "database unreachable" in str(health().get("reason")), 30,
                       "/api/health naming the database")
        assert health()["status"] == "degraded"
        await asyncio.sleep(3)  # cycles fail meanwhile: nothing may be half-recorded
        await asyncio.to_thread(private_pg.start)
        runs.engine.dispose()  # the test's own pooled connections died with the server
        watch(runs, symbols[3:])  # new alerts after the restart, same process
        await wait_for(lambda: settled(runs) and len(accepted(runs)) >= len(symbols), 90,
                       "alerts of the symbols added after the restart delivered")
        await wait_for(lambda: health()["status"] == "ok", 30, "health ok again")
        assert proc.poll() is None  # recovered without a restart of ATP
    finally:
        runs.stop()
        await tg.stop()
        await exchange.stop()
    assert_one_outcome_per_decision(runs.sessions())
    deliveries = Deliveries.of(tg.received(CHAT), accepted(runs))
    assert deliveries.lost == [] and deliveries.doubled == [], deliveries.figures()
    runs.engine.dispose()
