"""What an operator can reach: the HTTP API, log files, the Docker Engine, SSH."""

from __future__ import annotations


class SourceUnavailable(Exception):
    """A source could not be read; the checks that need it report `unknown`, not crash."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
