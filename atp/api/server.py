"""Serve the app with uvicorn inside the platform's own event loop.

One process, one loop: the API reads the monitor's memory (`monitor.latest`, counters)
directly, and /api/health is answered between two chunks of a cycle (the monitor yields
every 20 symbols; database work runs in a thread). Signal handling stays with the caller
(`atp run` / `atp demo`), which stops the server with `stop()`.

    server = await serve(create_app(platform), "127.0.0.1", 8002)
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT_S = 10.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT / SIGTERM to the embedding program."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class ApiServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let open requests finish (bounded), then return."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8002, *,
                log_level: str = "warning", access_log: bool = False) -> ApiServer:
    """Bind `host:port` (0 = any free port), start serving, return once it accepts.

    Binding happens here, so "address already in use" is raised to the caller at once
    instead of surfacing later inside a background task.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only for
    # sockets whose proto says TCP; with proto 0, Nagle + delayed ACK add ~40 ms a reply.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="off",
                            loop="none", timeout_graceful_shutdown=3)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="atp-api")
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    while not server.started:  # a condition, polled briefly: uvicorn offers no event
        if task.done():
            sock.close()
            task.result()  # raises what stopped it
            raise RuntimeError("the API server stopped during start-up")
        if asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the API server did not start within {STARTUP_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.005)
    return ApiServer(server, task, host, bound_port)
