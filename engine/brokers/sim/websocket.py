"""The one realtime connection to the sim: connect, replay registrations, read, reconnect.

Registrations live here (not in the server's memory), so after any drop the new socket gets
every symbol, condition and the account channel back before data flows.

Transport: picows. Frames reach `on_frame` straight from the protocol's data_received, with no
per-frame queue, task hop or flow-control pause in between; that read path measured 4-7M
decoded ticks/s against 1-5M for the `websockets` client, whose 16-frame queue pauses reading
and at saturation sometimes left the socket idle three quarters of the time
(engine.bench.feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from picows import WSCloseCode, WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from engine.brokers.common.stream import ConnectionHandler, ReconnectingStream
from engine.brokers.sim import codec

FrameHandler = Callable[[str | bytes], None]

PING_IDLE_S = 20.0
PING_REPLY_S = 20.0
HANDSHAKE_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 1 << 30  # no practical limit: a sim frame is one tape step
# Frames dispatched per loop turn at most: 128 KiB (~2,500 ticks) bounds the loop's lag under a
# flood; with many symbols a turn grows by ~4 rows per symbol, so each woken pipeline gets a few
# ticks per wake-up rather than one (a wake-up costs more than a tick; engine.bench.feed).
TURN_BYTES = 128 * 1024
TURN_BYTES_PER_SYMBOL = 200

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class _Listener(WSListener):
    """Hands every complete data message to the stream; answers a close and disconnects.

    Fairness: picows hands over everything one read returned, and under a saturated feed its
    read buffer doubles until one read is megabytes, i.e. 100-250 ms of ticks dispatched in
    one loop turn before any strategy, timer or command runs. So at most TURN_BYTES of frames
    are dispatched per loop turn: past that, reading pauses, the rest of the buffer waits in a
    deque, and the next turn (after the pipelines woken by this one) carries on.
    """

    def __init__(self, stream: SimStream) -> None:
        self._stream = stream
        self._on_frame = stream._on_frame
        self._fragments: list[bytes] | None = None
        self._used = 0  # bytes dispatched since the last turn boundary
        self._budget = stream._turn_budget()
        self._deferred: deque[bytes] | None = None  # frames waiting for a later turn
        self._transport: WSTransport | None = None
        self._loop = asyncio.get_running_loop()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._flush()  # frames already read are delivered, in order, before the drop is seen

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if (kind is _TEXT or kind is _BINARY) and frame.fin:
            self._message(frame.get_payload_as_bytes(), frame.last_in_buffer)
        elif kind is _TEXT or kind is _BINARY:
            self._fragments = [frame.get_payload_as_bytes()]
        elif kind is _CONTINUATION and self._fragments is not None:
            self._fragments.append(frame.get_payload_as_bytes())
            if frame.fin:
                message = b"".join(self._fragments)
                self._fragments = None
                self._message(message, frame.last_in_buffer)
        elif kind is _CLOSE:
            self._flush()
            code = frame.get_close_code()
            self._stream._close_reason = (
                f"the exchange closed the connection ({code.value} {frame.get_close_reason()})"
            )
            transport.send_close(code)
            transport.disconnect()

    def _message(self, payload: bytes, last_in_buffer: bool) -> None:
        deferred = self._deferred
        if deferred is not None:
            deferred.append(payload)
            return
        self._stream.last_frame = time.monotonic()
        self._on_frame(payload)
        self._used += len(payload)
        if self._used >= self._budget:
            # This turn has had its share: read no more until the next one.
            if not last_in_buffer:
                self._deferred = deque()
            transport = self._transport
            if transport is not None:
                transport.underlying_transport.pause_reading()
            self._loop.call_soon(self._next_turn)

    def _flush(self) -> None:
        deferred, self._deferred = self._deferred, None
        try:
            while deferred:
                self._on_frame(deferred.popleft())
        except Exception as exc:
            if self._stream._failure is None:
                self._stream._failure = exc

    def _next_turn(self) -> None:
        # A flooded loop never blocks, and CPython's GIL then starves other threads: a thread
        # woken for the GIL loses the race to this one, which takes it straight back, and the
        # drop request that would force a switch is never made (the GIL keeps changing hands).
        # A thread hop (the journal's) took 5-320 ms under a saturated feed. A zero sleep per
        # turn (about a microsecond) hands the GIL over: ~5 ms per hop.
        time.sleep(0)
        self._used = 0
        self._budget = budget = self._stream._turn_budget()
        deferred = self._deferred
        transport = self._transport
        if transport is None or transport.is_disconnected:
            self._deferred = None
            return
        try:
            while deferred:
                payload = deferred.popleft()
                self._stream.last_frame = time.monotonic()
                self._on_frame(payload)
                self._used += len(payload)
                if self._used >= budget:
                    self._loop.call_soon(self._next_turn)
                    return
        except Exception as exc:
            # As picows does for an exception from on_ws_frame: drop the connection and let
            # run() raise it.
            self._deferred = None
            self._stream._failure = exc
            transport.disconnect()
            return
        self._deferred = None
        transport.underlying_transport.resume_reading()


class SimStream(ReconnectingStream):
    venue = "the sim exchange"
    transient = (*ReconnectingStream.transient, WSError)

    def __init__(
        self,
        url: str,
        on_frame: FrameHandler,
        on_connection: ConnectionHandler,
        heartbeat_timeout: float = 15.0,
    ) -> None:
        super().__init__(
            url, on_connection, delays=(0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0), silence_timeout=heartbeat_timeout
        )
        self._on_frame = on_frame
        self._ws: WSTransport | None = None
        self._close_reason = ""
        self._failure: Exception | None = None

    def _turn_budget(self) -> int:
        return max(TURN_BYTES, TURN_BYTES_PER_SYMBOL * len(self.registrations))

    async def send(self, frame: bytes) -> bool:
        """Send now if connected; False when not (the registration replays on reconnect)."""
        ws = self._ws
        if ws is None or ws.is_close_frame_sent or ws.is_disconnected:
            return False
        ws.send(_TEXT, frame)
        return True

    def _replay(self) -> list[bytes]:
        # The account channel first, then every symbol in one frame, then the conditions.
        keys = [key for key in self.registrations if isinstance(key, tuple)]
        frames = [codec.account_subscribe()] if ("account", "") in self.registrations else []
        symbols = sorted(str(name) for kind, name in keys if kind == "symbol")
        if symbols:
            frames.append(codec.subscribe(symbols))
        frames.extend(codec.condition_subscribe(str(name)) for kind, name in keys if kind == "condition")
        return frames

    async def _session(self) -> str:
        transport, _ = await ws_connect(
            lambda: _Listener(self),
            self.url,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT_S,
            enable_auto_ping=True,
            auto_ping_idle_timeout=PING_IDLE_S,
            auto_ping_reply_timeout=PING_REPLY_S,
            max_frame_size=MAX_FRAME_BYTES,
            logger_name=__name__,
        )
        self._close_reason = ""
        self._failure = None
        try:
            for frame in self._replay():
                transport.send(_TEXT, frame)
            self._ws = transport
            self.opened()

            def close(reason: str) -> None:
                self._close_reason = reason
                transport.send_close(WSCloseCode(4000), b"heartbeat timeout")
                transport.disconnect()

            watchdog = asyncio.get_running_loop().create_task(self.watch_silence(close))
            try:
                await transport.wait_disconnected()
            finally:
                watchdog.cancel()
                await asyncio.gather(watchdog, return_exceptions=True)
            if self._failure is not None:
                raise self._failure
            return self._close_reason or "the exchange closed the connection"
        finally:
            self._ws = None
            if not transport.is_disconnected:
                with contextlib.suppress(Exception):
                    if not transport.is_close_frame_sent:
                        transport.send_close(WSCloseCode.GOING_AWAY)
                    transport.disconnect()
