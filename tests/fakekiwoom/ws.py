"""The websocket side: one path, LOGIN first, PING echoes, REG/REMOVE, REAL pushes, conditions.

Protocol (brokers.md 3.2-3.3, condition-search.md 2.1 and 2.8):
- `wss://…/api/dostk/websocket`; JSON text frames only, no HTTP headers or api-id.
- The client's first frame is {"trnm":"LOGIN","token":…}; the server answers {"trnm":"LOGIN",
  "return_code":0,…}. Frames before a successful LOGIN are ignored by default (the reference only
  says to wait for the ack "before anything else"; a third-party SYSTEM R10004 "접속허용요청이
  들어오지 않았습니다" suggests the server may instead close: `pre_login="close"`).
- The server sends PING ({"trnm":"PING"} or bare "PING") and the client echoes the identical
  text. Closing after 5 missed echoes is UNCONFIRMED (a 3p quoting Kiwoom support): configurable.
- One session per app key: a second LOGIN with the same app key ends the first with SYSTEM
  R10001 (third-party texts; UNCONFIRMED but it is what the reference tells clients to expect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from tests import fakekrx as krx
from tests.fakekiwoom import codec
from tests.fakekiwoom.conditions import Conditions, ConnConditions, QuoteRow

WS_PATH = "/api/dostk/websocket"
TICK = "0B"
ORDER_EVENTS = "00"
BALANCE = "04"
SUPPORTED_TYPES = frozenset({TICK, ORDER_EVENTS, BALANCE})
ACCOUNT_TYPES = frozenset({ORDER_EVENTS, BALANCE})

# auth(token) -> (0, app_key) or (error code, None)
Auth = Callable[[str], tuple[int, str | None]]


@dataclass(slots=True)
class WsSettings:
    paper: bool = True
    ping_interval: float = 20.0  # UNCONFIRMED: the reference has no interval
    ping_style: codec.PingStyle = "dict"
    ping_miss_limit: int | None = 5  # close after this many unanswered PINGs; None never
    sor_yn: str | None = "N"
    login_error_style: codec.LoginErrorStyle = "wrapped"
    pre_login: Literal["ignore", "close"] = "ignore"
    login_timeout: float | None = None  # close with SYSTEM R10004 when no LOGIN came in time
    single_session: bool = True


@dataclass(eq=False)
class WsConn:
    id: int
    ws: web.WebSocketResponse
    request: web.Request
    token: str | None = None
    app_key: str | None = None
    logged_in: bool = False
    regs: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # grp_no -> {(type, item)}
    cond: ConnConditions = field(default_factory=ConnConditions)
    ping_seq: int = 0
    outstanding_ping: str | None = None
    missed_pings: int = 0
    pings_sent: int = 0
    pings_answered: int = 0
    ping_mismatches: int = 0  # echoes that were not byte-identical to the PING sent
    ignored: list[str] = field(default_factory=list)  # frames dropped (before LOGIN, or unparsable)
    received: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    closed: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def registrations(self) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for regs in self.regs.values():
            out |= regs
        return out

    def items_for(self, type_: str, code: str) -> list[str]:
        """The registered items of `type_` that name `code` (plain or with an exchange suffix)."""
        return sorted({item for t, item in self.registrations if t == type_ and item.split("_")[0] == code})

    def has(self, type_: str) -> bool:
        return any(t == type_ for t, _ in self.registrations)


class WsHub:
    def __init__(self, settings: WsSettings, auth: Auth, conditions: Conditions, quote: QuoteRow) -> None:
        self.settings = settings
        self._auth = auth
        self._conditions = conditions
        self._quote = quote
        self.conns: list[WsConn] = []
        self.connections_total = 0
        self.pings_sent = 0
        self.pings_answered = 0
        self._seq = 0
        self._background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ inspection

    @property
    def connections(self) -> list[WsConn]:
        return [c for c in self.conns if not c.closed]

    def registrations(self) -> dict[int, set[tuple[str, str]]]:
        return {c.id: c.registrations for c in self.connections}

    def conditions_registered(self) -> dict[int, set[str]]:
        return {c.id: set(c.cond.realtime) for c in self.connections}

    # ------------------------------------------------------------------ sending

    async def send(self, conn: WsConn, text: str) -> int:
        if conn.closed or conn.ws.closed:
            return 0
        try:
            await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return 0
        conn.sent.append(text)
        return 1

    async def publish_tick(self, code: str, values: dict[str, str]) -> int:
        sent = 0
        for conn in self.connections:
            for item in conn.items_for(TICK, code):
                entry = codec.real_entry(TICK, "주식체결", item, values)
                sent += await self.send(conn, codec.real([entry]))
        return sent

    async def publish_account(
        self, type_: str, name: str, item: str, values: dict[str, str], app_key: str | None
    ) -> int:
        """Account pushes reach every logged-in connection of the account that registered the type
        ("종목코드 등록과 상관 없이 … 계좌에 매매가 발생할 경우 수신" — brokers.md 3.3)."""
        sent = 0
        frame = codec.real([codec.real_entry(type_, name, item, values)])
        for conn in self.connections:
            if conn.logged_in and conn.has(type_) and (app_key is None or conn.app_key == app_key):
                sent += await self.send(conn, frame)
        return sent

    async def publish_condition(self, seq: str, entry: dict[str, Any]) -> int:
        sent = 0
        frame = codec.real([entry])
        for conn in self.connections:
            if seq in conn.cond.realtime:
                sent += await self.send(conn, frame)
        return sent

    async def send_ping(self, conn: WsConn) -> None:
        if conn.outstanding_ping is not None:
            conn.missed_pings += 1
        conn.ping_seq += 1
        text = codec.ping(self.settings.ping_style, conn.ping_seq)
        conn.outstanding_ping = text
        conn.pings_sent += 1
        self.pings_sent += 1
        await self.send(conn, text)

    async def close(self, conn: WsConn, system: tuple[str, str] | None = None) -> None:
        if system is not None:
            await self.send(conn, codec.system(*system))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code=1000, message=b"closed by server"), 1.0)

    def drop_all(self) -> int:
        """Abort every connection's TCP stream without a close frame (a network drop)."""
        dropped = 0
        for conn in self.connections:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
        return dropped

    async def shutdown(self) -> None:
        for task in list(self._background):
            task.cancel()
        for conn in list(self.conns):
            for task in conn.tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server shutdown"), 1.0)

    # ------------------------------------------------------------------ the session

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # Protocol pings of websocket libraries are answered automatically; Kiwoom's own heartbeat
        # is the application-level PING text.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._seq += 1
        conn = WsConn(id=self._seq, ws=ws, request=request)
        self.conns.append(conn)
        self.connections_total += 1
        if self.settings.login_timeout is not None:
            conn.tasks.append(asyncio.create_task(self._login_deadline(conn)))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.ignored.append(repr(msg.data))
        finally:
            conn.closed = True
            for task in conn.tasks:
                task.cancel()
        return ws

    async def _login_deadline(self, conn: WsConn) -> None:
        assert self.settings.login_timeout is not None
        await asyncio.sleep(self.settings.login_timeout)
        if not conn.logged_in and not conn.closed:
            await self.close(conn, codec.SYSTEM_NO_LOGIN)

    async def _ping_loop(self, conn: WsConn) -> None:
        limit = self.settings.ping_miss_limit
        while not conn.closed:
            await asyncio.sleep(self.settings.ping_interval)
            if conn.closed:
                return
            if limit is not None and conn.outstanding_ping is not None and conn.missed_pings + 1 >= limit:
                await self.close(conn, codec.SYSTEM_HEARTBEAT)
                return
            await self.send_ping(conn)

    def _is_ping(self, text: str, msg: Any) -> bool:
        if text.strip().upper() == "PING":
            return True
        return isinstance(msg, dict) and str(msg.get("trnm", "")).upper() == "PING"

    async def _on_text(self, conn: WsConn, text: str) -> None:
        try:
            msg: Any = json.loads(text)
        except ValueError:
            msg = None
        if self._is_ping(text, msg):
            self._echo(conn, text)
            return
        if not isinstance(msg, dict):
            conn.ignored.append(text)
            return
        trnm = str(msg.get("trnm", ""))
        if trnm == "LOGIN":
            await self._login(conn, msg)
            return
        if not conn.logged_in:
            conn.ignored.append(text)
            if self.settings.pre_login == "close":
                await self.close(conn, codec.SYSTEM_NO_LOGIN)
            return
        if trnm in ("REG", "REMOVE"):
            await self.send(conn, self._register(conn, msg, trnm))
        elif trnm in ("CNSRLST", "CNSRREQ", "CNSRCLR"):
            await self._conditions.handle(conn.cond, msg, lambda t: self.send(conn, t), self._quote)
        else:
            # Unknown service names: the reply shape is UNCONFIRMED.
            await self.send(conn, codec.ack(trnm, 1, f"지원하지 않는 서비스입니다 ({trnm!r})"))

    def _echo(self, conn: WsConn, text: str) -> None:
        if conn.outstanding_ping is None:
            conn.ignored.append(text)  # an echo of nothing: a client sending its own PINGs
            return
        if text != conn.outstanding_ping:
            conn.ping_mismatches += 1
        conn.outstanding_ping = None
        conn.missed_pings = 0
        conn.pings_answered += 1
        self.pings_answered += 1

    async def _login(self, conn: WsConn, msg: dict[str, Any]) -> None:
        token = str(msg.get("token", ""))
        code, app_key = self._auth(token)
        if code != 0 or app_key is None:
            error = codec.login_error(code or codec.TOKEN_INVALID, self.settings.login_error_style)
            await self.send(conn, error)
            # Whether the server closes after a failed LOGIN is UNCONFIRMED; closing forces the
            # client through its re-issue-and-reconnect path, which is what it must survive.
            await self.close(conn)
            return
        if self.settings.single_session:
            for other in self.connections:
                if other is not conn and other.logged_in and other.app_key == app_key:
                    # In the background: the new session's ack must not wait for the old client.
                    task = asyncio.create_task(self.close(other, codec.SYSTEM_DUPLICATE))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
        first = not conn.logged_in
        conn.token, conn.app_key, conn.logged_in = token, app_key, True
        await self.send(conn, codec.login_ack(self.settings.sor_yn))
        if first:
            conn.tasks.append(asyncio.create_task(self._ping_loop(conn)))

    def _register(self, conn: WsConn, msg: dict[str, Any], trnm: str) -> str:
        grp = msg.get("grp_no")
        if not isinstance(grp, str) or not 0 < len(grp) <= 4:
            return codec.ack(trnm, 1, f"grp_no 오류 ({grp!r}; 1-4 chars)")
        data = msg.get("data")
        if not isinstance(data, list) or not data:
            return codec.ack(trnm, 1, 'data 오류: [{"item": [...], "type": [...]}]')
        pairs: list[tuple[str, str]] = []
        for entry in data:
            items = entry.get("item") if isinstance(entry, dict) else None
            types = entry.get("type") if isinstance(entry, dict) else None
            if not isinstance(items, list) or not isinstance(types, list) or not types:
                return codec.ack(trnm, 1, "data 오류: item, type은 LIST입니다")
            for type_ in types:
                if type_ not in SUPPORTED_TYPES:
                    # The real server has many more types (0A, 0C, 0D, 0H, 1h ...); the fake serves these.
                    return codec.ack(trnm, 1, f"지원하지 않는 실시간 항목 ({type_!r}; fake: 0B, 00, 04)")
                for item in items or [""]:
                    err = self._check_item(str(type_), item)
                    if err:
                        return codec.ack(trnm, 1, err)
                    pairs.append((str(type_), str(item)))
        if trnm == "REG":
            # refresh "0": drop what this group had before (scope per grp_no is UNCONFIRMED).
            if str(msg.get("refresh", "1")) == "0":
                conn.regs[grp] = set()
            conn.regs.setdefault(grp, set()).update(pairs)
        else:
            regs = conn.regs.get(grp, set())
            regs.difference_update(pairs)
        return codec.ack(trnm)

    def _check_item(self, type_: str, item: Any) -> str:
        if not isinstance(item, str):
            return f"item 오류 ({item!r})"
        if type_ in ACCOUNT_TYPES:
            return "" if item == "" else f'{type_}의 item은 ""입니다 ({item!r})'
        code, _, suffix = item.partition("_")
        if not krx.CODE_RE.match(code) or suffix not in ("", "NX", "AL"):
            return f"종목코드 오류 ({item!r}; KRX 039490, NXT 039490_NX, SOR 039490_AL)"
        if suffix and self.settings.paper:
            return f"모의투자는 KRX만 지원합니다 ({item!r})"
        return ""
