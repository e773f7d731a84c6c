"""The one realtime connection of an adapter: connect, register everything, read until it
drops, say so, back off, and do it all again.

Registrations live here, not in the broker's memory: after any drop the new connection gets
every one of them back, in the order they were made, before data is trusted to flow. Adapters
differ only in how a session is opened, registered and read (`_session`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence

from engine.backoff import Backoff

log = logging.getLogger(__name__)

ConnectionHandler = Callable[[bool, str], None]


class Silence(Exception):
    """Nothing arrived for longer than the broker's heartbeat allows: a dead socket that TCP
    has not noticed yet, and a feed that silently stopped is worse than a reconnect."""


class ReconnectingStream(ABC):
    venue = "the broker"
    # Connection failures a retry can cure; anything else is a bug and ends the stream.
    transient: tuple[type[BaseException], ...] = (OSError, TimeoutError, Silence)

    def __init__(
        self,
        url: str,
        on_connection: ConnectionHandler,
        delays: Sequence[float] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
        silence_timeout: float = 60.0,
    ) -> None:
        self.url = url
        self._on_connection = on_connection
        self._backoff = Backoff(delays)
        self.silence_timeout = silence_timeout
        # Ordered: replayed in the order made (a broker may need the account channel first).
        self.registrations: dict[Hashable, None] = {}
        self.connects = 0
        self._live = False
        self._connected = asyncio.Event()
        self.last_frame = time.monotonic()

    @property
    def connected(self) -> bool:
        return self._live

    async def wait_connected(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def heard(self) -> None:
        """A frame arrived: the connection is alive."""
        self.last_frame = time.monotonic()

    def opened(self) -> None:
        """Called by `_session` once registrations are sent: from here the connection counts."""
        self._live = True
        self.connects += 1
        self._connected.set()
        self._backoff.reset()
        self.heard()
        self._on_connection(True, f"connected to {self.url}")

    @abstractmethod
    async def _session(self) -> str:
        """Connect, send every registration, call `opened()`, read until the connection ends;
        returns why it ended, in words."""

    async def watch_silence(self, close: Callable[[str], None]) -> None:
        """Run beside a session: closes it (with the reason) when nothing has arrived for
        `silence_timeout` seconds."""
        self.heard()
        while True:
            await asyncio.sleep(self.silence_timeout / 3)
            if time.monotonic() - self.last_frame > self.silence_timeout:
                log.warning("%s: no frame for %.0fs; reconnecting", self.venue, self.silence_timeout)
                close(f"no frame for {self.silence_timeout:.0f}s (heartbeat timeout)")
                return

    async def run(self) -> None:
        """Forever: a session, then a pause that grows with each failure in a row."""
        while True:
            try:
                reason = await self._session()
            except asyncio.CancelledError:
                raise
            except self.transient as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            finally:
                was_live, self._live = self._live, False
                self._connected.clear()
            if was_live:
                self._on_connection(False, reason)
            else:
                log.info("%s: connect failed (%s); retrying", self.venue, reason)
            await self._backoff.wait()
