"""A request budget shared by everything an adapter asks its broker, orders first."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from enum import IntEnum


class Priority(IntEnum):
    ORDER = 0  # placing and cancelling: a query never delays these
    QUERY = 1  # listings, balances, condition polls, bars


class Pacer:
    """At most `rate` requests a second. Waiting orders take the next slot ahead of waiting
    queries, so a busy poller costs an order at most one slot, never a queue of them."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.granted = {Priority.ORDER: 0, Priority.QUERY: 0}

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiters if not fut.done())

    async def wait(self, priority: Priority = Priority.QUERY) -> None:
        if not self.interval:
            self.granted[priority] += 1
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), fut))
        self._schedule(loop)
        await fut  # a cancelled waiter is skipped when its turn comes
        self.granted[priority] += 1

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None and self._waiters:
            self._timer = loop.call_at(max(loop.time(), self._next), self._release, loop)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        while self._waiters:
            *_, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                self._next = loop.time() + self.interval
                break
        self._schedule(loop)
