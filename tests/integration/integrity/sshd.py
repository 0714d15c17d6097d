"""A real OpenSSH server on loopback with its own config, keys and port (no system
state touched besides /run/sshd, which sshd insists on). Used by the SSH tests and by
bench/check_speed.py."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def available() -> bool:
    return Path(SSHD).exists() and shutil.which("ssh") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackSshd:
    alias = "atp-test-host"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.client_config = root / "ssh_config"
        self._proc: subprocess.Popen[bytes] | None = None

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
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {r / 'host_key'}\n"
            f"AuthorizedKeysFile {r / 'authorized_keys'}\nPidFile {r / 'sshd.pid'}\n"
            "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "AllowStreamLocalForwarding yes\nAllowTcpForwarding yes\nLogLevel ERROR\n")
        self.client_config.write_text(
            f"Host {self.alias}\n  HostName 127.0.0.1\n  Port {self.port}\n"
            f"  User {getpass.getuser()}\n  IdentityFile {r / 'client_key'}\n"
            "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
        self._proc = subprocess.Popen([SSHD, "-D", "-f", str(r / "sshd_config"),
                                       "-E", str(r / "sshd.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # readiness: the port accepts
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"sshd did not start: {(r / 'sshd.log').read_text()}")

    @property
    def ssh_option(self) -> str:
        return f"-F {self.client_config}"

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None
