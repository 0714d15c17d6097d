"""A real dockerd in a temp dir (own data root, exec root and socket; no bridge, no
iptables), and a busybox image built `FROM scratch` offline. Started and stopped by the
tests that use it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

IMAGE = "atp-test-busybox"


def available() -> bool:
    return shutil.which("dockerd") is not None and Path("/bin/busybox").exists() \
        and os.geteuid() == 0


class LoopbackDockerd:
    def __init__(self, root: Path, data_root: Path | None = None) -> None:
        """`data_root` outside `root` keeps images across runs (the compose test's cache;
        its caller serialises the runs that share it)."""
        self.root = root
        self.data_root = data_root or root / "data"
        self.socket = root / "docker.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> LoopbackDockerd:
        r = self.root
        self._proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.data_root), "--exec-root", str(r / "exec"),
             "-H", self.url, "--pidfile", str(r / "docker.pid"), "--bridge=none",
             "--iptables=false"],
            stdout=(r / "dockerd.log").open("wb"), stderr=subprocess.STDOUT)
        import docker

        deadline = time.monotonic() + 30
        while True:  # readiness: the Engine answers ping
            try:
                docker.DockerClient(base_url=self.url, timeout=5).ping()
                break
            except Exception:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise RuntimeError((r / "dockerd.log").read_text()[-2000:]) from None
                time.sleep(0.05)
        ctx = r / "image"
        ctx.mkdir(exist_ok=True)
        shutil.copy("/bin/busybox", ctx / "busybox")
        (ctx / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\n'
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n')
        client = docker.DockerClient(base_url=self.url, timeout=60)
        client.images.build(path=str(ctx), tag=IMAGE, rm=True)
        client.close()
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        import docker

        client = docker.DockerClient(base_url=self.url, timeout=10)
        for c in client.containers.list(all=True):
            c.remove(force=True)
        client.close()
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        # dockerd leaves its network-namespace mounts behind; unmount them so the temp
        # dir can be removed (the tests stop what they started, mounts included).
        for mount in sorted((self.root / "exec").rglob("*"), reverse=True):
            if os.path.ismount(mount):
                subprocess.run(["umount", "-l", str(mount)], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
