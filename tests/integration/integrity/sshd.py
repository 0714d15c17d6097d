"""A real OpenSSH server on loopback with its own config, keys and port (no system
state touched besides /run/sshd, which sshd insists on). Used by the SSH tests and by
bench/check_speed.py.

sshd cannot bind port 0 and report it, so this module binds the listening socket itself
(port 0) and runs `sshd -i` (inetd mode) on each accepted connection: the real server,
no free-port guess that another process could take between the guess and the bind.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> bool:
    return Path(SSHD).exists() and shutil.which("ssh") is not None


class LoopbackSshd:
    alias = "atp-test-host"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.client_config = root / "ssh_config"
        self._sessions: list[subprocess.Popen[bytes]] = []
        self._acceptor: threading.Thread | None = None

    def start(self) -> LoopbackSshd:
        r = self.root
        r.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(r / name)],
                           check=True)
        shutil.copy(r / "client_key.pub", r / "authorized_keys")
        os.chmod(r / "authorized_keys", 0o600)
        (r / "sshd_config").write_text(
            f"HostKey {r / 'host_key'}\n"
            f"AuthorizedKeysFile {r / 'authorized_keys'}\nPidFile {r / 'sshd.pid'}\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "AllowStreamLocalForwarding yes\nAllowTcpForwarding yes\nLogLevel ERROR\n")
        self.client_config.write_text(
            f"Host {self.alias}\n  HostName 127.0.0.1\n  Port {self.port}\n"
            f"  User {getpass.getuser()}\n  IdentityFile {r / 'client_key'}\n"
            "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
        argv = [SSHD, "-i", "-f", str(r / "sshd_config"), "-E", str(r / "sshd.log")]
        check = subprocess.run([SSHD, "-t", "-f", str(r / "sshd_config")],
                               capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejects its config: {check.stderr.strip()}")
        self._acceptor = threading.Thread(target=self._accept, args=(argv,), daemon=True,
                                          name="loopback-sshd")
        self._acceptor.start()
        return self

    def _accept(self, argv: list[str]) -> None:
        """One `sshd -i` per connection, the connection as its stdin and stdout."""
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # the listener was closed: stop()
                return
            with conn:
                self._sessions.append(subprocess.Popen(argv, stdin=conn, stdout=conn))

    @property
    def ssh_option(self) -> str:
        return f"-F {self.client_config}"

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # wakes the acceptor's accept() (close does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        for proc in self._sessions:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=10)
        self._sessions.clear()
