"""The fake KIS server against a tiny raw client (aiohttp + websockets + AES), not the adapter.

The client here decodes the wire on its own (its own AES, its own field indices) so these tests
check the fake against the reference, not against the fake's helpers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import websockets
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from websockets.asyncio.client import ClientConnection, connect

from tests import fakekrx as krx
from tests.conftest import eventually
from tests.fakekis.server import FakeKis

TRADING = "/uapi/domestic-stock/v1/trading"
CAPTURED = (
    "0|H0STCNT0|001|005930^112616^62700^2^400^0.64^62700.41^62700^63000^62300^62700^62600^125^"
    "9694968^607878273600^25807^15918^-9889^93.01^4614191^4291558^1^0.45^63.03^090013^3^0^090646^5^"
    "-300^100741^2^400^20230324^20^N^71292^244009^2795345^2044512^0.16^5367918^180.61^0^^62700"
)
# Notice field indices of the official 26-field layout.
ODER_NO, OODER_NO, SELN_BYOV, RCTF, CODE, QTY, PRICE, RFUS, CNTG_YN, ACPT_YN, ODER_QTY = (
    2,
    3,
    4,
    5,
    8,
    9,
    10,
    12,
    13,
    14,
    16,
)

FakeFactory = Callable[..., Awaitable[FakeKis]]


def decrypt(cipher_text: str, key: str, iv: str) -> str:
    dec = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    raw = dec.update(base64.b64decode(cipher_text)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(raw) + unpadder.finalize()).decode("utf-8")


@pytest.fixture
async def make_fake() -> AsyncIterator[FakeFactory]:
    fakes: list[FakeKis] = []

    async def factory(**kwargs: Any) -> FakeKis:
        fake = FakeKis(**kwargs)
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


class Raw:
    """REST with the KIS headers and envelopes, nothing more."""

    def __init__(self, fake: FakeKis, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.token = ""
        self.paper = fake.env == "paper"

    def tr(self, real_id: str) -> str:
        return "V" + real_id[1:] if self.paper else real_id

    async def issue_token(self, secret: str | None = None) -> tuple[int, dict[str, Any]]:
        body = {
            "grant_type": "client_credentials",
            "appkey": self.fake.app_key,
            "appsecret": secret or self.fake.app_secret,
        }
        async with self.session.post(f"{self.fake.url}/oauth2/tokenP", json=body) as r:
            data = await r.json()
        if r.status == 200:
            self.token = data["access_token"]
        return r.status, data

    async def approval(self) -> str:
        body = {
            "grant_type": "client_credentials",
            "appkey": self.fake.app_key,
            "secretkey": self.fake.app_secret,
        }
        async with self.session.post(f"{self.fake.url}/oauth2/Approval", json=body) as r:
            assert r.status == 200
            return str((await r.json())["approval_key"])

    def headers(self, tr_id: str, tr_cont: str = "") -> dict[str, str]:
        return {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {self.token}",
            "appkey": self.fake.app_key,
            "appsecret": self.fake.app_secret,
            "tr_id": tr_id,
            "custtype": "P",
            "tr_cont": tr_cont,
        }

    async def post(self, path: str, tr_id: str, body: Any, timeout: float | None = None) -> tuple[int, Any]:
        async with self.session.post(
            f"{self.fake.url}{path}",
            headers=self.headers(tr_id),
            data=json.dumps(body),
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def get(
        self, path: str, tr_id: str, params: dict[str, str], tr_cont: str = ""
    ) -> tuple[int, Any, str]:
        async with self.session.get(
            f"{self.fake.url}{path}", headers=self.headers(tr_id, tr_cont), params=params
        ) as r:
            return r.status, await r.json(), r.headers.get("tr_cont", "")

    def order_body(self, code: str, qty: int, price: int, dvsn: str = "00") -> dict[str, str]:
        return {
            "CANO": "12345678",
            "ACNT_PRDT_CD": "01",
            "PDNO": code,
            "ORD_DVSN": dvsn,
            "ORD_QTY": str(qty),
            "ORD_UNPR": str(price),
            "EXCG_ID_DVSN_CD": "KRX",
            "SLL_TYPE": "",
            "CNDT_PRIC": "",
        }

    async def order(
        self, side: str, code: str, qty: int, price: int = 0, *, timeout: float | None = None
    ) -> tuple[int, Any]:
        tr_id = self.tr("TTTC0012U" if side == "buy" else "TTTC0011U")
        body = self.order_body(code, qty, price, "01" if price == 0 else "00")
        return await self.post(f"{TRADING}/order-cash", tr_id, body, timeout)

    async def cancel(self, odno: str, qty: int = 0, all_qty: str = "Y") -> tuple[int, Any]:
        body = {
            "CANO": "12345678",
            "ACNT_PRDT_CD": "01",
            "KRX_FWDG_ORD_ORGNO": "91252",
            "ORGN_ODNO": odno,
            "ORD_DVSN": "00",
            "RVSE_CNCL_DVSN_CD": "02",
            "ORD_QTY": str(qty),
            "ORD_UNPR": "0",
            "QTY_ALL_ORD_YN": all_qty,
            "EXCG_ID_DVSN_CD": "KRX",
        }
        return await self.post(f"{TRADING}/order-rvsecncl", self.tr("TTTC0013U"), body)

    def balance_params(self, fk: str = "", nk: str = "") -> dict[str, str]:
        return {
            "CANO": "12345678",
            "ACNT_PRDT_CD": "01",
            "AFHR_FLPR_YN": "N",
            "OFL_YN": "",
            "INQR_DVSN": "02",
            "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N",
            "FNCG_AMT_AUTO_RDPT_YN": "N",
            "PRCS_DVSN": "00",
            "CTX_AREA_FK100": fk,
            "CTX_AREA_NK100": nk,
        }

    async def balance_all(self) -> tuple[list[dict[str, str]], list[str], dict[str, str]]:
        rows: list[dict[str, str]] = []
        conts: list[str] = []
        fk = nk = cont = ""
        while True:
            status, body, resp_cont = await self.get(
                f"{TRADING}/inquire-balance", self.tr("TTTC8434R"), self.balance_params(fk, nk), cont
            )
            assert status == 200 and body["rt_cd"] == "0", body
            rows += body["output1"]
            conts.append(resp_cont)
            if resp_cont not in ("F", "M"):
                return rows, conts, body["output2"][0]
            fk, nk, cont = body["ctx_area_fk100"], body["ctx_area_nk100"], "N"


class Ws:
    """A KIS websocket session: JSON control in, acks and `|` data frames out."""

    def __init__(self, conn: ClientConnection, approval: str) -> None:
        self.conn = conn
        self.approval = approval
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}
        self.pending: list[str] = []

    async def send_reg(self, tr_id: str, tr_key: str, tr_type: str = "1") -> None:
        await self.conn.send(
            json.dumps(
                {
                    "header": {
                        "approval_key": self.approval,
                        "custtype": "P",
                        "tr_type": tr_type,
                        "content-type": "utf-8",
                    },
                    "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
                }
            )
        )

    async def next(self, pred: Callable[[str], bool], timeout: float = 3.0) -> str:
        for i, text in enumerate(self.pending):
            if pred(text):
                return self.pending.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                text = str(await self.conn.recv())
                if pred(text):
                    return text
                self.pending.append(text)

    async def control(self, tr_id: str, tr_key: str, tr_type: str = "1") -> dict[str, Any]:
        await self.send_reg(tr_id, tr_key, tr_type)

        def is_ack(text: str) -> bool:
            if not text.startswith("{"):
                return False
            header = json.loads(text)["header"]
            return bool(header.get("tr_id") == tr_id and header.get("tr_key") == tr_key)

        ack: dict[str, Any] = json.loads(await self.next(is_ack))
        if ack["body"]["rt_cd"] == "0" and tr_type == "1":
            out = ack["body"]["output"]
            self.keys[(tr_id, tr_key)] = (out["key"], out["iv"])
        return ack

    async def notice(self, tr_id: str, hts_id: str, timeout: float = 3.0) -> list[str]:
        text = await self.next(lambda t: t.startswith(f"1|{tr_id}|"), timeout)
        flag, _, count, payload = text.split("|", 3)
        assert flag == "1" and count == "001"
        key, iv = self.keys[(tr_id, hts_id)]
        return decrypt(payload, key, iv).split("^")


async def open_ws(fake: FakeKis, raw: Raw, path: str = "/tryitout") -> Ws:
    conn = await connect(f"{fake.ws_url}{path}", ping_interval=None)
    return Ws(conn, await raw.approval())


# ---------------------------------------------------------------------------- auth


async def test_token_flow_and_one_per_minute(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    status, body = await raw.issue_token()
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["access_token_token_expired"])
    first = body["access_token"]

    status, body = await raw.issue_token()
    assert status == 403 and body["error_code"] == "EGW00133" and "1분당 1회" in body["error_description"]
    fake.allow_token_in(0)
    status, body = await raw.issue_token()
    assert status == 200 and body["access_token"] == first  # same token within 6 hours
    fake.advance_clock(61)
    assert (await raw.issue_token())[0] == 200
    assert fake.tokens_issued == 3

    fake.advance_clock(61)
    status, body = await raw.issue_token(secret="wrong")
    assert status == 403 and body["error_code"].startswith("EGW")

    raw.token = "bogus"
    status, body, _ = await raw.get(f"{TRADING}/inquire-balance", "VTTC8434R", raw.balance_params())
    assert status == 500 and body["rt_cd"] == "1" and body["msg_cd"] == "EGW00121"

    raw.token = first
    fake.expire_tokens()
    status, body, _ = await raw.get(f"{TRADING}/inquire-balance", "VTTC8434R", raw.balance_params())
    assert body["msg_cd"] == "EGW00121"
    status, body = await raw.issue_token()
    assert status == 200 and body["access_token"] != first


async def test_approval_key_uses_secretkey(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    key = await Raw(fake, session).approval()
    assert re.fullmatch(r"[0-9a-f-]{36}", key)
    wrong = {"grant_type": "client_credentials", "appkey": fake.app_key, "appsecret": fake.app_secret}
    async with session.post(f"{fake.url}/oauth2/Approval", json=wrong) as r:
        assert r.status == 403
    assert fake.approvals_issued == 1


# ---------------------------------------------------------------------------- market data


@pytest.mark.parametrize("path", ["/tryitout", ""])
async def test_subscribe_ack_and_captured_frame(
    make_fake: FakeFactory, session: aiohttp.ClientSession, path: str
) -> None:
    fake = await make_fake()
    fake.pause_tape()
    ws = await open_ws(fake, Raw(fake, session), path)
    ack = await ws.control("H0STCNT0", "005930")
    assert ack["header"] == {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}
    assert ack["body"]["rt_cd"] == "0" and ack["body"]["msg_cd"] == "OPSP0000"
    assert ack["body"]["msg1"] == "SUBSCRIBE SUCCESS"
    assert len(ack["body"]["output"]["iv"]) == 16 and len(ack["body"]["output"]["key"]) == 32

    assert await fake.send_captured_frame() == 1
    text = await ws.next(lambda t: t.startswith("0|"))
    assert text == CAPTURED
    flag, tr_id, count, payload = text.split("|", 3)
    fields = payload.split("^")
    assert (flag, tr_id, count, len(fields)) == ("0", "H0STCNT0", "001", 46)
    assert (fields[2], fields[12], fields[13], fields[21]) == ("62700", "125", "9694968", "1")
    await ws.conn.close()


async def test_generated_frames(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(tick_interval=0.01)
    ws = await open_ws(fake, Raw(fake, session))
    for code in ("005930", "000660"):
        assert (await ws.control("H0STCNT0", code))["body"]["rt_cd"] == "0"
    counts: list[int] = []
    last_cum: dict[str, int] = {}
    while len(counts) < 60:
        text = await ws.next(lambda t: t.startswith("0|H0STCNT0|"))
        _, _, count, payload = text.split("|", 3)
        n = int(count)
        fields = payload.split("^")
        assert len(fields) == 46 * n
        counts.append(n)
        for i in range(n):
            rec = fields[46 * i : 46 * (i + 1)]
            price, qty, cum = int(rec[2]), int(rec[12]), int(rec[13])
            lower, upper = krx.price_limits({"005930": 62_700, "000660": 187_000}[rec[0]])
            assert rec[0] in ("005930", "000660") and re.fullmatch(r"\d{6}", rec[1])
            assert krx.on_grid(price) and lower <= price <= upper
            assert rec[21] in ("1", "5") and qty > 0
            assert cum == last_cum.get(rec[0], 0) + qty  # running ACML_VOL, record by record
            last_cum[rec[0]] = cum
    assert max(counts) > 1  # several records in one frame happen
    await ws.conn.close()


# ---------------------------------------------------------------------------- orders and notices


async def ready(fake: FakeKis, session: aiohttp.ClientSession) -> tuple[Raw, Ws]:
    raw = Raw(fake, session)
    await raw.issue_token()
    ws = await open_ws(fake, raw)
    ack = await ws.control(fake.notice_tr, fake.hts_id)
    assert ack["body"]["rt_cd"] == "0" and ack["header"]["encrypt"] == "Y"
    return raw, ws


async def test_market_order_acceptance_then_fill(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(rate_limit=None)
    raw, ws = await ready(fake, session)
    status, body = await raw.order("buy", "005930", 10)
    assert status == 200 and body["rt_cd"] == "0" and body["msg_cd"] == "APBK0013"
    odno = body["output"]["ODNO"]
    assert re.fullmatch(r"\d{10}", odno) and body["output"]["KRX_FWDG_ORD_ORGNO"] == "91252"
    assert re.fullmatch(r"\d{6}", body["output"]["ORD_TMD"])

    ack = await ws.notice("H0STCNI9", "testuser")
    assert len(ack) == 26
    assert ack[0] == "testuser" and ack[1] == "1234567801" and ack[ODER_NO] == odno
    assert (ack[SELN_BYOV], ack[CODE], ack[QTY], ack[ODER_QTY]) == ("02", "005930", "10", "10")
    assert (ack[CNTG_YN], ack[ACPT_YN], ack[RFUS]) == ("1", "1", "0")
    filled = 0
    while filled < 10:
        fill = await ws.notice("H0STCNI9", "testuser")
        assert len(fill) == 26 and fill[CNTG_YN] == "2" and fill[ODER_NO] == odno
        assert krx.on_grid(int(fill[PRICE]))
        filled += int(fill[QTY])
    assert filled == 10
    (order,) = fake.orders
    assert (order.odno, order.status, order.filled, order.side) == (odno, "filled", 10, "buy")

    rows, _, summary = await raw.balance_all()
    (pos,) = rows
    assert pos["pdno"] == "005930" and pos["hldg_qty"] == "10" and pos["ord_psbl_qty"] == "10"
    fee = sum(int(q * p * 0.00015) for q, p in order.fills)
    assert int(summary["prvs_rcdl_excc_amt"]) == 10_000_000 - order.fill_amount - fee
    assert summary["dnca_tot_amt"] == "10000000"  # T+2: settled cash does not move today
    await ws.conn.close()


async def test_limit_orders_fill_when_crossed_and_sell_pays_tax(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(rate_limit=None)
    fake.pause_tape()
    raw, ws = await ready(fake, session)
    _, body = await raw.order("buy", "005930", 30, 62_600)
    assert body["rt_cd"] == "0", body
    assert (await ws.notice("H0STCNI9", "testuser"))[CNTG_YN] == "1"
    await fake.trade("005930", 62_700, 100)  # above the limit: no fill
    await fake.trade("005930", 62_600, 20, side="sell")  # crosses, partial by trade volume
    fill = await ws.notice("H0STCNI9", "testuser")
    assert (fill[CNTG_YN], fill[QTY], fill[PRICE], fill[ODER_QTY]) == ("2", "20", "62600", "30")
    await fake.trade("005930", 62_500, 500, side="sell")
    fill = await ws.notice("H0STCNI9", "testuser")
    assert (fill[QTY], fill[PRICE]) == ("10", "62500")
    assert fake.orders[0].status == "filled"

    _, body = await raw.order("sell", "005930", 30, 63_000)
    assert body["rt_cd"] == "0", body
    await ws.notice("H0STCNI9", "testuser")
    await fake.trade("005930", 63_000, 30)
    fill = await ws.notice("H0STCNI9", "testuser")
    assert (fill[SELN_BYOV], fill[CNTG_YN], fill[QTY]) == ("01", "2", "30")
    bought = 20 * 62_600 + 10 * 62_500
    sold = 30 * 63_000
    # Commission 0.015% truncated per fill, tax 0.20% on the sell; none of it is in the notices.
    fees = int(20 * 62_600 * 0.00015) + int(10 * 62_500 * 0.00015) + int(sold * 0.00015) + int(sold * 0.002)
    expected = 10_000_000 - bought + sold - fees
    assert fake.account.d2_cash == expected
    rows, _, _ = await raw.balance_all()
    assert rows[0]["hldg_qty"] == "0" and rows[0]["thdt_sll_qty"] == "30"  # sold today, kept until D+2
    await ws.conn.close()


async def test_legacy23_notice_layout(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None, notice_layout="legacy23")
    fake.pause_tape()
    raw, ws = await ready(fake, session)
    _, body = await raw.order("buy", "005930", 5, 62_700)
    ack = await ws.notice("H0STCNI9", "testuser")
    assert len(ack) == 23 and ack[ODER_NO] == body["output"]["ODNO"]
    assert (ack[CNTG_YN], ack[ODER_QTY], ack[18], ack[22]) == ("1", "5", "삼성전자", "62700")
    await ws.conn.close()


async def test_order_validation(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None, cash=1_000_000)
    fake.pause_tape()
    raw = Raw(fake, session)
    await raw.issue_token()
    path = f"{TRADING}/order-cash"
    good = raw.order_body("005930", 1, 62_700)

    async def refused(tr_id: str, body: Any) -> str:
        status, answer = await raw.post(path, tr_id, body)
        assert status == 200 and answer["rt_cd"] == "1" and answer["msg1"], answer
        return str(answer["msg_cd"])

    assert await refused("VTTC0012U", {k.lower(): v for k, v in good.items()}) == "OPSQ2001"
    assert await refused("VTTC0012U", {**good, "ORD_QTY": 1}) == "OPSQ2001"
    assert await refused("TTTC0012U", good) == "OPSQ0002"  # a real-env tr_id on the paper server
    assert await refused("VTTC0012U", {**good, "ORD_UNPR": "62750"}) == "APBK0507"
    assert await refused("VTTC0012U", {**good, "ORD_UNPR": "81600"}) == "APBK0508"  # above +30%
    assert await refused("VTTC0012U", {**good, "ORD_QTY": "100"}) == "APBK0918"  # cash
    assert await refused("VTTC0011U", good) == "APBK0986"  # no shares
    assert await refused("VTTC0012U", {**good, "PDNO": "999999"}) == "APBK0656"
    assert await refused("VTTC0012U", {**good, "CANO": "87654321"}) == "OPSQ2000"
    assert await refused("VTTC0012U", {**good, "ORD_DVSN": "01"}) == "OPSQ2001"  # market with a price
    assert fake.orders == [] and len(fake.order_requests) == 10

    _, answer = await raw.post(path, "VTTC0802U", good)  # the old buy id still works
    assert answer["rt_cd"] == "0"
    assert fake.orders[0].tr_id == "VTTC0802U"


async def test_cancel_returns_new_odno_and_notices(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(rate_limit=None)
    fake.pause_tape()
    raw, ws = await ready(fake, session)
    _, body = await raw.order("buy", "005930", 10, 60_000)
    odno = body["output"]["ODNO"]
    await ws.notice("H0STCNI9", "testuser")
    _, body = await raw.cancel(odno)
    assert body["rt_cd"] == "0" and body["output"]["ODNO"] > odno
    cancel_no = body["output"]["ODNO"]
    for acpt in ("1", "2"):
        n = await ws.notice("H0STCNI9", "testuser")
        assert (n[ODER_NO], n[OODER_NO], n[RCTF], n[CNTG_YN], n[ACPT_YN]) == (cancel_no, odno, "2", "1", acpt)
    assert fake.orders[0].status == "cancelled"
    assert (await raw.cancel(odno))[1]["rt_cd"] == "1"  # already cancelled
    assert (await raw.cancel("0000999999"))[1]["rt_cd"] == "1"  # unknown
    # The cash reserved by the cancelled buy is free again.
    assert fake.account.orderable_cash(fake.orders) == 10_000_000
    await ws.conn.close()


async def test_daily_ccld_rows_and_continuation(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(rate_limit=None, ccld_page_size=2)
    fake.pause_tape()
    raw = Raw(fake, session)
    await raw.issue_token()
    odnos = [(await raw.order("buy", "005930", 1, 60_000 + 100 * i))[1]["output"]["ODNO"] for i in range(3)]
    await raw.cancel(odnos[0])
    await fake.trade("005930", 60_100, 5, side="sell")  # fills the 60100 and 60200 buys
    today = fake.kst().strftime("%Y%m%d")
    params = {
        "CANO": "12345678",
        "ACNT_PRDT_CD": "01",
        "INQR_STRT_DT": today,
        "INQR_END_DT": today,
        "SLL_BUY_DVSN_CD": "00",
        "INQR_DVSN": "00",
        "PDNO": "",
        "CCLD_DVSN": "00",
        "ORD_GNO_BRNO": "",
        "ODNO": "",
        "INQR_DVSN_3": "00",
        "INQR_DVSN_1": "",
        "CTX_AREA_FK100": "",
        "CTX_AREA_NK100": "",
    }
    rows: list[dict[str, str]] = []
    conts = []
    cont = ""
    while True:
        status, body, resp_cont = await raw.get(f"{TRADING}/inquire-daily-ccld", "VTTC0081R", params, cont)
        assert status == 200 and body["rt_cd"] == "0", body
        rows += body["output1"]
        conts.append(resp_cont)
        if resp_cont not in ("F", "M"):
            break
        params = {
            **params,
            "CTX_AREA_FK100": body["ctx_area_fk100"],
            "CTX_AREA_NK100": body["ctx_area_nk100"],
        }
        cont = "N"
    assert conts == ["M", "E"] and len(rows) == 4
    by_no = {r["odno"]: r for r in rows}
    assert [r["odno"] for r in rows] == sorted(by_no, reverse=True)  # INQR_DVSN 00 = newest first
    assert by_no[odnos[0]]["cnc_cfrm_qty"] == "1" and by_no[odnos[0]]["rmn_qty"] == "0"
    (cancel_row,) = [r for r in rows if r["cncl_yn"] == "Y"]
    assert cancel_row["orgn_odno"] == odnos[0]
    assert by_no[odnos[2]]["tot_ccld_qty"] == "1" and by_no[odnos[2]]["avg_prvs"] == "60100"
    assert body["output2"]["tot_ccld_qty"] == "2"


async def test_balance_continuation(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None)  # paper: 20 rows a page
    codes = fake.seed_positions(45)
    raw = Raw(fake, session)
    await raw.issue_token()
    rows, conts, summary = await raw.balance_all()
    assert conts == ["M", "M", "E"] and fake.balance_pages_served == 3
    assert [r["pdno"] for r in rows] == codes
    assert all(isinstance(v, str) for r in rows for v in r.values())
    assert int(summary["scts_evlu_amt"]) == sum(int(r["evlu_amt"]) for r in rows)
    # CTX fields without the tr_cont N request header are an initial inquiry: page one again.
    _, body, cont = await raw.get(
        f"{TRADING}/inquire-balance", "VTTC8434R", raw.balance_params(nk=f"12345678^01^{codes[19]}^")
    )
    assert cont == "M" and body["output1"][0]["pdno"] == codes[0]


# ---------------------------------------------------------------------------- rate limits and faults


async def test_rate_limit_egw00201_creates_nothing(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake()  # paper: 2 requests a second
    raw = Raw(fake, session)
    await raw.issue_token()
    answers = await asyncio.gather(*(raw.order("buy", "005930", 1, 62_700) for _ in range(5)))
    ok = [b for s, b in answers if s == 200 and b["rt_cd"] == "0"]
    limited = [b for s, b in answers if s == 500 and b["msg_cd"] == "EGW00201"]
    assert len(ok) == 2 and len(limited) == 3
    assert limited[0]["msg1"] == "초당 거래건수를 초과하였습니다."
    assert len(fake.orders) == 2 and len(fake.order_requests) == 5


async def test_injected_egw00201_and_502_after_create(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(rate_limit=None)
    raw, ws = await ready(fake, session)
    fake.fail_next_orders(1, "EGW00201")
    status, body = await raw.order("buy", "005930", 1)
    assert status == 500 and body["msg_cd"] == "EGW00201" and fake.orders == []

    fake.fail_next_orders(1, "502_after_create")
    status, body = await raw.order("buy", "005930", 3)
    assert status == 502 and isinstance(body, str)
    (order,) = fake.orders  # the ambiguous case: the order exists although the answer failed
    assert (await ws.notice("H0STCNI9", "testuser"))[ODER_NO] == order.odno
    await eventually(lambda: order.status == "filled")
    assert [r.injected for r in fake.order_requests] == ["EGW00201", "502_after_create"]
    await ws.conn.close()


async def test_timeout_after_create(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None)
    fake.pause_tape()
    raw = Raw(fake, session)
    await raw.issue_token()
    fake.fail_next_orders(1, "timeout_after_create", delay=5.0)
    with pytest.raises(asyncio.TimeoutError):
        await raw.order("buy", "005930", 1, 62_700, timeout=0.3)
    assert len(fake.orders) == 1 and fake.orders[0].status == "open"


async def test_notices_before_delayed_answer(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None)
    raw, ws = await ready(fake, session)
    fake.delay_next_order_answer(0.6)
    answer = asyncio.create_task(raw.order("buy", "005930", 2))
    ack = await ws.notice("H0STCNI9", "testuser")
    fill = await ws.notice("H0STCNI9", "testuser")
    assert ack[CNTG_YN] == "1" and fill[CNTG_YN] == "2"
    assert not answer.done()  # both notices arrived before the REST answer
    status, body = await answer
    assert status == 200 and body["output"]["ODNO"] == ack[ODER_NO]
    await ws.conn.close()


async def test_generic_fail_next(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None)
    fake.fail_next("/oauth2/tokenP", status=503)
    raw = Raw(fake, session)
    async with session.post(f"{fake.url}/oauth2/tokenP", json={}) as r:
        assert r.status == 503
    assert (await raw.issue_token())[0] == 200


# ---------------------------------------------------------------------------- websocket control


async def test_control_acks_and_errors(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    fake.pause_tape()
    raw = Raw(fake, session)
    ws = await open_ws(fake, raw)
    assert (await ws.control("H0STCNT0", "005930"))["body"]["rt_cd"] == "0"
    again = await ws.control("H0STCNT0", "005930")
    assert (again["body"]["rt_cd"], again["body"]["msg_cd"], again["body"]["msg1"]) == (
        "1",
        "OPSP0002",
        "ALREADY IN SUBSCRIBE",
    )
    off = await ws.control("H0STCNT0", "005930", "2")
    assert (off["body"]["rt_cd"], off["body"]["msg_cd"]) == ("0", "OPSP0001")
    assert off["body"]["msg1"].startswith("UNSUB")
    assert (await ws.control("H0STCNT0", "005930", "2"))["body"]["msg_cd"] == "OPSP0003"
    assert (await ws.control("H0STCNI9", "someoneelse"))["body"]["rt_cd"] == "1"  # wrong HTS id
    assert (await ws.control("H0STCNI0", "testuser"))["body"]["rt_cd"] == "1"  # real TR on paper

    bad = Ws(await connect(f"{fake.ws_url}/tryitout", ping_interval=None), "not-a-key")
    assert (await bad.control("H0STCNT0", "005930"))["body"]["rt_cd"] == "1"
    second = Ws(bad.conn, await raw.approval())
    in_use = await second.control("H0STCNT0", "000660")
    assert (in_use["body"]["rt_cd"], in_use["body"]["msg_cd"]) == ("1", "OPSP8996")
    assert fake.registrations == {1: set(), 2: set()}
    await ws.conn.close()
    await eventually(lambda: len(fake.connections) == 1)
    assert (await second.control("H0STCNT0", "000660"))["body"]["rt_cd"] == "0"  # appkey free again
    await bad.conn.close()


async def test_41_registrations_per_appkey(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    fake.pause_tape()
    ws = await open_ws(fake, Raw(fake, session))
    assert (await ws.control("H0STCNI9", "testuser"))["body"]["rt_cd"] == "0"  # the notice counts too
    for i in range(40):
        assert (await ws.control("H0STCNT0", f"{i + 1:06d}"))["body"]["rt_cd"] == "0"
    over = await ws.control("H0STCNT0", "000041")
    assert over["body"]["rt_cd"] == "1" and over["body"]["msg_cd"] == "OPSP0008"
    (regs,) = fake.registrations.values()
    assert len(regs) == 41 and ("H0STCNI9", "testuser") in regs
    await ws.control("H0STCNT0", "000001", "2")
    assert (await ws.control("H0STCNT0", "000041"))["body"]["rt_cd"] == "0"
    await ws.conn.close()


async def test_pingpong_echo_and_pong_frame(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(pingpong_interval=0.1)
    ws = await open_ws(fake, Raw(fake, session))
    text = await ws.next(lambda t: '"PINGPONG"' in t)
    ping = json.loads(text)
    assert ping["header"]["tr_id"] == "PINGPONG" and re.fullmatch(r"\d{14}", ping["header"]["datetime"])
    await ws.conn.send(text)  # pykis / mojito: echo as text
    await eventually(lambda: fake.pingpongs_answered == 1)
    text = await ws.next(lambda t: '"PINGPONG"' in t)
    await ws.conn.pong(text)  # the new official client: a pong control frame
    await eventually(lambda: fake.pingpongs_answered == 2)
    await ws.conn.close()


async def test_drop_websockets(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    ws = await open_ws(fake, Raw(fake, session))
    await ws.control("H0STCNT0", "005930")
    assert await fake.drop_websockets() == 1
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(3):
            while True:
                await ws.conn.recv()
    await eventually(lambda: fake.connections == [])


async def test_stop_leaves_no_tasks(session: aiohttp.ClientSession) -> None:
    before = asyncio.all_tasks()
    fake = FakeKis(rate_limit=None, pingpong_interval=0.05)
    await fake.start()
    raw = Raw(fake, session)
    await raw.issue_token()
    ws = await open_ws(fake, raw)
    await ws.control("H0STCNT0", "005930")
    fake.fail_next_orders(1, "timeout_after_create", delay=30)
    pending = asyncio.create_task(raw.order("buy", "005930", 1))
    await eventually(lambda: len(fake.orders) == 1)
    async with asyncio.timeout(5):
        await fake.stop()
    await asyncio.gather(pending, return_exceptions=True)
    await ws.conn.close()
    assert asyncio.all_tasks() - before == {asyncio.current_task()} - before


async def test_balance_first_page_f_and_real_page_size(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(env="real", rate_limit=None, first_page_tr_cont="F")  # real: 50 rows a page
    fake.seed_positions(101)
    raw = Raw(fake, session)
    await raw.issue_token()
    rows, conts, _ = await raw.balance_all()
    assert conts == ["F", "M", "E"] and len(rows) == 101


async def test_real_env_ids(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(env="real", rate_limit=None)
    fake.pause_tape()
    raw, ws = await ready(fake, session)  # registers H0STCNI0 on the real server
    assert fake.notice_tr == "H0STCNI0"
    _, body = await raw.order("buy", "005930", 1, 62_700)
    assert body["rt_cd"] == "0"
    assert (await ws.notice("H0STCNI0", "testuser"))[CNTG_YN] == "1"
    _, body = await raw.post(f"{TRADING}/order-cash", "VTTC0012U", raw.order_body("005930", 1, 62_700))
    assert body["rt_cd"] == "1" and "paper tr_id on the real server" in body["msg1"]
    assert (await ws.control("H0STCNI9", "testuser"))["body"]["rt_cd"] == "1"
    await ws.conn.close()


async def test_modify_moves_the_remaining_to_a_new_order(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(rate_limit=None)
    fake.pause_tape()
    raw, ws = await ready(fake, session)
    _, body = await raw.order("buy", "005930", 4, 60_000)
    odno = body["output"]["ODNO"]
    await ws.notice("H0STCNI9", "testuser")
    modify = {
        "CANO": "12345678",
        "ACNT_PRDT_CD": "01",
        "KRX_FWDG_ORD_ORGNO": "91252",
        "ORGN_ODNO": odno,
        "ORD_DVSN": "00",
        "RVSE_CNCL_DVSN_CD": "01",
        "ORD_QTY": "0",
        "ORD_UNPR": "62500",
        "QTY_ALL_ORD_YN": "Y",
        "EXCG_ID_DVSN_CD": "KRX",
    }
    _, body = await raw.post(f"{TRADING}/order-rvsecncl", "VTTC0013U", modify)
    assert body["rt_cd"] == "0"
    new_no = body["output"]["ODNO"]
    for acpt in ("1", "2"):
        n = await ws.notice("H0STCNI9", "testuser")
        assert (n[ODER_NO], n[OODER_NO], n[RCTF], n[ACPT_YN], n[PRICE]) == (new_no, odno, "1", acpt, "62500")
    await fake.trade("005930", 62_500, 10, side="sell")
    fill = await ws.notice("H0STCNI9", "testuser")
    assert (fill[ODER_NO], fill[CNTG_YN], fill[QTY]) == (new_no, "2", "4")
    assert [o.status for o in fake.orders] == ["replaced", "filled"]
    await ws.conn.close()


async def test_injected_exchange_reject(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rate_limit=None)
    raw, ws = await ready(fake, session)
    fake.fail_next_orders(1, "reject")
    status, body = await raw.order("buy", "005930", 1)
    assert status == 200 and body["rt_cd"] == "0"
    ack = await ws.notice("H0STCNI9", "testuser")
    rejected = await ws.notice("H0STCNI9", "testuser")
    assert (ack[CNTG_YN], ack[RFUS]) == ("1", "0")
    assert (rejected[ODER_NO], rejected[CNTG_YN], rejected[RFUS]) == (ack[ODER_NO], "1", "1")
    assert fake.orders[0].status == "rejected" and fake.working_orders == []
    await ws.conn.close()


async def test_wrong_hts_id_can_drop_the_connection(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(wrong_hts_id="close")
    ws = await open_ws(fake, Raw(fake, session))
    await ws.send_reg("H0STCNI9", "someoneelse")
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(3):
            await ws.conn.recv()


async def test_pingpong_answered_by_ping_frame(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(pingpong_interval=60)
    ws = await open_ws(fake, Raw(fake, session))
    await ws.control("H0STCNT0", "005930")
    await fake.send_pingpong()
    text = await ws.next(lambda t: '"PINGPONG"' in t)
    await ws.conn.ping(b"keepalive")  # a library keepalive is not an answer
    # The fake reads a connection's frames in order: once it has acked a registration sent after
    # the keepalive, it has handled the keepalive too.
    await ws.control("H0STCNT0", "000660")
    assert fake.pingpongs_answered == 0
    await ws.conn.ping(text.encode())  # the legacy official client: a ping frame with the text
    await eventually(lambda: fake.pingpongs_answered == 1)
    await ws.conn.close()
