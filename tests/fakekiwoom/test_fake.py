"""The fake Kiwoom server against a tiny raw client (aiohttp HTTP + websocket), not an adapter.

The client here speaks the wire as the reference describes it (headers, envelopes, frames) and
checks the fake's frames against the reference's verbatim examples (condition-search.md section 6,
brokers.md section 3.3), so these tests check the fake against the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
import pytest

from engine.clock import SEOUL, Clock
from tests import fakekrx as krx
from tests.conftest import eventually
from tests.fakekiwoom import DEFAULT_KEYS, REFERENCE_FRAMES, ConditionSettings, FakeKiwoom, WsSettings

FakeFactory = Callable[..., Awaitable[FakeKiwoom]]
ORDR, ACNT, STKINFO, CHART = "/api/dostk/ordr", "/api/dostk/acnt", "/api/dostk/stkinfo", "/api/dostk/chart"
REF = {name: json.loads(text) for name, text in REFERENCE_FRAMES.items()}


def is_reply(trnm: str, seq: str, frame: dict[str, Any]) -> bool:
    return bool(frame.get("trnm") == trnm and frame.get("seq") == seq)


def values_keys(frame: dict[str, Any]) -> set[str]:
    return set(frame["data"][0]["values"])


@pytest.fixture
async def make_fake() -> AsyncIterator[FakeFactory]:
    fakes: list[FakeKiwoom] = []

    async def factory(**kwargs: Any) -> FakeKiwoom:
        kwargs.setdefault("rate_limits", None)
        fake = FakeKiwoom(**kwargs)
        await fake.start()
        fakes.append(fake)
        return fake

    yield factory
    for fake in fakes:
        await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Rest:
    """POST with api-id / authorization / cont-yn / next-key headers, JSON in and out."""

    def __init__(self, fake: FakeKiwoom, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.token = ""

    async def issue_token(
        self, key: str | None = None, secret: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        body = {
            "grant_type": "client_credentials",
            "appkey": key or self.fake.app_key,
            "secretkey": secret or self.fake.app_secret,
        }
        async with self.session.post(
            f"{self.fake.url}/oauth2/token", json=body, headers={"api-id": "au10001"}
        ) as r:
            data = await r.json()
        if data.get("return_code") == 0:
            self.token = data["token"]
        return r.status, data

    async def call(
        self,
        api_id: str,
        path: str,
        body: Any,
        *,
        cont_yn: str = "",
        next_key: str = "",
        timeout: float | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "api-id": api_id,
            "authorization": f"Bearer {self.token}",
        }
        if cont_yn:
            headers |= {"cont-yn": cont_yn, "next-key": next_key}
        async with self.session.post(
            f"{self.fake.url}{path}",
            data=json.dumps(body),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as r:
            text = await r.text()
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            return r.status, dict(r.headers), parsed

    async def ok(self, api_id: str, path: str, body: Any, **kw: Any) -> tuple[dict[str, str], dict[str, Any]]:
        status, headers, data = await self.call(api_id, path, body, **kw)
        assert status == 200 and data["return_code"] == 0, data
        return headers, data

    async def all_pages(
        self, api_id: str, path: str, body: Any, list_key: str
    ) -> tuple[list[Any], list[str]]:
        rows: list[Any] = []
        conts: list[str] = []
        cont, key = "", ""
        while True:
            headers, data = await self.ok(api_id, path, body, cont_yn=cont, next_key=key)
            rows += data[list_key]
            conts.append(headers["cont-yn"])
            if headers["cont-yn"] != "Y":
                return rows, conts
            cont, key = "Y", headers["next-key"]

    async def order(
        self, side: str, code: str, qty: int, price: int | None = None, stex: str = "KRX", **kw: Any
    ) -> tuple[int, dict[str, str], Any]:
        body = {
            "dmst_stex_tp": stex,
            "stk_cd": code,
            "ord_qty": str(qty),
            "ord_uv": "" if price is None else str(price),
            "trde_tp": "3" if price is None else "0",
            "cond_uv": "",
        }
        return await self.call("kt10000" if side == "buy" else "kt10001", ORDR, body, **kw)


class Ws:
    """A websocket session: JSON frames, PINGs echoed byte for byte unless told not to."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, echo: bool = True) -> None:
        self.ws = ws
        self.echo = echo
        self.pending: list[str] = []
        self.pings: list[str] = []

    async def send(self, obj: Any) -> None:
        await self.ws.send_str(obj if isinstance(obj, str) else json.dumps(obj))

    async def _recv(self, timeout: float) -> str | None:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        text = str(msg.data)
        if text.strip() == "PING" or '"trnm": "PING"' in text or '"trnm":"PING"' in text:
            self.pings.append(text)
            if self.echo:
                with contextlib.suppress(ConnectionError):  # a PING racing the server's close
                    await self.ws.send_str(text)
            return ""
        return text

    async def next(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 3.0) -> dict[str, Any]:
        for i, waiting in enumerate(self.pending):
            if pred(json.loads(waiting)):
                return dict(json.loads(self.pending.pop(i)))
        async with asyncio.timeout(timeout):
            while True:
                text = await self._recv(timeout)
                if text is None:
                    raise ConnectionError("websocket closed")
                if not text:
                    continue
                frame = json.loads(text)
                if pred(frame):
                    return dict(frame)
                self.pending.append(text)

    async def trnm(self, name: str, timeout: float = 3.0) -> dict[str, Any]:
        return await self.next(lambda f: f.get("trnm") == name, timeout)

    async def real(self, type_: str, timeout: float = 3.0) -> dict[str, Any]:
        return await self.next(lambda f: f.get("trnm") == "REAL" and f["data"][0]["type"] == type_, timeout)

    async def quiet(self, seconds: float) -> list[str]:
        """Every non-PING frame received within `seconds` (PINGs are echoed and counted)."""
        got = list(self.pending)
        self.pending.clear()
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                text = await self._recv(left)
            except TimeoutError:
                break
            if text is None:
                break
            if text:
                got.append(text)
        return got

    async def login(self, token: str) -> dict[str, Any]:
        await self.send({"trnm": "LOGIN", "token": token})
        return await self.trnm("LOGIN")

    async def reg(self, type_: str, items: list[str], grp: str = "1", trnm: str = "REG") -> dict[str, Any]:
        body: dict[str, Any] = {"trnm": trnm, "grp_no": grp, "data": [{"item": items, "type": [type_]}]}
        if trnm == "REG":
            body["refresh"] = "1"
        await self.send(body)
        return await self.trnm(trnm)


async def open_ws(
    fake: FakeKiwoom, session: aiohttp.ClientSession, token: str | None = None, echo: bool = True
) -> Ws:
    ws = Ws(await session.ws_connect(fake.ws_url, autoping=True), echo=echo)
    if token is not None:
        ack = await ws.login(token)
        assert ack["return_code"] == 0, ack
    return ws


async def ready(make_fake: FakeFactory, session: aiohttp.ClientSession, **kw: Any) -> tuple[FakeKiwoom, Rest]:
    fake = await make_fake(**kw)
    rest = Rest(fake, session)
    status, data = await rest.issue_token()
    assert status == 200 and data["return_code"] == 0, data
    return fake, rest


# ---------------------------------------------------------------------------- token


async def test_token_expires_dt_is_seoul_time_and_envelope_matches(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    clock = Clock.at(datetime(2026, 3, 5, 10, 15, 0), frozen=True)
    fake = await make_fake(clock=clock)
    rest = Rest(fake, session)
    status, data = await rest.issue_token()
    assert status == 200
    assert set(data) == set(REF["au10001"])
    assert data["token_type"] == "bearer" and data["return_code"] == 0
    # expires_dt is KST YYYYMMDDHHMMSS; lifetime 24 h by default.
    assert data["expires_dt"] == "20260306101500"
    assert len(fake.tokens_issued) == 1 and fake.tokens_issued[0].env == "paper"
    # A frozen clock moved past the expiry: the token is now refused with 8005.
    fake.advance_clock(86_401)
    status, _, body = await rest.call("ka00001", ACNT, {})
    assert status == 200 and body["return_code"] == 8005


async def test_paper_and_real_keys_are_separate(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    paper = await make_fake(env="paper")
    real = await make_fake(env="real")
    assert paper.app_key != real.app_key
    _, data = await Rest(paper, session).issue_token(*DEFAULT_KEYS["real"])
    assert data["return_code"] == 8030  # a real key on the paper server
    _, data = await Rest(real, session).issue_token(*DEFAULT_KEYS["paper"])
    assert data["return_code"] == 8030
    _, data = await Rest(paper, session).issue_token("nope", "nope")
    assert data["return_code"] == 8001
    _, data = await Rest(paper, session).issue_token(paper.app_key, "wrong")
    assert data["return_code"] == 8002
    # A token of one server means nothing to the other.
    real_rest = Rest(real, session)
    await real_rest.issue_token()
    paper_rest = Rest(paper, session)
    paper_rest.token = real_rest.token
    _, _, body = await paper_rest.call("ka00001", ACNT, {})
    assert body["return_code"] == 8005


async def test_revoke_then_expired_codes(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake, rest = await ready(make_fake, session)
    body = {"appkey": fake.app_key, "secretkey": fake.app_secret, "token": rest.token}
    async with session.post(f"{fake.url}/oauth2/revoke", json=body, headers={"api-id": "au10002"}) as r:
        assert (await r.json())["return_code"] == 0
    _, _, data = await rest.call("ka00001", ACNT, {})
    assert data["return_code"] == 8005
    for code in (8005, 8031, 8103):
        await rest.issue_token()
        _, data = await rest.ok("ka00001", ACNT, {})
        assert data["acctNo"] == "5012345678"
        fake.expire_tokens(code)
        _, _, data = await rest.call("ka00001", ACNT, {})
        assert data["return_code"] == code
    fake.auth_error_style = "wrapped"
    _, _, data = await rest.call("ka00001", ACNT, {})
    assert data["return_code"] != 0 and "[8103:" in data["return_msg"]


# ---------------------------------------------------------------------------- envelope & paging


async def test_envelope_headers_and_api_id_checks(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    _fake, rest = await ready(make_fake, session)
    headers, data = await rest.ok("ka00001", ACNT, {})
    assert headers["api-id"] == "ka00001" and headers["cont-yn"] == "N"
    assert data["return_msg"]
    # The api-id must belong to the URL; unknown ids are refused; bodies are string-valued JSON.
    _, _, data = await rest.call("kt00018", ORDR, {"qry_tp": "1", "dmst_stex_tp": "KRX"})
    assert data["return_code"] == 1504
    _, _, data = await rest.call("kt99999", ACNT, {})
    assert data["return_code"] == 1504
    _, _, data = await rest.call("kt00018", ACNT, {"qry_tp": 1, "dmst_stex_tp": "KRX"})
    assert data["return_code"] == 1501
    rest.token = "garbage"
    _, _, data = await rest.call("ka00001", ACNT, {})
    assert data["return_code"] == 8005


async def test_balance_positions_paging_and_number_formats(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session, page_sizes={"kt00018": 3})
    codes = fake.seed_positions(7)
    rows, conts = await rest.all_pages(
        "kt00018", ACNT, {"qry_tp": "1", "dmst_stex_tp": "KRX"}, "acnt_evlt_remn_indv_tot"
    )
    assert conts == ["Y", "Y", "N"]
    assert [r["stk_cd"] for r in rows] == [f"A{c}" for c in codes]  # "A" prefix here
    first = rows[0]
    assert re.fullmatch(r"\d{15}", first["rmnd_qty"]) and int(first["rmnd_qty"]) == 10
    assert re.fullmatch(r"-?\d{11,12}", first["cur_prc"]) and len(first["cur_prc"]) == 12
    assert re.fullmatch(r"-?\d+\.\d\d", first["prft_rt"])
    # evltv_prft = evlt_amt - pur_amt - sum_cmsn - tax (true of the spec example too); signed padding.
    pl = int(first["evlt_amt"]) - int(first["pur_amt"]) - int(first["sum_cmsn"]) - int(first["tax"])
    assert int(first["evltv_prft"]) == pl and len(first["evltv_prft"]) == 15
    if pl < 0:
        assert first["evltv_prft"].startswith("-0")
    assert fake.pages_served["kt00018"] == 3
    # Paper serves KRX only.
    _, _, data = await rest.call("kt00018", ACNT, {"qry_tp": "1", "dmst_stex_tp": "NXT"})
    assert data["return_code"] != 0
    _, cash = await rest.ok("kt00001", ACNT, {"qry_tp": "3"})
    assert int(cash["entr"]) == 10_000_000 and len(cash["ord_alow_amt"]) == 15


# ---------------------------------------------------------------------------- orders & 00 frames


async def test_market_buy_fill_path_with_00_frames(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session)
    ws = await open_ws(fake, session, rest.token)
    assert (await ws.reg("00", [""]))["return_code"] == 0
    status, _, data = await rest.order("buy", "005930", 3)
    assert status == 200 and data["return_code"] == 0
    ord_no = data["ord_no"]
    assert re.fullmatch(r"\d{7}", ord_no) and data["dmst_stex_tp"] == "KRX"
    accepted = await ws.real("00")
    ref_keys = values_keys(REF["00"])
    assert values_keys(accepted) == ref_keys
    entry = accepted["data"][0]
    assert entry["name"] == "주문체결" and entry["item"] == "005930"
    v = entry["values"]
    assert (v["9203"], v["913"], v["902"], v["905"], v["906"], v["907"]) == (
        ord_no,
        "접수",
        "3",
        "+매수",
        "시장가",
        "2",
    )
    assert v["909"] == v["910"] == v["911"] == ""
    filled = (await ws.real("00"))["data"][0]["values"]
    assert set(filled) == ref_keys
    assert filled["913"] == "체결" and filled["902"] == "0" and filled["911"] == "3" and filled["915"] == "3"
    assert int(filled["910"]) > 0 and filled["909"]
    assert fake.order(ord_no).status == "filled" and len(fake.order_requests) == 1
    # The REST answer went out before the 00 frames.
    assert fake.timeline[0][0] == "rest"
    # Reconciliation queries agree.
    _, data = await rest.ok("ka10076", ACNT, {"qry_tp": "0", "sell_tp": "0", "stex_tp": "0", "ord_no": ""})
    [row] = data["cntr"]
    assert row["ord_no"] == ord_no and row["cntr_qty"] == "3" and row["ord_stt"] == "체결"
    assert row["stk_cd"] == "005930" and row["io_tp_nm"] == "+매수"
    _, data = await rest.ok("ka10075", ACNT, {"all_stk_tp": "0", "trde_tp": "0", "stex_tp": "0"})
    assert data["oso"] == []
    _, data = await rest.ok("kt00018", ACNT, {"qry_tp": "1", "dmst_stex_tp": "KRX"})
    [pos] = data["acnt_evlt_remn_indv_tot"]
    assert pos["stk_cd"] == "A005930" and int(pos["rmnd_qty"]) == 3 and int(pos["tdy_buyq"]) == 3


async def test_limit_order_partial_fill_then_cancel(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session, page_sizes={"kt00007": 1})
    fake.pause_tape()
    ws = await open_ws(fake, session, rest.token)
    await ws.reg("00", [""])
    price = fake.tape.symbols["005930"].price - 200
    _, _, data = await rest.order("buy", "005930", 100, price)
    ord_no = data["ord_no"]
    assert (await ws.real("00"))["data"][0]["values"]["913"] == "접수"
    await fake.trade("005930", price + 100, 50, "sell")  # above the limit: no fill
    await fake.trade("005930", price, 30, "sell")
    v = (await ws.real("00"))["data"][0]["values"]
    assert (v["913"], v["911"], v["915"], v["902"], v["910"]) == ("체결", "30", "30", "70", str(price))
    _, oso = await rest.ok(
        "ka10075", ACNT, {"all_stk_tp": "1", "trde_tp": "2", "stk_cd": "005930", "stex_tp": "0"}
    )
    [row] = oso["oso"]
    assert row["oso_qty"] == "70" and row["cntr_qty"] == "30" and row["orig_ord_no"] == "0000000"
    assert row["cur_prc"][0] in "+-" or row["cur_prc"].isdigit()
    # Cancel what remains: cncl_qty "0".
    _, cancel = await rest.ok(
        "kt10003", ORDR, {"dmst_stex_tp": "KRX", "orig_ord_no": ord_no, "stk_cd": "005930", "cncl_qty": "0"}
    )
    assert cancel["base_orig_ord_no"] == ord_no and cancel["cncl_qty"] == "000000000070"
    states = [(await ws.real("00"))["data"][0]["values"] for _ in range(3)]
    assert [(s["9203"], s["913"]) for s in states] == [
        (cancel["ord_no"], "접수"),
        (cancel["ord_no"], "확인"),
        (ord_no, "취소"),
    ]
    assert states[0]["904"] == ord_no and states[0]["905"] == "매수취소"
    assert fake.order(ord_no).status == "cancelled" and fake.order(ord_no).filled == 30
    rows, conts = await rest.all_pages(
        "kt00007",
        ACNT,
        {
            "ord_dt": "",
            "qry_tp": "1",
            "stk_bond_tp": "0",
            "sell_tp": "0",
            "stk_cd": "",
            "fr_ord_no": "",
            "dmst_stex_tp": "%",
        },
        "acnt_ord_cntr_prps_dtl",
    )
    assert conts == ["Y", "N"] and [r["ord_no"] for r in rows] == [ord_no, cancel["ord_no"]]
    assert rows[0]["stk_cd"] == "A005930" and rows[0]["cntr_qty"] == "0000000030"
    assert rows[1]["ori_ord"] == ord_no and re.fullmatch(r"\d\d:\d\d:\d\d", rows[1]["ord_tm"])
    # Cancelling again: nothing left.
    _, _, again = await rest.call(
        "kt10003", ORDR, {"dmst_stex_tp": "KRX", "orig_ord_no": ord_no, "stk_cd": "005930", "cncl_qty": "0"}
    )
    assert again["return_code"] != 0


async def test_order_validation_tick_limits_and_paper_krx_only(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session)
    base = fake.tape.symbols["005930"].base  # 62,700: tick 100
    lower, upper = krx.price_limits(base)
    assert (lower, upper) == (43_900, 81_500)
    _, _, data = await rest.order("buy", "005930", 1, 62_750)
    assert data["return_code"] != 0 and "62700" in data["return_msg"] and "62800" in data["return_msg"]
    _, _, data = await rest.order("buy", "005930", 1, upper + 100)
    assert data["return_code"] != 0 and "가격제한폭" in data["return_msg"]
    _, _, data = await rest.order("buy", "005930", 1, upper)
    assert data["return_code"] == 0
    _, _, data = await rest.order("buy", "005930", 1, 62_700, stex="NXT")
    assert data["return_code"] == 8104
    _, _, data = await rest.call(
        "kt10000",
        ORDR,
        {
            "dmst_stex_tp": "KRX",
            "stk_cd": "005930",
            "ord_qty": "1",
            "ord_uv": "62700",
            "trde_tp": "5",
            "cond_uv": "",
        },
    )
    assert data["return_code"] != 0
    _, _, data = await rest.order("sell", "005930", 1, 62_700)
    assert data["return_code"] != 0 and "매도가능수량" in data["return_msg"]
    _, _, data = await rest.order("buy", "A005930", 1, 62_700)
    assert data["return_code"] != 0
    assert len(fake.order_requests) == 7 and len(fake.orders) == 1
    real = await make_fake(env="real")
    real_rest = Rest(real, session)
    await real_rest.issue_token()
    _, _, data = await real_rest.order("buy", "005930", 1, 62_700, stex="NXT")
    assert data["return_code"] == 0


# ---------------------------------------------------------------------------- 0B ticks


async def test_0b_ticks_after_reg_and_not_after_remove(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session)
    ws = await open_ws(fake, session, rest.token)
    ack = await ws.reg("0B", ["005930"])
    assert set(ack) == set(REF["REG"]) and ack["return_code"] == 0
    tick = await ws.real("0B")
    entry = tick["data"][0]
    assert set(entry) == set(REF["0B"]["data"][0]) and values_keys(tick) == values_keys(REF["0B"])
    assert entry["item"] == "005930" and entry["name"] == "주식체결"
    fake.pause_tape()
    await ws.quiet(0.1)
    sym = fake.tape.symbols["005930"]
    below = sym.base - 100
    await fake.trade("005930", below, 7, "sell")
    v = (await ws.real("0B"))["data"][0]["values"]
    assert v["15"] == "-7" and v["10"] == f"-{below}" and v["11"] == "-100" and v["25"] == "5"
    assert v["12"].startswith("-") and re.fullmatch(r"\d{6}", v["20"])
    await fake.trade("005930", sym.base + 100, 5, "buy")
    v = (await ws.real("0B"))["data"][0]["values"]
    assert v["15"] == "+5" and v["10"] == f"+{sym.base + 100}" and v["25"] == "2"
    await fake.trade("005930", sym.base, 1, "buy")
    v = (await ws.real("0B"))["data"][0]["values"]
    assert v["10"] == str(sym.base) and v["11"] == "0" and v["25"] == "3"
    ack = await ws.reg("0B", ["005930"], trnm="REMOVE")
    assert ack["return_code"] == 0 and fake.registrations[fake.connections[0].id] == set()
    await fake.trade("005930", sym.base, 1, "buy")
    assert await ws.quiet(0.2) == []
    # Paper: KRX items only; unknown types are refused.
    assert (await ws.reg("0B", ["005930_NX"]))["return_code"] == 1
    assert (await ws.reg("0Z", ["005930"]))["return_code"] == 1


# ---------------------------------------------------------------------------- websocket session


async def test_login_first_ping_echo_and_single_session(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session, ws=WsSettings(ping_interval=0.1))
    ws = await open_ws(fake, session)
    # Before LOGIN everything is ignored: no ack, no data.
    await ws.send(
        {"trnm": "REG", "grp_no": "1", "refresh": "1", "data": [{"item": ["005930"], "type": ["0B"]}]}
    )
    assert await ws.quiet(0.3) == [] and ws.pings == []
    conn = fake.connections[0]
    assert len(conn.ignored) == 1 and conn.registrations == set()
    ack = await ws.login(rest.token)
    assert set(REF["LOGIN"]) <= set(ack) | {"sor_yn"} and ack["return_code"] == 0
    await ws.quiet(0.5)  # reading the socket echoes the PINGs
    assert fake.pings_answered >= 2 and fake.pings_answered == len(ws.pings)
    assert json.loads(ws.pings[0]) == {"trnm": "PING"} and conn.ping_mismatches == 0
    # A second LOGIN with the same app key ends the first session (SYSTEM R10001).
    other = await open_ws(fake, session, rest.token)
    system = await ws.trnm("SYSTEM")
    assert system["code"] == "R10001"
    await eventually(lambda: len(fake.connections) == 1, 3.0, "old session closed")
    await other.ws.close()


async def test_unanswered_pings_close_the_session(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(
        make_fake, session, ws=WsSettings(ping_interval=0.05, ping_miss_limit=3, ping_style="bare")
    )
    ws = await open_ws(fake, session, rest.token, echo=False)
    system = await ws.trnm("SYSTEM", timeout=3.0)
    assert system["code"] == "R10002" and ws.pings and set(ws.pings) == {"PING"}
    assert fake.pings_answered == 0 and fake.pings_sent == 3


async def test_login_with_bad_token(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake, rest = await ready(make_fake, session)
    fake.expire_tokens(8005)
    ws = await open_ws(fake, session)
    ack = await ws.login(rest.token)
    # Default: the third-party "wrapped" form, CODE=8005 inside return_msg.
    assert ack["return_code"] != 0 and "CODE=8005" in ack["return_msg"]
    await eventually(lambda: fake.connections == [], 3.0, "closed after failed LOGIN")
    fake.hub.settings.login_error_style = "code"
    ws = await open_ws(fake, session)
    assert (await ws.login(rest.token))["return_code"] == 8005


# ---------------------------------------------------------------------------- condition search


async def test_cnsrreq_before_cnsrlst_gets_no_answer_only_pings(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session, ws=WsSettings(ping_interval=0.1))
    fake.set_condition_members("1", ["005930"])
    ws = await open_ws(fake, session, rest.token)
    await ws.send({"trnm": "CNSRREQ", "seq": "1", "search_type": "1", "stex_tp": "K"})
    assert await ws.quiet(0.5) == []
    assert len(ws.pings) >= 2  # only PINGs came
    assert fake.connections[0].cond.unanswered and fake.conditions_registered[fake.connections[0].id] == set()
    await ws.send({"trnm": "CNSRLST"})
    lst = await ws.trnm("CNSRLST")
    assert set(lst) == set(REF["K1"]) and lst["data"] == [["0", "조건1"], ["1", "조건2"], ["2", "조건3"]]
    await ws.send({"trnm": "CNSRREQ", "seq": "1", "search_type": "1", "stex_tp": "K"})
    snap = await ws.trnm("CNSRREQ")
    assert snap["return_code"] == 0 and snap["data"] == [{"jmcode": "A005930"}]


async def test_cnsrlst_row_forms_and_padded_seq(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(
        make_fake, session, conditions=ConditionSettings(row_form="object", pad_seq=True)
    )
    fake.set_conditions([("0", "급등주"), ("7", "거래량 급증")])
    ws = await open_ws(fake, session, rest.token)
    await ws.send({"trnm": "CNSRLST"})
    lst = await ws.trnm("CNSRLST")
    assert lst["data"] == [{"seq": "0  ", "name": "급등주"}, {"seq": "7  ", "name": "거래량 급증"}]
    # A padded seq sent back is matched stripped and echoed padded, as in the ka10172 example.
    await ws.send(
        {"trnm": "CNSRREQ", "seq": "7  ", "search_type": "0", "stex_tp": "K", "cont_yn": "N", "next_key": ""}
    )
    reply = await ws.trnm("CNSRREQ")
    assert reply["seq"] == "7  " and reply["return_code"] == 0 and reply["data"] == []


async def test_cnsrreq_one_shot_rows_and_body_paging(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session)
    fake.set_page_size("CNSRREQ", 2)
    fake.set_condition_members("2", ["005930", "000660", "035720"])
    ws = await open_ws(fake, session, rest.token)
    await ws.send({"trnm": "CNSRLST"})
    await ws.trnm("CNSRLST")
    await ws.send(
        {"trnm": "CNSRREQ", "seq": "2", "search_type": "0", "stex_tp": "K", "cont_yn": "N", "next_key": ""}
    )
    page1 = await ws.trnm("CNSRREQ")
    assert set(page1) >= set(REF["K2"]) and page1["cont_yn"] == "Y" and page1["next_key"]
    row = page1["data"][0]
    assert set(row) == set(REF["K2"]["data"][0]) and row["9001"] == "A005930"
    assert all(re.fullmatch(r"-?\d{8,9}", row[f]) and len(row[f]) == 9 for f in ("10", "11", "12", "13"))
    await ws.send(
        {
            "trnm": "CNSRREQ",
            "seq": "2",
            "search_type": "0",
            "stex_tp": "K",
            "cont_yn": "Y",
            "next_key": page1["next_key"],
        }
    )
    page2 = await ws.trnm("CNSRREQ")
    assert page2["cont_yn"] == "N" and [r["9001"] for r in page2["data"]] == ["A035720"]


async def test_cnsrreq_realtime_snapshot_02_frames_and_clear(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session, conditions=ConditionSettings(max_realtime=2))
    fake.set_condition_members("0", ["005930"])
    ws = await open_ws(fake, session, rest.token)
    await ws.send({"trnm": "CNSRLST"})
    await ws.trnm("CNSRLST")
    await ws.send({"trnm": "CNSRREQ", "seq": "0", "search_type": "1", "stex_tp": "K"})
    snap = await ws.trnm("CNSRREQ")
    assert set(REF["K3_snapshot"]) <= set(snap) and snap["data"] == [{"jmcode": "A005930"}]
    assert fake.conditions_registered[fake.connections[0].id] == {"0"}
    assert await fake.condition_enter("0", "000660") == 1
    entered = await ws.real("02")
    assert set(entered) == set(REF["K3"]) and set(entered["data"][0]) == set(REF["K3"]["data"][0])
    assert values_keys(entered) == values_keys(REF["K3"])
    e = entered["data"][0]
    assert (e["name"], e["item"], e["values"]["841"], e["values"]["9001"], e["values"]["843"]) == (
        "조건검색",
        "000660",
        "0",
        "000660",
        "I",
    )
    await fake.condition_leave("0", "005930")
    left = await ws.real("02")
    assert values_keys(left) >= values_keys(REF["K4"]) and left["data"][0]["values"]["843"] == "D"
    # The limit of realtime conditions per login (set to 2 here; 10 by default).
    for seq in ("1", "2"):
        await ws.send({"trnm": "CNSRREQ", "seq": seq, "search_type": "1", "stex_tp": "K"})
        reply = await ws.next(partial(is_reply, "CNSRREQ", seq))
        assert (reply["return_code"] == 0) == (seq == "1"), reply
    await ws.send({"trnm": "CNSRCLR", "seq": "0"})
    clr = await ws.trnm("CNSRCLR")
    assert set(clr) == set(REF["K5"]) and clr["return_code"] == 0 and clr["seq"] == "0"
    assert await fake.condition_enter("0", "035720") == 0  # no longer pushed
    await ws.send({"trnm": "CNSRCLR", "seq": "2"})
    assert (await ws.trnm("CNSRCLR"))["return_code"] != 0  # never registered


# ---------------------------------------------------------------------------- faults


async def test_fail_next_is_a_bare_status_and_creates_nothing(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session)
    fake.fail_next("kt10000", 503)
    status, _, data = await rest.order("buy", "005930", 1)
    assert status == 503 and isinstance(data, str)
    assert fake.orders == [] and len(fake.order_requests) == 1 and fake.order_requests[0].status == 503
    status, _, data = await rest.order("buy", "005930", 1)
    assert status == 200 and data["return_code"] == 0


async def test_5xx_after_the_order_was_created(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake, rest = await ready(make_fake, session)
    ws = await open_ws(fake, session, rest.token)
    await ws.reg("00", [""])
    fake.fail_next_orders(1, status=500)
    status, _, data = await rest.order("buy", "005930", 2)
    assert status == 500 and isinstance(data, str)
    # ... but the order exists, was accepted and filled, and is visible to reconciliation.
    [order] = fake.orders
    assert order.status == "filled" and fake.order_requests[0].injected == "500_after_create"
    assert (await ws.real("00"))["data"][0]["values"]["9203"] == order.ord_no
    _, data = await rest.ok("ka10076", ACNT, {"qry_tp": "0", "sell_tp": "0", "stex_tp": "0"})
    assert [r["ord_no"] for r in data["cntr"]] == [order.ord_no]


async def test_fill_notice_before_rest_answer(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake, rest = await ready(make_fake, session)
    ws = await open_ws(fake, session, rest.token)
    await ws.reg("00", [""])
    fake.notice_before_answer()
    _, _, data = await rest.order("buy", "005930", 1)
    ord_no = data["ord_no"]
    assert [kind for kind, _ in fake.timeline] == ["00", "00", "rest"]
    assert fake.timeline[1] == ("00", f"{ord_no}:체결")
    # Delayed answer: the 00 frames arrive while the POST is still waiting.
    fake.delay_next_order_answer(0.5)
    post = asyncio.create_task(rest.order("buy", "005930", 1))
    await ws.real("00")
    filled = await ws.next(
        lambda f: (
            f.get("trnm") == "REAL"
            and f["data"][0]["values"]["913"] == "체결"
            and f["data"][0]["values"]["9203"] != ord_no
        )
    )
    assert not post.done()
    _, _, data = await post
    assert data["ord_no"] == filled["data"][0]["values"]["9203"]


async def test_reject_after_answer(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake, rest = await ready(make_fake, session)
    ws = await open_ws(fake, session, rest.token)
    await ws.reg("00", [""])
    fake.reject_next_orders()
    _, _, data = await rest.order("buy", "005930", 1, 62_700)
    assert data["return_code"] == 0
    states = [(await ws.real("00"))["data"][0]["values"]["913"] for _ in range(2)]
    assert states == ["접수", "거부"] and fake.order(data["ord_no"]).status == "rejected"


async def test_rate_limit_1700_both_forms(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake, rest = await ready(make_fake, session, rate_limits="env")  # paper: 1 query/s
    body = {"qry_tp": "1", "dmst_stex_tp": "KRX"}
    await rest.ok("kt00018", ACNT, body)
    _, _, data = await rest.call("kt00018", ACNT, body)
    # Default: the corroborated form, return_code 5 with [1700:...] in the message.
    assert data["return_code"] == 5 and re.search(r"\[(\d+)", data["return_msg"]).group(1) == "1700"  # type: ignore[union-attr]
    await asyncio.sleep(1.05)
    await rest.ok("kt00018", ACNT, body)
    fake.set_rate_limits(None)
    for _ in range(5):
        await rest.ok("kt00018", ACNT, body)
    # On demand, in the plain form, for one api-id: no order is created.
    fake.rate_limit_next(1, api_id="kt10000", style="code")
    _, _, data = await rest.order("buy", "005930", 1)
    assert data["return_code"] == 1700 and fake.orders == []
    assert fake.order_requests[-1].injected == "rate_limit"
    _, _, data = await rest.order("buy", "005930", 1)
    assert data["return_code"] == 0
    _real, real_rest = await ready(make_fake, session, env="real", rate_limits="env")
    for _ in range(5):
        await real_rest.ok("kt00018", ACNT, body)
    _, _, data = await real_rest.call("kt00018", ACNT, body)
    assert "[1700:" in data["return_msg"]


async def test_drop_websockets(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake, rest = await ready(make_fake, session)
    ws = await open_ws(fake, session, rest.token)
    assert await fake.drop_websockets() == 1
    msg = await ws.ws.receive(timeout=3.0)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    await eventually(lambda: fake.connections == [], 3.0, "server side gone")
    ws2 = await open_ws(fake, session, rest.token)  # a reconnect works
    assert (await ws2.reg("0B", ["005930"]))["return_code"] == 0


# ---------------------------------------------------------------------------- market data


async def test_instrument_info_bars_and_yesterday(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    clock = Clock.at(datetime(2026, 3, 5, 10, 15, 0))
    fake, rest = await ready(make_fake, session, clock=clock, history_minutes=12, page_sizes={"ka10080": 5})
    sym = fake.tape.symbols["005930"]
    _, info = await rest.ok("ka10001", STKINFO, {"stk_cd": "005930"})
    assert (
        info["base_pric"] == str(sym.base) and info["upl_pric"] == "+81500" and info["lst_pric"] == "-43900"
    )
    assert info["cur_prc"] in (str(sym.price), f"+{sym.price}", f"-{sym.price}")
    rows, conts = await rest.all_pages(
        "ka10080",
        CHART,
        {"stk_cd": "005930", "tic_scope": "1", "upd_stkpc_tp": "1"},
        "stk_min_pole_chart_qry",
    )
    assert len(rows) == 12 and conts == ["Y", "Y", "N"]
    stamps = [r["cntr_tm"] for r in rows]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] == "20260305101400"
    assert all(re.fullmatch(r"[+-]?\d+", r["cur_prc"]) for r in rows)
    five = (await rest.ok("ka10080", CHART, {"stk_cd": "005930", "tic_scope": "5", "upd_stkpc_tp": "1"}))[1]
    assert [r["cntr_tm"][8:12] for r in five["stk_min_pole_chart_qry"]] == ["1010", "1005", "1000"]
    _, daily = await rest.ok(
        "ka10081", CHART, {"stk_cd": "005930", "base_dt": "20260305", "upd_stkpc_tp": "1"}
    )
    today, yesterday = daily["stk_dt_pole_chart_qry"][:2]
    assert today["dt"] == "20260305" and yesterday["dt"] == "20260304"
    assert int(yesterday["cur_prc"]) == sym.base
    assert int(yesterday["low_pric"]) <= sym.base <= int(yesterday["high_pric"])
    _, _, data = await rest.call("ka10001", STKINFO, {"stk_cd": "005930_NX"})
    assert data["return_code"] != 0  # paper: KRX only


async def test_clock_drives_order_times(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    clock = Clock.at(datetime(2026, 3, 5, 14, 1, 2), frozen=True)
    fake, rest = await ready(make_fake, session, clock=clock)
    _, _, data = await rest.order("buy", "005930", 1, 62_700)
    order = fake.order(data["ord_no"])
    assert (order.ord_dt, order.ord_tm) == ("20260305", "140102")
    assert fake.now() == datetime(2026, 3, 5, 14, 1, 2, tzinfo=SEOUL)
    clock.advance(timedelta(days=1).total_seconds())
    _, _, data = await rest.call("ka00001", ACNT, {})
    assert data["return_code"] == 8005


async def test_running_tape_fills_a_limit_order(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    """No manual prints: the seeded random walk alone trades through a marketable limit buy."""
    fake, rest = await ready(make_fake, session, tick_interval=0.01, seed=7)
    ws = await open_ws(fake, session, rest.token)
    await ws.reg("00", [""])
    sym = fake.tape.symbols["000660"]
    price = krx.round_down(sym.price + 5 * krx.tick_size(sym.price))
    fake.set_cash(1_000_000_000)
    _, _, data = await rest.order("buy", "000660", 400, price)
    order = fake.order(data["ord_no"])
    fills: list[dict[str, str]] = []
    while order.remaining:
        v = (await ws.real("00", timeout=10.0))["data"][0]["values"]
        if v["913"] == "체결":
            fills.append(v)
    assert sum(int(f["915"]) for f in fills) == 400 and fills[-1]["911"] == "400" and fills[-1]["902"] == "0"
    assert len(fills) >= 2 and all(int(f["910"]) <= price for f in fills)  # partial fills first
    assert order.status == "filled" and fake.working_orders == []
