"""The scaffolding of an adapter with one REST session and one realtime stream: start (auth
first, then the socket and any workers), stop, the connection state, and delivery to the sink.
An adapter supplies `_open` (what must work before anything runs) and its frame handling."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Coroutine
from typing import Any

from engine.brokers.base import Broker, BrokerSink, ConditionChange
from engine.brokers.common.stream import ReconnectingStream
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)


class StreamingBroker(Broker):
    stream: ReconnectingStream
    connect_timeout = 15.0

    def __init__(self) -> None:
        self._sink: BrokerSink | None = None
        self._tasks = TaskGroup(self.name)
        self.bad_frames = 0

    @abstractmethod
    async def _open(self) -> None:
        """Open the REST session and check what must work before anything runs (credentials,
        the account): a failure here is the start-up's, said to the user."""

    async def _close(self) -> None:
        """Close what `_open` opened."""

    def _workers(self) -> dict[str, Coroutine[Any, Any, None]]:
        """Background loops to run beside the socket (e.g. a condition poller)."""
        return {}

    async def start(self, sink: BrokerSink) -> None:
        self._sink = sink
        await self._open()
        self._tasks.spawn(self.stream.run(), "websocket")
        for name, work in self._workers().items():
            self._tasks.spawn(work, name)
        try:
            await self.stream.wait_connected(self.connect_timeout)
        except TimeoutError:
            log.warning("%s websocket not connected yet; it keeps retrying", self.name)

    async def stop(self) -> None:
        await self._tasks.close()
        await self._close()

    @property
    def connected(self) -> bool:
        return self.stream.connected

    def _on_connection(self, connected: bool, detail: str) -> None:
        if self._sink is not None:
            self._sink.on_connection(connected, detail)

    def _on_bad_frame(self, detail: str) -> None:
        # Counted and said, never fatal: one odd frame must not stop the feed.
        self.bad_frames += 1
        log.warning("%s frame ignored: %s", self.name, detail)

    def _deliver_condition(self, change: ConditionChange) -> None:
        if self._sink is not None:
            self._sink.on_condition(change)
