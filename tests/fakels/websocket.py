"""The LS websocket: one endpoint for every realtime TR, the token inside every message.

brokers.md 1.3: a client sends {"header": {"token", "tr_type"}, "body": {"tr_cd", "tr_key"}};
tr_type 1/2 register/unregister the account feeds SC0-SC4 (tr_key ""), 3/4 the quote-type feeds
(S3_ KOSPI and K3_ KOSDAQ ticks keyed by 6-character codes, several concatenated in one key; AFR
keyed by a t1860 sAlertNum). The path is /websocket in the scraped docs and /websocket/stock in a
2026 re-scrape (condition-search.md 3.7): both are served and each connection records its path.
No application heartbeat is documented: the fake sends none (aiohttp answers protocol pings).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests import fakekrx as krx
from tests.fakels import codes, frames
from tests.fakels.codes import Code
from tests.fakels.frames import ACCOUNT_TRS, CONDITION_TR, TICK_TRS, Frame

if TYPE_CHECKING:
    from tests.fakels.conditions import Registration
    from tests.fakels.server import FakeLS
    from tests.fakels.tape import Instrument, Trade


@dataclass(eq=False)
class WsConn:
    id: int
    ws: web.WebSocketResponse
    request: web.Request
    path: str
    # (tr_cd, key) -> the mode ("real"/"paper") of the token that registered it; account feeds
    # are keyed "" and get the events of orders placed with a token of the same mode.
    subs: dict[tuple[str, str], str] = field(default_factory=dict)
    received: list[Any] = field(default_factory=list)  # every message, parsed (or raw text)
    sent: list[Frame] = field(default_factory=list)
    closed: bool = False

    @property
    def subscriptions(self) -> set[tuple[str, str]]:
        return set(self.subs)


class WsHub:
    def __init__(self, fake: FakeLS) -> None:
        self.fake = fake
        self.conns: list[WsConn] = []
        self._seq = 0

    @property
    def open_connections(self) -> list[WsConn]:
        return [c for c in self.conns if not c.closed]

    # ------------------------------------------------------------------ connection

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="websocket upgrade expected")
        await ws.prepare(request)
        self._seq += 1
        conn = WsConn(id=self._seq, ws=ws, request=request, path=request.path)
        self.conns.append(conn)
        self.fake.ws_paths_used.append(request.path)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.received.append(msg.data)
                    await self._send(conn, frames.ack("", "", "", codes.WS_BAD_MESSAGE))
        finally:
            conn.closed = True
        return ws

    async def _send(self, conn: WsConn, frame: Frame | str) -> int:
        if conn.closed or conn.ws.closed:
            return 0
        text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
        try:
            await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return 0
        if not isinstance(frame, str):
            conn.sent.append(frame)
        return 1

    async def _on_text(self, conn: WsConn, text: str) -> None:
        try:
            msg: Any = json.loads(text)
        except ValueError:
            msg = None
        conn.received.append(msg if msg is not None else text)
        header = msg.get("header") if isinstance(msg, dict) else None
        body = msg.get("body") if isinstance(msg, dict) else None
        if not isinstance(header, dict) or not isinstance(body, dict):
            await self._send(conn, frames.ack("", "", "", codes.WS_BAD_MESSAGE))
            return
        tr_cd, tr_key, tr_type = body.get("tr_cd"), body.get("tr_key", ""), header.get("tr_type")

        async def refuse(code: Code) -> None:
            await self._send(conn, frames.ack(str(tr_cd or ""), str(tr_key or ""), str(tr_type or ""), code))

        token = header.get("token")
        tok = self.fake.valid_token(token) if isinstance(token, str) else None
        if tok is None:
            # The token must be in every message (brokers.md 1.2); what LS answers to a missing or
            # invalid one is UNCONFIRMED: an error ack by default, or close the socket.
            if self.fake.ws_bad_token == "close":
                await conn.ws.close(code=1008, message=b"invalid token")
            else:
                await refuse(codes.WS_BAD_TOKEN)
            return
        # tr_type, tr_cd and tr_key are Strings in the tables; a number is refused (UNCONFIRMED).
        if not isinstance(tr_cd, str) or not isinstance(tr_key, str) or not isinstance(tr_type, str):
            await refuse(codes.WS_BAD_MESSAGE)
            return
        account, tick, afr = tr_cd in ACCOUNT_TRS, tr_cd in TICK_TRS, tr_cd == CONDITION_TR
        if not (account or tick or afr):
            await refuse(codes.WS_BAD_TR)
            return
        # 1/2 for the account feeds, 3/4 for the rest (brokers.md 1.3; AFR is 3/4, condition-search
        # 3.5). Using the other pair is refused (UNCONFIRMED what LS does).
        if tr_type not in (("1", "2") if account else ("3", "4")):
            await refuse(codes.WS_BAD_TR_TYPE)
            return
        if afr and tok.env == "paper" and self.fake.paper_condition_search == "refuse":
            await refuse(codes.E_PAPER_UNSUPPORTED)
            return
        keys = self._keys(tr_cd, tr_key)
        if keys is None:
            await refuse(codes.WS_BAD_KEY)
            return
        if tr_type in ("1", "3"):
            new = [k for k in keys if (tr_cd, k) not in conn.subs]
            cap = self.fake.max_ws_registrations
            if cap is not None and len(conn.subs) + len(new) > cap:
                await refuse(codes.WS_TOO_MANY)
                return
            for k in keys:
                conn.subs[(tr_cd, k)] = tok.env
        else:
            # Unregistering what is not registered is acknowledged too (UNCONFIRMED).
            for k in keys:
                conn.subs.pop((tr_cd, k), None)
        await self._send(conn, frames.ack(tr_cd, tr_key, tr_type, codes.WS_OK))
        if afr and tr_type == "3" and self.fake.afr_replay_on_subscribe:
            await self._replay_afr(conn, tr_key)

    def _keys(self, tr_cd: str, tr_key: str) -> list[str] | None:
        if tr_cd in ACCOUNT_TRS:
            return [""]  # "계좌등록/해제 일 경우 필수값 아님": whatever is sent, one account feed
        if tr_cd == CONDITION_TR:
            reg = self.fake.conditions.registrations.get(tr_key)
            # Subscribing a key t1860 never issued (or stopped) is refused (UNCONFIRMED).
            return [tr_key] if reg is not None and reg.active else None
        # Ticks: "단축코드 6자리 또는 8자리 (단건, 연속)" with concatenation ("005930000660",
        # [ebest-pkg] sample 21). The fake takes 6-character codes only.
        if not tr_key or len(tr_key) % 6:
            return None
        keys = [tr_key[i : i + 6] for i in range(0, len(tr_key), 6)]
        return keys if all(krx.CODE_RE.match(k) for k in keys) else None

    async def _replay_afr(self, conn: WsConn, alert: str) -> None:
        reg = self.fake.conditions.registrations[alert]
        for code in self.fake.conditions.saved[reg.query_index].members:
            inst = self.fake.tape.instruments[code]
            await self._send(conn, frames.data(CONDITION_TR, alert, frames.afr_body(inst, "N")))

    # ------------------------------------------------------------------ publishing

    def tick_codes(self) -> set[str]:
        """Codes some connection gets ticks for (S3_ on a KOSPI code or K3_ on a KOSDAQ one)."""
        out = set()
        for conn in self.open_connections:
            for tr_cd, key in conn.subs:
                inst = self.fake.tape.instruments.get(key) if tr_cd in TICK_TRS else None
                if inst is not None and TICK_TRS[tr_cd] == inst.market:
                    out.add(key)
        return out

    async def publish_tick(self, inst: Instrument, trade: Trade, jnil_volume: int) -> None:
        # S3_ for KOSPI, K3_ for KOSDAQ: a subscription of the other TR on a code never ticks
        # (what LS does with it is UNCONFIRMED; it is acknowledged like any other).
        tr_cd = "S3_" if inst.market == "KOSPI" else "K3_"
        frame: Frame | None = None
        for conn in self.open_connections:
            if (tr_cd, inst.code) in conn.subs:
                frame = frame or frames.data(tr_cd, inst.code, frames.tick_body(inst, trade, jnil_volume))
                await self._send(conn, frame)

    async def publish_account(self, tr_cd: str, body: dict[str, str], env: str) -> None:
        tr_key = "" if self.fake.account_frame_tr_key else None
        frame = frames.data(tr_cd, tr_key, body)
        for conn in self.open_connections:
            if conn.subs.get((tr_cd, "")) == env:
                await self._send(conn, frame)

    async def publish_afr(self, reg: Registration, inst: Instrument, flag: str) -> None:
        frame = frames.data(CONDITION_TR, reg.alert_num, frames.afr_body(inst, flag))
        for conn in self.open_connections:
            if (CONDITION_TR, reg.alert_num) in conn.subs:
                await self._send(conn, frame)

    async def send_raw(self, frame: Frame | str, conn_id: int | None = None) -> int:
        sent = 0
        for conn in self.open_connections:
            if conn_id is None or conn.id == conn_id:
                sent += await self._send(conn, frame)
        return sent

    async def drop_all(self) -> int:
        dropped = 0
        for conn in self.open_connections:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
        return dropped

    async def close_all(self) -> None:
        for conn in self.open_connections:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"server shutdown")
