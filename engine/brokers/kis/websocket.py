"""The one KIS realtime connection: register (approval key in every message), read, answer
PINGPONG, reconnect and register everything again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import websockets
from websockets.asyncio.client import ClientConnection

from engine.brokers.kis import codec

log = logging.getLogger(__name__)

FrameHandler = Callable[[codec.Frame], None]
ConnectionHandler = Callable[[bool, str], None]


class KisStream:
    def __init__(self, url: str, approval_key: Callable[[], Awaitable[str]],
                 on_frame: FrameHandler, on_connection: ConnectionHandler,
                 on_bad_frame: Callable[[str], None], silence_timeout: float = 300.0,
                 now_ns: Callable[[], int] = time.time_ns) -> None:
        self.url = url
        self._now_ns = now_ns
        self._approval_key = approval_key
        self._on_frame = on_frame
        self._on_connection = on_connection
        self._on_bad_frame = on_bad_frame
        self._silence = silence_timeout  # PINGPONG comes about every 110 s
        self.registrations: dict[tuple[str, str], None] = {}  # ordered: the notice first
        self._ws: ClientConnection | None = None
        self._key = ""
        self._connected = asyncio.Event()
        self.connects = 0
        self.pongs = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def wait_connected(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def send_registration(self, tr_id: str, tr_key: str, register: bool) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(codec.subscribe_message(self._key, tr_id, tr_key, register))
        except websockets.ConnectionClosed:
            return False
        return True

    async def run(self) -> None:
        backoff = 0.5
        while True:
            reason = "closed"
            try:
                self._key = await self._approval_key()
                async with websockets.connect(self.url, max_size=None, ping_interval=None,
                                              compression=None) as ws:
                    for tr_id, tr_key in list(self.registrations):
                        await ws.send(codec.subscribe_message(self._key, tr_id, tr_key, True))
                    self._ws = ws
                    self.connects += 1
                    self._connected.set()
                    backoff = 0.5
                    self._on_connection(True, f"connected to {self.url}")
                    await self._pump(ws)
                    reason = "KIS closed the connection"
            except asyncio.CancelledError:
                raise
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # approval key refused, etc.: keep trying, say why
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                was = self._ws is not None
                self._ws = None
                self._connected.clear()
            if was:
                self._on_connection(False, reason)
            else:
                log.info("KIS websocket connect failed (%s); retrying in %.1fs", reason, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _pump(self, ws: ClientConnection) -> None:
        async with asyncio.timeout(None) as deadline:
            async for raw in ws:
                deadline.reschedule(asyncio.get_running_loop().time() + self._silence)
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
