"""The app on a real uvicorn server in the test's own event loop (as `atp run` serves it),
and schemathesis against its /openapi.json: no 5xx, no write accepted without the token."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from atp.api.server import serve
from atp.store.models import AuditLogRow, WatchlistRow
from tests.integration.api.conftest import API_TOKEN, Api

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
RUN_TIMEOUT_S = 120


async def test_serve_binds_an_ephemeral_port_and_stops(api: Api) -> None:
    server = await serve(api.app, "127.0.0.1", 0)
    try:
        assert server.port > 0
        async with httpx.AsyncClient(base_url=server.url) as client:
            body = (await client.get("/api/health")).json()
            assert body["status"] == "ok"
            page = await client.get("/")
            assert page.status_code == 200 and "ATP" in page.text
    finally:
        await server.stop()
    assert server.task.done()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=server.url) as client:
            await client.get("/api/health")


async def _schemathesis(url: str, tmp: Path, *extra: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{url}/openapi.json", "--checks", "not_a_server_error",
        "--max-examples", "12", "--seed", "1", "--no-shrink", "--workers", "1",
        "--phases", "examples,coverage,fuzzing", "--request-timeout", "10",
        "--suppress-health-check", "all", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
async def test_schemathesis_finds_no_server_error_and_no_open_write(api: Api,
                                                                    tmp_path: Path) -> None:
    server = await serve(api.app, "127.0.0.1", 0)
    try:
        code, out = await _schemathesis(server.url, tmp_path)
        assert code == 0, out[-6000:]
        # without the token nothing changed: no audit row, the watchlist as seeded
        with api.platform.db.sessions() as session:
            assert session.scalar(select(func.count(AuditLogRow.id))) == 0
            assert session.scalar(select(func.count(WatchlistRow.id))) == 3
        code, out = await _schemathesis(
            server.url, tmp_path, "--header", f"Authorization: Bearer {API_TOKEN}",
            "--checks", "ignored_auth",
        )
        assert code == 0, out[-6000:]
    finally:
        await server.stop()
