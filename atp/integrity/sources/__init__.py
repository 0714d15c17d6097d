"""What an operator can reach: the HTTP API, log files, the Docker Engine, SSH."""

from __future__ import annotations


class SourceUnavailable(Exception):
    """A source could not be read; the checks that need it report `unknown`, not crash."""

    def __init__(self, source: str, reason: str, http_status: int | None = None) -> None:
        """`http_status`: the answer's status when the source did answer (a 404 tells an
        older target without that endpoint from one that is down)."""
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.http_status = http_status
