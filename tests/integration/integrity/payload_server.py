"""A real HTTP server answering the recorded API payloads, their timestamps moved to
now, so remote-transport tests (SSH) exercise the checks end to end without a platform."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from atp.integrity.sources.http import parse_time
from tests.unit.integrity.fakes import load


def shifted(payloads: dict[str, Any]) -> dict[str, Any]:
    """Every ISO timestamp moved by (now - recorded now)."""
    then = parse_time(payloads["now"])
    assert then is not None
    delta = datetime.now(UTC) - then

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
            at = parse_time(value)
            return value if at is None else (at + delta).isoformat()
        return value

    return walk(payloads)  # type: ignore[no-any-return]


class PayloadServer:
    def __init__(self, name: str = "healthy") -> None:
        self.payloads = shifted(load(name))
        payloads = self.payloads

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                data = payloads.get(url.path)
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                query = parse_qs(url.query)
                if isinstance(data, list) and "type" in query:
                    kinds = set(query["type"][0].split(","))
                    data = [r for r in data if r.get("type") in kinds]
                if isinstance(data, list) and "decision" in query:
                    kinds = set(query["decision"][0].split(","))
                    data = [r for r in data if r.get("decision") in kinds]
                if isinstance(data, list) and query.get("offset", ["0"])[0] != "0":
                    data = []
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> PayloadServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
