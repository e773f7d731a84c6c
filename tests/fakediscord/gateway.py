"""The fake gateway: HELLO / IDENTIFY / READY / RESUME over plain JSON text frames.

Frames are sent uncompressed as TEXT even though discord.py asks for `compress=zlib-stream`:
its `received_message` only inflates `bytes` frames, so text is accepted as is.

Each IDENTIFY opens a session that outlives its socket. Events dispatched while the bot is
disconnected are kept in the session's log and replayed on RESUME, as Discord does, so an
interaction sent during a reconnect still arrives (late, which is the point of some tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakediscord.payloads import JSON

log = logging.getLogger(__name__)

# Opcodes (topics/opcodes-and-status-codes.mdx).
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Close codes discord.py treats as final (gateway.py `_can_handle_close`) or resumable.
CLOSE_UNKNOWN_ERROR = 4000
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_DISALLOWED_INTENTS = 4014
CLOSE_GOING_AWAY = 1001

PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT
# How long a server-side close waits for the client's close frame before dropping the transport.
CLOSE_TIMEOUT_S = 2.0
# Replay buffer bound per session: far more than any test produces between two connections.
MAX_SESSION_LOG = 10_000


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    identify: JSON
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)
    conn: Connection | None = None


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    path: str
    opened_at: float
    session: GatewaySession | None = None
    heartbeats: int = 0
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, frame: str) -> bool:
        async with self.send_lock:
            if self.ws.closed:
                return False
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return False
            return True


class Gateway:
    """Owns the sockets and sessions. The server supplies READY/GUILD_CREATE payload builders
    so that the guild shown here is the same one the REST side validates against."""

    def __init__(
        self,
        *,
        token: Callable[[], str],
        ready: Callable[[str, JSON], JSON],
        guild_creates: Callable[[int], list[JSON]],
        member_chunk: Callable[[JSON], JSON],
        heartbeat_interval_ms: int,
        privileged_intents: bool,
        on_change: Callable[[], None],
    ) -> None:
        self._token = token
        self._ready = ready
        self._guild_creates = guild_creates
        self._member_chunk = member_chunk
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.privileged_intents = privileged_intents
        self._on_change = on_change
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.conns: set[Connection] = set()
        # Counters and records the tests assert on.
        self.connections = 0
        self.identifies = 0
        self.resumes = 0
        self.invalid_sessions = 0
        self.heartbeats = 0
        self.identify_payloads: list[JSON] = []
        self.presence_updates: list[JSON] = []
        self.received: list[JSON] = []
        self.close_codes: list[int | None] = []  # per finished socket, as the server saw it
        self.paths: list[str] = []  # per socket: GATEWAY_PATH for IDENTIFY, the resume URL's path after

    # --- socket handling ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=CLOSE_TIMEOUT_S, compress=False, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws=ws, request=request, path=request.path, opened_at=time.monotonic())
        self.conns.add(conn)
        self.connections += 1
        self.paths.append(request.path)
        self._on_change()
        try:
            await conn.send(_frame(HELLO, {"heartbeat_interval": self.heartbeat_interval_ms}))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload.")
                        break
                    await self._on_frame(conn, frame)
                elif msg.type is WSMsgType.BINARY:
                    # ETF and client-side compression are not simulated.
                    await ws.close(code=CLOSE_DECODE_ERROR, message=b"Error while decoding payload.")
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            self.conns.discard(conn)
            self.close_codes.append(ws.close_code)
            conn.finished.set()
            self._on_change()
        return ws

    async def _on_frame(self, conn: Connection, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        self.received.append(frame)
        if op == HEARTBEAT:
            conn.heartbeats += 1
            self.heartbeats += 1
            await conn.send(_frame(HEARTBEAT_ACK, None))
        elif op == IDENTIFY:
            await self._identify(conn, data if isinstance(data, dict) else {})
        elif op == RESUME:
            await self._resume(conn, data if isinstance(data, dict) else {})
        elif conn.session is None:
            await conn.ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
        elif op == REQUEST_GUILD_MEMBERS:
            await self.dispatch("GUILD_MEMBERS_CHUNK", self._member_chunk(data or {}), session=conn.session)
        elif op == PRESENCE_UPDATE:
            self.presence_updates.append(data or {})
        # Voice state and unknown opcodes are accepted and ignored.

    async def _identify(self, conn: Connection, data: JSON) -> None:
        if conn.session is not None:
            await conn.ws.close(code=CLOSE_ALREADY_AUTHENTICATED, message=b"Already authenticated.")
            return
        if data.get("token") != self._token():
            await conn.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS and not self.privileged_intents:
            await conn.ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return
        session = GatewaySession(session_id=uuid.uuid4().hex, intents=intents, identify=data)
        self.sessions[session.session_id] = session
        self.current = session
        session.conn = conn
        conn.session = session
        self.identifies += 1
        self.identify_payloads.append(data)
        await self.dispatch("READY", self._ready(session.session_id, data), session=session)
        for guild in self._guild_creates(intents):
            await self.dispatch("GUILD_CREATE", guild, session=session)
        self._on_change()

    async def _resume(self, conn: Connection, data: JSON) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self._token():
            self.invalid_sessions += 1
            # d=false: not resumable, so discord.py forgets the session and IDENTIFYs again.
            await conn.send(_frame(INVALID_SESSION, False))
            return
        if session.conn is not None and session.conn is not conn:
            # A session resumed elsewhere: the old socket is a zombie now.
            old = session.conn
            session.conn = None
            with contextlib.suppress(Exception):
                await old.ws.close(code=CLOSE_UNKNOWN_ERROR)
        seq = data.get("seq")
        session.conn = conn
        conn.session = session
        self.current = session
        for s, frame in list(session.log):
            if seq is None or s > seq:
                await conn.send(frame)
        self.resumes += 1
        await self.dispatch("RESUMED", {"_trace": ["fake-gateway"]}, session=session)
        self._on_change()

    # --- sending ------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: Any, *, session: GatewaySession | None = None) -> bool:
        """Send op 0 `event` on the session (the current one by default). Returns whether it went
        out on a live socket now; otherwise it waits in the session log for a RESUME."""
        session = session or self.current
        if session is None:
            raise AssertionError(f"cannot dispatch {event}: no bot has IDENTIFIED with the fake gateway")
        session.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
        session.log.append((session.seq, frame))
        if len(session.log) > MAX_SESSION_LOG:
            del session.log[: len(session.log) - MAX_SESSION_LOG]
        conn = session.conn
        return conn is not None and await conn.send(frame)

    def live_connection(self) -> Connection | None:
        session = self.current
        return session.conn if session is not None else None

    async def send_op(self, op: int, data: Any) -> None:
        conn = self.live_connection()
        if conn is None:
            raise AssertionError("no live gateway connection")
        await conn.send(_frame(op, data))

    async def drop(self, code: int | None = None) -> None:
        """Close the live socket: abort the TCP connection (code None) or send a close frame."""
        conn = self.live_connection()
        if conn is None:
            raise AssertionError("no live gateway connection to drop")
        if code is None:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        else:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code)

    async def invalidate(self, resumable: bool = False) -> None:
        conn = self.live_connection()
        if conn is None:
            raise AssertionError("no live gateway connection")
        if not resumable and conn.session is not None:
            self.sessions.pop(conn.session.session_id, None)
        await conn.send(_frame(INVALID_SESSION, resumable))

    async def close_all(self, code: int = CLOSE_GOING_AWAY) -> None:
        conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    conn.ws.close(code=code, message=b"fake discord stopping"), CLOSE_TIMEOUT_S
                )
        waits = [asyncio.ensure_future(c.finished.wait()) for c in conns]
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=CLOSE_TIMEOUT_S)
        for conn in conns:
            # A client that never answered the close frame: drop the TCP connection.
            if not conn.finished.is_set() and conn.request.transport is not None:
                conn.request.transport.abort()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def _frame(op: int, data: Any) -> str:
    return json.dumps({"op": op, "d": data, "s": None, "t": None})
