"""The one Kiwoom realtime connection: LOGIN first, then everything registered again (the
conditions after a CNSRLST on this connection, then the account's order events and the trade
ticks), PINGs echoed byte for byte; reconnecting and backing off is the shared stream's.

Kiwoom serves condition search only after CNSRLST was asked on the same connection (a CNSRREQ
before it gets no answer at all), so every connection lists the conditions before it asks for
one, and the order on the wire after a reconnect is LOGIN, CNSRLST, CNSRREQ..., REG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime

import websockets
from websockets.asyncio.client import ClientConnection

from engine.brokers.common.stream import ConnectionHandler, Silence
from engine.brokers.common.wsstream import WebsocketStream
from engine.brokers.kiwoom import codec

log = logging.getLogger(__name__)

FrameHandler = Callable[[codec.Frame], None]
ANSWER_TIMEOUT = 10.0  # for LOGIN and CNSRLST while a connection is being set up
OPEN_TIMEOUT = 10.0

# Registration keys: ("account", ""), ("symbol", code), ("condition", seq).
ACCOUNT = ("account", "")


class LoginRefused(Exception):
    """Kiwoom refused the LOGIN; the stream tries again after its pause (with a new token
    when the old one was refused)."""


class KiwoomStream(WebsocketStream):
    venue = "Kiwoom websocket"
    # Whatever ended a session (a refused LOGIN, a frame that broke a handler) is worth another
    # try after the pause; the reason is said each time.
    transient = (Exception,)

    def __init__(
        self,
        url: str,
        token: Callable[[], Awaitable[str]],
        refuse_token: Callable[[], None],
        on_frame: FrameHandler,
        on_connection: ConnectionHandler,
        on_bad_frame: Callable[[str], None],
        now: Callable[[], datetime],
        silence_timeout: float = 300.0,
    ) -> None:
        # The PING interval is not published (UNCONFIRMED): five minutes without a frame is a
        # dead socket.
        super().__init__(url, on_connection, silence_timeout=silence_timeout)
        self._token = token
        self._refuse_token = refuse_token
        self._on_frame = on_frame
        self._on_bad_frame = on_bad_frame
        self._now = now
        # CNSRLST was answered on this connection: CNSRREQ may be sent.
        self.listed = False
        # Acks still due for REG/REMOVE sent while setting up: they answer no caller.
        self.setup_acks = 0
        self.pings = 0

    async def _session(self) -> str:
        token = await self._token()
        async with websockets.connect(
            self.url, max_size=None, ping_interval=None, compression=None, open_timeout=OPEN_TIMEOUT
        ) as ws:
            self.listed = False
            self.setup_acks = 0
            await ws.send(codec.login(token))
            answer = await self._answer(ws, "LOGIN")
            if not answer.ok:
                if answer.token_refused:
                    self._refuse_token()
                raise LoginRefused(f"Kiwoom refused the LOGIN ({answer.code}: {answer.message})")
            await self._register_all(ws)
            await self._serve(ws)
            return "Kiwoom closed the connection"

    async def _register_all(self, ws: ClientConnection) -> None:
        """Every registration, the conditions first (each needs CNSRLST before it), then the
        account's order events, then the symbols' ticks in one REG. Registrations made while this
        runs are sent too, before the connection counts as open; so are removals of those sent."""
        sent: set[Hashable] = set()
        while True:
            todo = [key for key in self.registrations if key not in sent]
            if not todo:
                break
            seqs = [str(k[1]) for k in todo if isinstance(k, tuple) and k[0] == "condition"]
            if seqs and not self.listed:
                await ws.send(codec.condition_list())
                listing = await self._answer(ws, "CNSRLST")
                self.listed = listing.ok
                self._on_frame(listing)
                if not listing.ok:
                    log.warning(
                        "Kiwoom refused CNSRLST (%s: %s): conditions not followed on this connection",
                        listing.code,
                        listing.message,
                    )
            if self.listed:
                for seq in seqs:
                    await ws.send(codec.condition_request(seq))
            if ACCOUNT in todo:
                await ws.send(codec.register(codec.ACCOUNT_TYPE, [""]))
                self.setup_acks += 1
            symbols = [str(k[1]) for k in todo if isinstance(k, tuple) and k[0] == "symbol"]
            if symbols:
                await ws.send(codec.register(codec.TICK_TYPE, symbols))
                self.setup_acks += 1
            sent.update(todo)
        dropped = [
            str(k[1])
            for k in sent
            if isinstance(k, tuple) and k[0] == "symbol" and k not in self.registrations
        ]
        if dropped:
            await ws.send(codec.unregister(codec.TICK_TYPE, dropped))
            self.setup_acks += 1

    async def _answer(self, ws: ClientConnection, trnm: str) -> codec.Reply:
        """Read until the answer to `trnm` (PINGs echoed, anything else handed on)."""
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while True:
                frame = await self._read(ws)
                if isinstance(frame, codec.Reply) and frame.trnm == trnm:
                    return frame
                if frame is not None:
                    self._on_frame(frame)

    async def _read(self, ws: ClientConnection) -> codec.Frame | None:
        raw = await ws.recv()
        self.heard()
        text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
        try:
            frame = codec.decode(text, self._now())
        except codec.KiwoomDecodeError as exc:
            self._on_bad_frame(str(exc))
            return None
        if isinstance(frame, codec.Ping):
            await ws.send(frame.raw)  # the identical text, extra keys and all
            self.pings += 1
            return None
        return frame

    async def _pump(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + self.silence_timeout) as deadline:
                while True:
                    frame = await self._read(ws)
                    deadline.reschedule(loop.time() + self.silence_timeout)
                    if frame is not None:
                        self._on_frame(frame)
        except websockets.ConnectionClosed:
            return
        except TimeoutError:
            raise Silence(f"no frame for {self.silence_timeout:.0f}s (heartbeat timeout)") from None
