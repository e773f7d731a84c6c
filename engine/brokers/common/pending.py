"""Requests sent over a socket whose answer arrives later as a frame (an ack, a refusal)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PendingRequests(Generic[K, V]):
    """Each key waits for one answer. Offline sends and unanswered ones give None: the
    registration they carried is replayed on the next connection, so the caller goes on."""

    def __init__(self, venue: str, timeout: float = 5.0) -> None:
        self.venue = venue
        self.timeout = timeout
        self._waiting: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    async def request(self, key: K, send: Callable[[], Awaitable[bool]]) -> V | None:
        """`send` returns False when there is no connection to send on."""
        fut: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting[key] = fut
        try:
            if not await send():
                return None
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives as
            # the answer does, and a stopping engine then waited forever for this request
            async with asyncio.timeout(self.timeout):
                return await fut
        except TimeoutError:
            log.warning("%s: no answer to %s within %.0fs", self.venue, key, self.timeout)
            return None
        finally:
            if self._waiting.get(key) is fut:
                del self._waiting[key]

    def resolve(self, key: K, value: V) -> bool:
        fut = self._waiting.pop(key, None)
        if fut is None or fut.done():
            return False
        fut.set_result(value)
        return True

    def fail(self, key: K, error: BaseException) -> bool:
        fut = self._waiting.pop(key, None)
        if fut is None or fut.done():
            return False
        fut.set_exception(error)
        return True

    def oldest(self, matches: Callable[[K], bool]) -> K | None:
        """The longest-waiting key that `matches`: for answers that do not name their request
        (the broker answers in order)."""
        return next((key for key in self._waiting if matches(key)), None)

    def cancel_all(self) -> None:
        for fut in self._waiting.values():
            fut.cancel()
        self._waiting.clear()
