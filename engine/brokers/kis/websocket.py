"""The one KIS realtime connection: register (approval key in every message), read, answer
PINGPONG; reconnecting and registering everything again is the shared stream's."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import websockets
from websockets.asyncio.client import ClientConnection

from engine.brokers.common.stream import ConnectionHandler
from engine.brokers.common.wsstream import WebsocketStream
from engine.brokers.kis import codec

log = logging.getLogger(__name__)

FrameHandler = Callable[[codec.Frame], None]


class KisStream(WebsocketStream):
    venue = "KIS websocket"
    # The approval key refused, etc., is also worth another try after the pause: say why.
    transient = (Exception,)

    def __init__(
        self,
        url: str,
        approval_key: Callable[[], Awaitable[str]],
        on_frame: FrameHandler,
        on_connection: ConnectionHandler,
        on_bad_frame: Callable[[str], None],
        silence_timeout: float = 300.0,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        # PINGPONG comes about every 110 s: five minutes of nothing is a dead socket.
        super().__init__(url, on_connection, silence_timeout=silence_timeout)
        self._now_ns = now_ns
        self._approval_key = approval_key
        self._on_frame = on_frame
        self._on_bad_frame = on_bad_frame
        self._key = ""
        self.pongs = 0

    async def send_registration(self, tr_id: str, tr_key: str, register: bool) -> bool:
        return await self.send(codec.subscribe_message(self._key, tr_id, tr_key, register))

    async def _session(self) -> str:
        self._key = await self._approval_key()
        async with websockets.connect(self.url, max_size=None, ping_interval=None, compression=None) as ws:
            for key in list(self.registrations):
                if isinstance(key, tuple):
                    await ws.send(codec.subscribe_message(self._key, str(key[0]), str(key[1]), True))
            await self._serve(ws)
            return "KIS closed the connection"

    async def _pump(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(loop.time() + self.silence_timeout) as deadline:
            async for raw in ws:
                self.heard()
                deadline.reschedule(loop.time() + self.silence_timeout)
                text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
                try:
                    frame = codec.decode(text, self._now_ns())
                except codec.KisDecodeError as exc:
                    self._on_bad_frame(str(exc))
                    continue
                if isinstance(frame, codec.PingPong):
                    # Echo as text: what pykis and mojito do; the fake accepts a pong frame too.
                    await ws.send(frame.raw)
                    self.pongs += 1
                    continue
                self._on_frame(frame)
