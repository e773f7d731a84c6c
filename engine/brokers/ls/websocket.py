"""The one LS realtime connection: the access token in every message, account feeds and ticks
and condition pushes on one socket; reconnecting and registering everything again is the shared
stream's.

LS documents no application heartbeat (brokers.md 1.3), and a quiet socket is normal (no symbol
subscribed, no order working), so silence proves nothing: websocket protocol pings, which any
RFC 6455 server answers, tell a dead connection instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import websockets
from websockets.asyncio.client import ClientConnection

from engine.brokers.base import BrokerError
from engine.brokers.common.stream import ConnectionHandler, Silence
from engine.brokers.common.wsstream import WebsocketStream
from engine.brokers.ls import codec

log = logging.getLogger(__name__)

FrameHandler = Callable[[codec.Frame], None]

# A third party reports LS's firewall dropping handshakes without these (brokers.md 1.1,
# UNCONFIRMED): sent on every connection.
USER_AGENT = "Mozilla/5.0 (compatible; Tradecord/0.1; +python-websockets)"
ACCEPT_LANGUAGE = "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0


class LsStream(WebsocketStream):
    venue = "LS websocket"
    transient = (OSError, TimeoutError, Silence, websockets.WebSocketException, BrokerError)

    def __init__(
        self,
        url: str,
        token: Callable[[], Awaitable[str]],
        on_frame: FrameHandler,
        on_connection: ConnectionHandler,
        on_bad_frame: Callable[[str], None],
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(url, on_connection)
        self._token = token
        self._on_frame = on_frame
        self._on_bad_frame = on_bad_frame
        self._now_ns = now_ns
        self.frames = 0

    async def send_registration(self, tr_cd: str, tr_key: str, register: bool) -> bool:
        """False when there is no connection to send on (the registration is replayed by the
        next one, or, for a removal, has nothing left to remove)."""
        if self._ws is None:
            return False
        return await self.send(codec.subscribe_message(await self._token(), tr_cd, tr_key, register))

    async def reconnect(self, reason: str) -> None:
        """Close the connection so that the next one registers everything afresh (a token LS
        stopped taking, say)."""
        ws = self._ws
        if ws is not None:
            log.info("%s: reconnecting: %s", self.venue, reason)
            await ws.close(code=1000, reason=reason[:100])

    async def _session(self) -> str:
        token = await self._token()
        async with websockets.connect(
            self.url,
            additional_headers={"Accept-Language": ACCEPT_LANGUAGE},
            user_agent_header=USER_AGENT,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            max_size=2**22,
            compression=None,
            open_timeout=15,
        ) as ws:
            # In the order made: the account feeds first, then ticks and conditions.
            for key in list(self.registrations):
                if isinstance(key, tuple):
                    await ws.send(codec.subscribe_message(token, str(key[0]), str(key[1]), True))
            await self._serve(ws)
            return f"LS closed the connection ({ws.close_code or 'no close frame'})"

    async def _pump(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.heard()
                self.frames += 1
                text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
                try:
                    frame = codec.decode(text, self._now_ns())
                except codec.LsDecodeError as exc:
                    self._on_bad_frame(str(exc))
                    continue
                try:
                    self._on_frame(frame)
                except Exception:  # a bug in handling one frame must not end the feed
                    log.exception("%s: a %s frame could not be handled", self.venue, type(frame).__name__)
        except websockets.ConnectionClosedError:
            return  # a dropped connection: the shared stream says so and reconnects
