"""A per-symbol mailbox cheaper than asyncio.Queue: a list plus one waiter future.

The feed puts ticks from the socket's read loop; the symbol's task takes everything waiting in
one call, so a burst costs one wake-up instead of one per tick.

Hot path (engine.bench.feed): the consumer takes the list itself and a new one starts (no
copy), waits on a future returned by `wait()` (no coroutine per wake-up), and the loop is
looked up once per mailbox rather than per wait (on Python 3.11 `get_running_loop()` makes a
getpid() system call).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    __slots__ = ("_items", "_loop", "_waiter")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def put(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def __len__(self) -> int:
        return len(self._items)

    def take(self) -> list[T]:
        """Everything waiting now, oldest first (an empty list when nothing is)."""
        items = self._items
        if items:
            self._items = []
        return items

    def wait(self) -> asyncio.Future[None]:
        """A future done at the next put. Awaiting it straight from the consumer's loop, rather
        than through a coroutine, saves a coroutine object and a frame per wake-up."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        return waiter
