"""The container's HEALTHCHECK: `python -m atp.healthcheck` exits 0 only when the local
backend's `/api/health` answers `ok`.

Standard library only and no settings validation, so it costs ~50 ms every interval and
works in an image without curl. `down` and `degraded` (database or exchange unreachable,
no monitor cycle for too long) are unhealthy: that is what `docker ps` and the `containers`
check show an operator. Reads API_HOST / API_PORT from the environment, as `atp run` does.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

WILDCARD = {"", "0.0.0.0", "::", "[::]"}


def health_url(env: dict[str, str]) -> str:
    """Where the backend of this container listens (a wildcard bind answers on loopback)."""
    host = env.get("API_HOST", "127.0.0.1").strip()
    if host in WILDCARD:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = env.get("API_PORT", "8002").strip() or "8002"
    return f"http://{host}:{port}/api/health"


def verdict(body: bytes) -> tuple[bool, str]:
    """(healthy, the line `docker inspect` shows) from a /api/health answer."""
    try:
        doc = json.loads(body)
        status, reason = str(doc["status"]), str(doc.get("reason", ""))
    except (ValueError, KeyError, TypeError):
        return False, "health answer is not the expected JSON"
    return status == "ok", f"{status}: {reason}"


def main(env: dict[str, str] | None = None, timeout: float = 4.0) -> int:
    url = health_url(dict(os.environ) if env is None else env)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            ok, line = verdict(answer.read())
    except (urllib.error.URLError, OSError) as exc:
        ok, line = False, f"{url} not answering: {getattr(exc, 'reason', exc)}"
    print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
