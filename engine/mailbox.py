"""A per-symbol mailbox cheaper than asyncio.Queue: a deque plus one waiter future.

The feed puts ticks from the socket's read loop; the symbol's task takes everything waiting in
one call, so a burst costs one wake-up instead of one per tick.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._items)

    async def take_all(self) -> list[T]:
        """Wait until something is there, then return all of it (oldest first)."""
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        items = list(self._items)
        self._items.clear()
        return items
