"""Tracked background tasks: none is created without an owner that awaits or reports it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

ErrorHandler = Callable[[str, BaseException], None]


class TaskGroup:
    """Keeps strong references to its tasks, reports their crashes, and cancels them on close.

    asyncio only keeps weak references to tasks, so an untracked task can vanish mid-flight and
    its exception is only logged at garbage collection, if ever.
    """

    def __init__(self, name: str, on_error: ErrorHandler | None = None) -> None:
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self._name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s crashed", task.get_name(), exc_info=exc)
            if self._on_error is not None:
                self._on_error(task.get_name(), exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
