"""SSH to the backend's host through the system `ssh` client (so `~/.ssh/config` aliases,
keys, agents and jump hosts work as the operator set them up).

One master connection carries everything: a forward of the backend's HTTP port, a
forward of the host's Docker Engine socket, and (through the control socket) the
commands that read the log, so a remote check pays for one SSH handshake. Both forwards
end in Unix sockets in a private temp dir: no local TCP port to pick, none to race for.
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from atp.integrity.sources import SourceUnavailable

CONNECT_TIMEOUT_S = 10.0


class SshTunnel:
    def __init__(
        self,
        host: str,
        remote_url: str,
        *,
        remote_docker_socket: str | None = "/var/run/docker.sock",
        ssh_args: list[str] | None = None,
        ssh_binary: str = "ssh",
    ) -> None:
        self.host = host
        self.remote_url = remote_url
        self.remote_docker_socket = remote_docker_socket
        self.ssh_args = list(ssh_args or [])
        self.ssh = ssh_binary
        self._dir = tempfile.TemporaryDirectory(prefix="atp-ssh-")
        self.control = str(Path(self._dir.name) / "ctl")
        self.docker_socket = str(Path(self._dir.name) / "docker.sock")
        # The backend's HTTP API, forwarded: connect here with `local_url` as the URL.
        self.http_socket = str(Path(self._dir.name) / "http.sock")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def local_url(self) -> str:
        """The backend's URL as seen through `http_socket` (host part for the header)."""
        parts = urlsplit(self.remote_url)
        return urlunsplit(("http", parts.netloc or "127.0.0.1", parts.path, "", ""))

    @property
    def docker_url(self) -> str | None:
        return f"unix://{self.docker_socket}" if self.remote_docker_socket else None

    def _base(self) -> list[str]:
        return [self.ssh, *self.ssh_args, "-o", "BatchMode=yes",
                "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S:.0f}"]

    def open(self) -> SshTunnel:
        parts = urlsplit(self.remote_url)
        rhost = parts.hostname or "127.0.0.1"
        rport = parts.port or (443 if parts.scheme == "https" else 80)
        argv = [*self._base(), "-N", "-M", "-S", self.control,
                "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
                "-L", f"{self.http_socket}:{rhost}:{rport}"]
        if self.remote_docker_socket:
            argv += ["-L", f"{self.docker_socket}:{self.remote_docker_socket}"]
        argv.append(self.host)
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SourceUnavailable("ssh", f"cannot run {self.ssh}: {exc.strerror}") from None
        deadline = time.monotonic() + CONNECT_TIMEOUT_S + 2
        while time.monotonic() < deadline:  # readiness poll, not a timed wait
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode("utf-8", "replace").strip() \
                    if self._proc.stderr else ""
                self._proc = None
                raise SourceUnavailable("ssh", f"ssh {self.host} failed: {err[-300:]}")
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(0.2)
                probe.connect(self.http_socket)
                return self
            time.sleep(0.02)
        self.close()
        raise SourceUnavailable("ssh", f"ssh {self.host}: no tunnel within "
                                f"{CONNECT_TIMEOUT_S:.0f} s")

    def command(self, remote: list[str]) -> list[str]:
        """argv running `remote` on the host over the master connection."""
        return [*self._base(), "-S", self.control, self.host, shlex.join(remote)]

    def read_file(self, path: str) -> str | None:
        """A small remote file (a compose file), or None when it cannot be read."""
        done = subprocess.run(self.command(["cat", path]), capture_output=True, timeout=15,
                              check=False)
        return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None

    def close(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stderr:
                self._proc.stderr.close()
            self._proc = None
        self._dir.cleanup()

    def __enter__(self) -> SshTunnel:
        return self.open()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
