"""What every fake broker server shares: an aiohttp app on 127.0.0.1 (port 0: the system picks
one), a tape task that prints trades, background tasks tracked and cancelled at stop, and
injected delays that end at once when the server stops (a stopping test never waits them out).

A fake subclasses it and says only what differs: its routes, its middleware, its tape, and
how it closes its websockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeServer(ABC):
    ws_path = ""  # appended to ws_url
    tape_name = "fake-tape"

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tick_task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}{self.ws_path}"

    @abstractmethod
    def add_routes(self, router: web.UrlDispatcher) -> None: ...

    @abstractmethod
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse: ...

    @abstractmethod
    async def _tick_loop(self) -> None: ...

    async def close_sockets(self) -> None:
        """Close the websockets the fake holds (before its background tasks are cancelled)."""

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._middleware])
        self.add_routes(app.router)
        self._closing.clear()
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._port = self._runner.addresses[0][1]
        self._tick_task = asyncio.create_task(self._tick_loop(), name=self.tape_name)

    async def stop(self) -> None:
        self._closing.set()  # wakes handlers sleeping on an injected delay
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        await self.close_sockets()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def sleep(self, seconds: float) -> None:
        """An injected delay: `seconds`, or until the server stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
