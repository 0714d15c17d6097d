"""Who may poll: a lease, so two instances on one token never fight over getUpdates.

The production lease lives in the database (store); `InMemoryLease` is the same contract
for tests and single-process runs. Instances sharing a `LeaseBoard` compete for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Lease(Protocol):
    """A renewable, expiring right to poll. Each method answers for this instance only."""

    async def acquire(self) -> bool:
        """Take the lease if free, expired or already ours; True when we hold it."""
        ...

    async def renew(self) -> bool:
        """Extend our lease; False when it was lost (expired and taken by another)."""
        ...

    async def release(self) -> None:
        """Give the lease up if we hold it, so another instance can poll at once."""
        ...


@dataclass
class LeaseBoard:
    """The shared record: who holds the lease and until when (monotonic seconds)."""

    holder: str | None = None
    expires_at: float = 0.0


class InMemoryLease:
    """`Lease` over a `LeaseBoard` in memory; time comes from an injected clock."""

    def __init__(
        self,
        owner: str,
        board: LeaseBoard | None = None,
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.owner = owner
        self.board = board if board is not None else LeaseBoard()
        self.ttl = ttl
        self._clock = clock

    @property
    def holder(self) -> str | None:
        b = self.board
        return b.holder if b.holder is not None and b.expires_at > self._clock() else None

    async def acquire(self) -> bool:
        now = self._clock()
        b = self.board
        if b.holder in (None, self.owner) or b.expires_at <= now:
            b.holder, b.expires_at = self.owner, now + self.ttl
            return True
        return False

    async def renew(self) -> bool:
        now = self._clock()
        b = self.board
        if b.holder == self.owner and b.expires_at > now:
            b.expires_at = now + self.ttl
            return True
        return False

    async def release(self) -> None:
        if self.board.holder == self.owner:
            self.board.holder, self.board.expires_at = None, 0.0
