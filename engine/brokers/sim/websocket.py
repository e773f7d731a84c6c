"""The one realtime connection to the sim: connect, replay registrations, read, reconnect.

Registrations live here (not in the server's memory), so after any drop the new socket gets
every symbol, condition and the account channel back before data flows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import websockets
from websockets.asyncio.client import ClientConnection

from engine.brokers.sim import codec

log = logging.getLogger(__name__)

FrameHandler = Callable[[str | bytes], None]
ConnectionHandler = Callable[[bool, str], None]


class SimStream:
    def __init__(self, url: str, on_frame: FrameHandler, on_connection: ConnectionHandler,
                 heartbeat_timeout: float = 15.0) -> None:
        self._url = url
        self._on_frame = on_frame
        self._on_connection = on_connection
        self._heartbeat_timeout = heartbeat_timeout
        self._ws: ClientConnection | None = None
        self.symbols: set[str] = set()
        self.conditions: set[str] = set()
        self.account = False
        self.connects = 0
        self._last_frame = time.monotonic()
        self._connected = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, frame: bytes) -> bool:
        """Send now if connected; False when not (the registration replays on reconnect)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(frame.decode())
        except websockets.ConnectionClosed:
            return False
        return True

    def _registrations(self) -> list[bytes]:
        frames = []
        if self.account:
            frames.append(codec.account_subscribe())
        if self.symbols:
            frames.append(codec.subscribe(sorted(self.symbols)))
        frames.extend(codec.condition_subscribe(name) for name in sorted(self.conditions))
        return frames

    async def run(self) -> None:
        """Forever: connect, replay registrations, pump frames; back off after failures."""
        backoff = 0.1
        while True:
            try:
                async with websockets.connect(self._url, max_size=None, ping_interval=20,
                                              ping_timeout=20, compression=None) as ws:
                    for frame in self._registrations():
                        await ws.send(frame.decode())
                    self._ws = ws
                    self.connects += 1
                    self._connected.set()
                    backoff = 0.1
                    self._on_connection(True, f"connected to {self._url}")
                    await self._pump(ws)
                    reason = "the exchange closed the connection"
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                was_connected = self._ws is not None
                self._ws = None
                self._connected.clear()
            if was_connected:
                self._on_connection(False, reason)
            else:
                log.info("sim websocket connect failed (%s); retrying in %.1fs", reason, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _pump(self, ws: ClientConnection) -> None:
        watchdog = asyncio.get_running_loop().create_task(self._watch(ws))
        try:
            async for frame in ws:
                self._last_frame = time.monotonic()
                self._on_frame(frame)
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)

    async def _watch(self, ws: ClientConnection) -> None:
        # The sim sends a heartbeat every few seconds: silence means a dead socket that TCP has
        # not noticed yet, and a feed that silently stopped is worse than a reconnect.
        self._last_frame = time.monotonic()
        while True:
            await asyncio.sleep(self._heartbeat_timeout / 3)
            if time.monotonic() - self._last_frame > self._heartbeat_timeout:
                log.warning("no frame for %.0fs: reconnecting", self._heartbeat_timeout)
                await ws.close(code=4000, reason="heartbeat timeout")
                return
