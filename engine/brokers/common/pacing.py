"""A request budget shared by everything an adapter asks its broker, orders first."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections import deque
from enum import IntEnum

# Queries (listings, polls, bars) may use this share of the budget; the rest is kept for
# orders, so a busy poller never makes an order wait for a slot.
QUERY_SHARE = 0.7


class Priority(IntEnum):
    ORDER = 0  # placing and cancelling: a query never delays these
    QUERY = 1  # listings, balances, condition polls, bars


class Pacer:
    """At most `rate` requests a second, counted over a sliding window as brokers count them.
    Queries may fill only QUERY_SHARE of a window; orders may use all of it and go ahead of
    queries already waiting. So while polls run, an order still finds a free slot at once."""

    def __init__(self, rate: float, query_share: float = QUERY_SHARE) -> None:
        self.rate = rate
        if rate > 0:
            # One second, or longer for budgets under one request a second (0.5/s: 1 per 2 s).
            self.window = max(1.0, 1.0 / rate)
            self.capacity = max(1, math.floor(rate * self.window + 1e-9))
            # With a single slot there is nothing to keep back: orders then only go first.
            self.query_capacity = (
                self.capacity if self.capacity == 1 else max(1, math.floor(self.capacity * query_share))
            )
        self._sent: deque[float] = deque()  # grant times inside the window
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.granted = {Priority.ORDER: 0, Priority.QUERY: 0}

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiters if not fut.done())

    async def wait(self, priority: Priority = Priority.QUERY) -> None:
        if self.rate <= 0:
            self.granted[priority] += 1
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), fut))
        self._release(loop)
        await fut  # a cancelled waiter is skipped when its turn comes
        self.granted[priority] += 1

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = loop.time()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        while self._waiters:
            priority, _, fut = self._waiters[0]
            if fut.done():
                heapq.heappop(self._waiters)
                continue
            room = self.capacity if priority == Priority.ORDER else self.query_capacity
            if len(self._sent) >= room:
                break
            heapq.heappop(self._waiters)
            self._sent.append(now)
            fut.set_result(None)
        if self._waiters and self._sent:
            # The next slot opens when the oldest grant leaves the window.
            self._timer = loop.call_at(self._sent[0] + self.window, self._release, loop)
