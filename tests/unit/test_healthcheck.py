"""The image's HEALTHCHECK (`python -m atp.healthcheck`): healthy only on `ok`, against a
real HTTP server answering like /api/health."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from atp.healthcheck import health_url, main


@pytest.fixture()
def backend() -> Iterator[dict[str, object]]:
    answer: dict[str, object] = {"status": "ok", "reason": "monitor cycling"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answer).encode() if self.path == "/api/health" else b"{}"
            self.send_response(200 if self.path == "/api/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    answer["port"] = server.server_address[1]
    yield answer
    server.shutdown()
    server.server_close()


def env(answer: dict[str, object]) -> dict[str, str]:
    return {"API_HOST": "0.0.0.0", "API_PORT": str(answer["port"])}


def test_ok_is_healthy(backend: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(env(backend)) == 0
    assert capsys.readouterr().out.strip() == "ok: monitor cycling"


@pytest.mark.parametrize("status", ["down", "degraded"])
def test_down_and_degraded_are_unhealthy(backend: dict[str, object], status: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    backend.update(status=status, reason="database unreachable: OperationalError")
    assert main(env(backend)) == 1
    assert capsys.readouterr().out.strip() == f"{status}: database unreachable: OperationalError"


def test_no_backend_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert main({"API_PORT": str(port)}, timeout=2) == 1
    assert "not answering" in capsys.readouterr().out


def test_url_follows_api_host_and_port() -> None:
    assert health_url({}) == "http://127.0.0.1:8002/api/health"
    assert health_url({"API_HOST": "10.0.0.5", "API_PORT": "9000"}) == \
        "http://10.0.0.5:9000/api/health"
    assert health_url({"API_HOST": "::1"}) == "http://[::1]:8002/api/health"
