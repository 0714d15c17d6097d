"""A real HTTP proxy with basic auth (the `proxy.py` package) for the exchange's proxy path.

Run as a subprocess on loopback so its worker processes and threads never share the test's
event loop; `url` embeds the credentials the way ATP's EXCHANGE_PROXY_URL does, and
`url_with(user, password)` builds a deliberately wrong one (407 from the proxy).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote


class ProxyStartError(RuntimeError):
    pass


class AuthProxy:
    """`proxy.py` listening on host:port (0 = ephemeral), requiring user:password."""

    def __init__(
        self,
        user: str = "atp",
        password: str = "proxy-pass",
        host: str = "127.0.0.1",
        port: int = 0,
        auth: bool = True,
    ) -> None:
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.auth = auth
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self, timeout: float = 15.0) -> str:
        """Start the proxy and wait until it accepts connections; returns `url`."""
        self._dir = tempfile.TemporaryDirectory(prefix="atp-proxy-")
        port_file = Path(self._dir.name) / "port"
        args = [
            sys.executable, "-m", "proxy", "--hostname", self.host, "--port", str(self.port),
            "--port-file", str(port_file), "--num-workers", "1", "--num-acceptors", "1",
            "--log-level", "ERROR", "--log-file", str(Path(self._dir.name) / "proxy.log"),
            "--pid-file", str(Path(self._dir.name) / "pid"),
        ]
        if self.auth:
            args += ["--basic-auth", f"{self.user}:{self.password}"]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ProxyStartError(f"proxy.py exited with code {self._proc.returncode}")
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit() and self._accepts(int(text)):
                self.port = int(text)
                return self.url
            time.sleep(0.05)
        self.stop()
        raise ProxyStartError("proxy.py did not start listening in time")

    def _accepts(self, port: int) -> bool:
        import socket

        with contextlib.suppress(OSError), socket.create_connection((self.host, port), 0.2):
            return True
        return False

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    @property
    def plain_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        if not self.auth:
            return self.plain_url
        return self.url_with(self.user, self.password)

    def url_with(self, user: str, password: str) -> str:
        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}"

    def __enter__(self) -> AuthProxy:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
