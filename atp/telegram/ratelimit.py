"""Telegram's send limits as a pure calculation: ≈1 message/s per chat, 30/s overall.

No sleeping and no clock of its own: the caller injects a monotonic clock and sleeps for
whatever `try_acquire` returns, so tests drive it with a fake clock and no waiting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable


class RateLimiter:
    """Sliding-window limiter: per-chat spacing plus a global count per window.

    Usage (one event loop, so check-and-record cannot interleave):

        while (wait := limiter.try_acquire(chat_id)) > 0:
            await asyncio.sleep(wait)
        await sender.send(chat_id, text)
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_chat_interval: float = 1.0,
        global_limit: int = 30,
        global_window: float = 1.0,
    ) -> None:
        if per_chat_interval < 0 or global_limit < 1 or global_window <= 0:
            raise ValueError("intervals must be >= 0 and the global limit >= 1")
        self._clock = clock
        self.per_chat_interval = per_chat_interval
        self.global_limit = global_limit
        self.global_window = global_window
        self._recent: deque[float] = deque()  # send times inside the global window
        self._last: dict[Hashable, float] = {}  # last send time per chat

    def wait_time(self, chat_id: Hashable) -> float:
        """Seconds until a message to `chat_id` may go; 0.0 means now. Records nothing."""
        now = self._clock()
        self._expire(now)
        wait = 0.0
        last = self._last.get(chat_id)
        if last is not None:
            wait = max(wait, last + self.per_chat_interval - now)
        if len(self._recent) >= self.global_limit:
            oldest_that_blocks = self._recent[len(self._recent) - self.global_limit]
            wait = max(wait, oldest_that_blocks + self.global_window - now)
        return max(0.0, wait)

    def try_acquire(self, chat_id: Hashable) -> float:
        """Record a send to `chat_id` now and return 0.0, or return how long to wait."""
        wait = self.wait_time(chat_id)
        if wait > 0:
            return wait
        now = self._clock()
        self._recent.append(now)
        self._last[chat_id] = now
        return 0.0

    def _expire(self, now: float) -> None:
        while self._recent and self._recent[0] <= now - self.global_window:
            self._recent.popleft()
        if len(self._last) > 4096:  # forget chats idle for longer than their interval
            cutoff = now - self.per_chat_interval
            self._last = {c: t for c, t in self._last.items() if t > cutoff}
