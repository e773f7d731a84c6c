"""The fake LS server against a raw aiohttp client (HTTP and websocket), not any adapter.

Shapes are checked against the verbatim examples in reference_examples.json (condition-search.md
section 6, brokers.md section 1, and the official LS portal pages), so these tests check the fake
against the reference rather than against the fake's own tables.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine.clock import Clock
from tests.conftest import eventually
from tests.fakels import PAPER_APP_KEY, PAPER_APP_SECRET, REAL_APP_KEY, REAL_APP_SECRET, FakeLS

EXAMPLES: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "reference_examples.json").read_text(encoding="utf-8")
)
LS_DOC = EXAMPLES["ls_doc"]
COND = EXAMPLES["condition_search"]
BROKERS = EXAMPLES["brokers"]
START = datetime(2026, 3, 10, 10, 0)  # a Tuesday, 10:00 Seoul

FakeFactory = Callable[..., Awaitable[FakeLS]]


def order_body(code: str, qty: Any, price: Any, side: str = "2", ptn: str = "00") -> dict[str, Any]:
    # The official CSPAT00601 request example's fields, with the fake's symbols.
    return {
        "CSPAT00601InBlock1": {
            "IsuNo": f"A{code}",
            "OrdQty": qty,
            "OrdPrc": price,
            "BnsTpCode": side,
            "OrdprcPtnCode": ptn,
            "MgntrnCode": "000",
            "LoanDt": "",
            "OrdCndiTpCode": "0",
            "MbrNo": "KRX",
        }
    }


T0424 = {"t0424InBlock": {"prcgb": "1", "chegb": "2", "dangb": "0", "charge": "1", "cts_expcode": ""}}


@pytest.fixture
async def make_fake() -> AsyncIterator[FakeFactory]:
    fakes: list[FakeLS] = []

    async def factory(**kwargs: Any) -> FakeLS:
        kwargs.setdefault("clock", Clock.at(START))
        kwargs.setdefault("rates", None)
        fake = FakeLS(**kwargs)
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
    """REST with the LS headers and envelope, nothing more."""

    def __init__(self, fake: FakeLS, session: aiohttp.ClientSession, paper: bool = False) -> None:
        self.fake = fake
        self.session = session
        self.appkey, self.secret = (
            (PAPER_APP_KEY, PAPER_APP_SECRET) if paper else (REAL_APP_KEY, REAL_APP_SECRET)
        )
        self.token = ""

    async def login(self) -> str:
        form = {"grant_type": "client_credentials", "appkey": self.appkey, "appsecretkey": self.secret,
                "scope": "oob"}  # fmt: skip
        async with self.session.post(f"{self.fake.url}/oauth2/token", data=form) as r:
            assert r.status == 200, await r.text()
            self.token = (await r.json())["access_token"]
        return self.token

    async def tr(
        self,
        tr_cd: str,
        body: Any,
        *,
        path: str | None = None,
        tr_cont: str = "N",
        tr_cont_key: str = "",
        token: str | None = None,
        drop: tuple[str, ...] = (),
    ) -> tuple[int, Any, dict[str, str]]:
        from tests.fakels.codes import TR_PATHS

        headers = {"content-type": "application/json; charset=utf-8",
                   "authorization": f"Bearer {self.token if token is None else token}", "tr_cd": tr_cd,
                   "tr_cont": tr_cont, "tr_cont_key": tr_cont_key}  # fmt: skip
        for name in drop:
            headers.pop(name)
        url = f"{self.fake.url}{path or TR_PATHS.get(tr_cd, '/stock/accno')}"
        async with self.session.post(url, headers=headers, data=json.dumps(body)) as r:
            text = await r.text()
            try:
                data = json.loads(text)
            except ValueError:
                data = text
            return r.status, data, dict(r.headers)


class Ws:
    """A websocket client speaking the LS realtime messages."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, token: str | None, tr_type: Any, tr_cd: str, tr_key: str) -> None:
        header: dict[str, Any] = {"tr_type": tr_type}
        if token is not None:
            header["token"] = token
        await self.ws.send_str(json.dumps({"header": header, "body": {"tr_cd": tr_cd, "tr_key": tr_key}}))

    async def next(
        self, pred: Callable[[dict[str, Any]], bool] = lambda m: True, timeout: float = 3.0
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                frame: dict[str, Any] = json.loads(msg.data)
                if pred(frame):
                    return frame

    async def nothing(self, pred: Callable[[dict[str, Any]], bool], within: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            frame = await self.next(pred, timeout=within)
            pytest.fail(f"unexpected frame {frame}")

    async def subscribe(self, token: str, tr_type: Any, tr_cd: str, tr_key: str) -> dict[str, Any]:
        await self.send(token, tr_type, tr_cd, tr_key)
        return await self.next(lambda m: "rsp_cd" in m["header"] and m["header"].get("tr_cd") == tr_cd)


def is_data(tr_cd: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["header"].get("tr_cd") == tr_cd and "body" in m


async def open_ws(fake: FakeLS, session: aiohttp.ClientSession, path: str = "/websocket") -> Ws:
    return Ws(await session.ws_connect(f"{fake.ws_url}{path}"))


def keys(block: Any) -> set[str]:
    return set(block[0] if isinstance(block, list) else block)


# ---------------------------------------------------------------------------- token


async def test_token_form_encoded_and_modes(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    form = {"grant_type": "client_credentials", "appkey": REAL_APP_KEY, "appsecretkey": REAL_APP_SECRET,
            "scope": "oob"}  # fmt: skip
    async with session.post(f"{fake.url}/oauth2/token", data=form) as r:
        assert r.status == 200
        data = await r.json()
    assert set(data) == set(BROKERS["token_response"])  # access_token, scope, token_type, expires_in
    assert data["expires_in"] == 86_400 and isinstance(data["expires_in"], int)
    assert data["token_type"] == "Bearer" and data["scope"] == "oob"
    # JSON is not the documented encoding; a wrong secret is refused.
    async with session.post(f"{fake.url}/oauth2/token", json=form) as r:
        assert r.status == 401
    async with session.post(f"{fake.url}/oauth2/token", data=form | {"appsecretkey": "x" * 36}) as r:
        assert r.status == 401
    # One host: the app key decides the mode.
    await Raw(fake, session, paper=True).login()
    assert [t.env for t in fake.tokens] == ["real", "paper"]
    assert fake.tokens_issued == 2
    # Revoke, then the token is refused.
    raw.token = data["access_token"]
    form = {"appkey": REAL_APP_KEY, "appsecretkey": REAL_APP_SECRET, "token_type_hint": "access_token",
            "token": raw.token}  # fmt: skip
    async with session.post(f"{fake.url}/oauth2/revoke", data=form) as r:
        assert await r.json() == BROKERS["revoke_response"]
    status, body, _ = await raw.tr("t0424", T0424)
    assert status == 500 and body["rsp_cd"] == "IGW00121"


async def test_expired_token(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    assert (await ws.subscribe(raw.token, "1", "SC1", ""))["header"]["rsp_cd"] == "00000"
    fake.expire_tokens()
    status, body, _ = await raw.tr("t0424", T0424)
    assert (status, body["rsp_cd"]) == (500, "IGW00121")
    ack = await ws.subscribe(raw.token, "1", "SC0", "")
    assert ack["header"]["rsp_cd"] == "IGW00121"
    await raw.login()  # a new token works at once
    assert (await raw.tr("t0424", T0424))[0] == 200


async def test_token_lifetime_follows_the_clock(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    clock = Clock.at(START, frozen=True)
    fake = await make_fake(clock=clock)
    raw = Raw(fake, session)
    await raw.login()
    clock.advance(86_399)
    assert (await raw.tr("t0424", T0424))[0] == 200
    clock.advance(2)
    assert (await raw.tr("t0424", T0424))[1]["rsp_cd"] == "IGW00121"


# ---------------------------------------------------------------------------- envelope


async def test_envelope_headers_and_blocks(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    fake.set_position("005930", 2, 60_000)
    raw = Raw(fake, session)
    await raw.login()
    status, body, headers = await raw.tr("t0424", LS_DOC["t0424_request"])  # the official request
    assert status == 200
    assert (headers["tr_cd"], headers["tr_cont"], headers["tr_cont_key"]) == ("t0424", "N", "")
    assert body["rsp_cd"] == "00000"
    example = LS_DOC["t0424_response"]
    assert set(body) == set(example)
    assert keys(body["t0424OutBlock"]) == keys(example["t0424OutBlock"])
    assert keys(body["t0424OutBlock1"]) == keys(example["t0424OutBlock1"])
    row = body["t0424OutBlock1"][0]
    assert row["expcode"] == "005930" and row["janqty"] == 2 and isinstance(row["pamt"], int)
    assert row["janrt"] == "100.00"  # a Number-typed decimal written as a string, as in the example
    # CSPAQ12200 and t0425 follow their examples too.
    status, body, _ = await raw.tr("CSPAQ12200", LS_DOC["CSPAQ12200_request"])
    example = LS_DOC["CSPAQ12200_paper_response"]
    assert keys(body["CSPAQ12200OutBlock2"]) == keys(example["CSPAQ12200OutBlock2"])
    assert keys(body["CSPAQ12200OutBlock1"]) == keys(example["CSPAQ12200OutBlock1"])
    assert body["CSPAQ12200OutBlock2"]["MnyOrdAbleAmt"] == 10_000_000
    assert "모의투자" not in body["rsp_msg"]


async def test_gateway_refusals(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    assert (await raw.tr("t0424", T0424, drop=("tr_cont_key",)))[1]["rsp_cd"] == "IGW00006"
    assert (await raw.tr("t0424", T0424, path="/stock/order"))[1]["rsp_cd"] == "IGW00005"
    assert (await raw.tr("t9999", T0424))[1]["rsp_cd"] == "IGW00004"
    assert (await raw.tr("t0424", {"t0424InBlock": {"prcgb": "1"}}))[1]["rsp_cd"] == "IGW00007"
    lenient = await make_fake(require_cont_headers=False)
    raw2 = Raw(lenient, session)
    await raw2.login()
    assert (await raw2.tr("t0424", T0424, drop=("tr_cont", "tr_cont_key")))[0] == 200


async def test_continuation_pages(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(page_sizes={"t0424": 2})
    for code in ("005930", "000660", "035420", "005380", "247540"):
        fake.set_position(code, 1, 10_000)
    raw = Raw(fake, session)
    await raw.login()
    seen: list[str] = []
    body = json.loads(json.dumps(T0424))
    tr_cont, key = "N", ""
    while True:
        status, data, headers = await raw.tr("t0424", body, tr_cont=tr_cont, tr_cont_key=key)
        assert status == 200, data
        seen += [r["expcode"] for r in data["t0424OutBlock1"]]
        if headers["tr_cont"] != "Y":
            assert data["t0424OutBlock"]["cts_expcode"] == "" and headers["tr_cont_key"] == ""
            break
        key = headers["tr_cont_key"]
        assert key == data["t0424OutBlock"]["cts_expcode"]
        tr_cont, body["t0424InBlock"]["cts_expcode"] = "Y", key
    assert seen == sorted(seen) and len(seen) == 5
    assert fake.pages_served["t0424"] == 3
    # strict continuation: the body cursor without tr_cont "Y" is refused.
    status, data, _ = await raw.tr("t0424", body, tr_cont="N")
    assert status == 200 and data["rsp_cd"] == "01226"


async def test_numbers_must_be_json_numbers(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    status, body, _ = await raw.tr("CSPAT00601", order_body("005930", "1", 62_700))
    assert status == 500 and body["rsp_cd"] == "IGW00215" and "data type" in body["rsp_msg"]
    assert fake.orders == [] and len(fake.order_requests) == 1
    # The official request example, moved to a listed code, with 35000 -> a float is fine too.
    ex = json.loads(json.dumps(BROKERS["CSPAT00601_request"]))
    ex["CSPAT00601InBlock1"] |= {"IsuNo": "A005930", "OrdPrc": 62_700.0, "MbrNo": "KRX"}
    status, body, _ = await raw.tr("CSPAT00601", ex)
    assert status == 200 and body["rsp_cd"] == "00040"
    example = LS_DOC["CSPAT00601_response"]
    assert keys(body["CSPAT00601OutBlock1"]) == keys(example["CSPAT00601OutBlock1"])
    assert keys(body["CSPAT00601OutBlock2"]) == keys(example["CSPAT00601OutBlock2"])
    assert isinstance(body["CSPAT00601OutBlock2"]["OrdNo"], int)
    assert body["CSPAT00601OutBlock1"]["OrdPrc"] == "62700.00"  # as the example writes it


# ---------------------------------------------------------------------------- orders


async def test_market_order_fill_path(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    for tr in ("SC0", "SC1"):
        ack = await ws.subscribe(raw.token, "1", tr, "")
        assert set(ack) == {"header"} and ack["header"]["rsp_cd"] == "00000"
        assert set(ack["header"]) == set(BROKERS["ack_UNCONFIRMED_literal"]["header"])
    status, body, _ = await raw.tr("CSPAT00601", order_body("005930", 3, 0, ptn="03"))
    assert status == 200 and body["rsp_cd"] == "00040" and body["rsp_msg"] == "매수 주문이 완료되었습니다."
    ordno = body["CSPAT00601OutBlock2"]["OrdNo"]
    sc0 = await ws.next(is_data("SC0"))
    sc1 = await ws.next(is_data("SC1"))
    assert sc0["header"] == LS_DOC["SC0_frame"]["header"]  # {"tr_cd": "SC0"} only
    assert set(sc0["body"]) == set(LS_DOC["SC0_frame"]["body"])
    assert set(sc1["body"]) == set(LS_DOC["SC1_frame"]["body"])
    assert set(BROKERS["SC1_frame_abridged"]["body"]) <= set(sc1["body"])
    assert all(isinstance(v, str) for v in sc1["body"].values())
    assert (sc0["body"]["trcode"], sc0["body"]["ordchegb"], sc0["body"]["ordno"]) == (
        "SONAT000",
        "01",
        str(ordno),
    )
    assert sc0["body"]["shtcode"] == "A005930" and sc0["body"]["expcode"] == "KR7005930003"
    b = sc1["body"]
    assert (b["trcode"], b["ordxctptncode"], b["ordno"], b["execqty"], b["unercqty"]) == (
        "SONAS100",
        "11",
        str(ordno),
        "3",
        "0",
    )
    assert b["execprc"] == "62700" and b["bnstp"] == "2" and b["shtnIsuno"] == "A005930"
    assert b["exectime"].startswith("10") and len(b["exectime"]) == 9  # the injected Seoul clock
    order = fake.order(ordno)
    assert order.status == "filled" and order.filled == 3
    status, data, _ = await raw.tr(
        "t0425",
        {"t0425InBlock": {"expcode": "005930", "chegb": "0", "medosu": "0", "sortgb": "2", "cts_ordno": " "}},
    )
    assert keys(data["t0425OutBlock1"]) - {"exchname"} == keys(LS_DOC["t0425_response"]["t0425OutBlock1"])
    assert data["t0425OutBlock1"][0]["cheqty"] == 3 and data["t0425OutBlock1"][0]["ordno"] == ordno


async def test_limit_order_partial_fills_and_cancel(
    make_fake: FakeFactory, session: aiohttp.ClientSession
) -> None:
    fake = await make_fake(tick_interval=3600)
    fake.pause_tape()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    for tr in ("SC0", "SC1", "SC3"):
        await ws.subscribe(raw.token, "1", tr, "")
    _, body, _ = await raw.tr("CSPAT00601", order_body("005930", 10, 62_500))
    ordno = body["CSPAT00601OutBlock2"]["OrdNo"]
    await ws.next(is_data("SC0"))
    await ws.nothing(is_data("SC1"))  # below the market: it rests
    await fake.push_trade("005930", 62_500, qty=4, side="sell")
    first = await ws.next(is_data("SC1"))
    assert (first["body"]["execqty"], first["body"]["unercqty"], first["body"]["execprc"]) == (
        "4",
        "6",
        "62500",
    )
    assert fake.order(ordno).status == "open"
    # Cancel 5 of the 6 left: CSPAT00801 -> 00156, SC0 (SONAT002/03) then SC3 (13).
    req = json.loads(json.dumps(BROKERS["CSPAT00801_request"]))
    req["CSPAT00801InBlock1"] |= {"OrgOrdNo": ordno, "OrdQty": 5}
    _, body, _ = await raw.tr("CSPAT00801", req)
    assert body["rsp_cd"] == "00156" and body["rsp_msg"] == "취소주문이 완료되었습니다."
    example = LS_DOC["CSPAT00801_response"]
    assert keys(body["CSPAT00801OutBlock1"]) == keys(example["CSPAT00801OutBlock1"])
    assert keys(example["CSPAT00801OutBlock2"]) <= keys(body["CSPAT00801OutBlock2"])
    cancel_no = body["CSPAT00801OutBlock2"]["OrdNo"]
    assert body["CSPAT00801OutBlock2"]["PrntOrdNo"] == ordno
    sc0 = await ws.next(is_data("SC0"))
    assert (sc0["body"]["trcode"], sc0["body"]["ordchegb"], sc0["body"]["orgordno"]) == (
        "SONAT002",
        "03",
        str(ordno),
    )
    sc3 = await ws.next(is_data("SC3"))
    assert set(sc3["body"]) == set(LS_DOC["SC3_frame"]["body"])
    assert (sc3["body"]["ordxctptncode"], sc3["body"]["ordno"], sc3["body"]["canccnfqty"]) == (
        "13",
        str(cancel_no),
        "5",
    )
    await fake.push_trade("005930", 62_400, qty=50, side="sell")
    last = await ws.next(is_data("SC1"))
    assert (last["body"]["execqty"], last["body"]["unercqty"]) == ("1", "0")
    order = fake.order(ordno)
    assert (order.filled, order.cancelled, order.remaining) == (5, 5, 0)


async def test_price_rules(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    # 005930 base 62,700: tick 100, limits 43,900..81,500 (+-30% rounded inward).
    _, body, _ = await raw.tr("CSPAT00601", order_body("005930", 1, 62_750))
    assert body["rsp_cd"] == "03182" and "62700" in body["rsp_msg"] and "62800" in body["rsp_msg"]
    assert keys(body["CSPAT00601OutBlock2"]) == keys(LS_DOC["CSPAT00601_response"]["CSPAT00601OutBlock2"])
    assert (await raw.tr("CSPAT00601", order_body("005930", 1, 43_800)))[1]["rsp_cd"] == "03181"
    assert (await raw.tr("CSPAT00601", order_body("005930", 1, 81_600)))[1]["rsp_cd"] == "03180"
    assert (await raw.tr("CSPAT00601", order_body("005930", 1, 81_500)))[1]["rsp_cd"] == "00040"
    assert (await raw.tr("CSPAT00601", order_body("005930", 1, 100, ptn="03")))[1]["rsp_cd"] == "01490"
    # The 81,500 buy was marketable and filled at once at 62,700: one share to sell, not five.
    assert (await raw.tr("CSPAT00601", order_body("005930", 5, 62_700, side="1")))[1]["rsp_cd"] == "02714"
    assert len(fake.orders) == 1 and len(fake.order_requests) == 6


async def test_t1102_and_t8412(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    fake.seed_history("005930", 30)
    raw = Raw(fake, session)
    await raw.login()
    _, body, _ = await raw.tr("t1102", {"t1102InBlock": {"shcode": "005930"}})  # the example omits exchgubun
    # The example predates the NXT fields the table has (nxt_*, ex_shcode): the fake has the table's.
    extra = keys(body["t1102OutBlock"]) - keys(LS_DOC["t1102_response"]["t1102OutBlock"])
    assert keys(LS_DOC["t1102_response"]["t1102OutBlock"]) <= keys(body["t1102OutBlock"])
    assert extra == {
        "nxt_janginfo",
        "nxt_shterm_text",
        "nxt_svi_uplmtprice",
        "nxt_svi_dnlmtprice",
        "ex_shcode",
    }
    out = body["t1102OutBlock"]
    assert (out["recprice"], out["uplmtprice"], out["dnlmtprice"], out["janginfo"]) == (
        62_700,
        81_500,
        43_900,
        "KOSPI",
    )
    req = json.loads(json.dumps(LS_DOC["t8412_request"]))
    req["t8412InBlock"] |= {"shcode": "005930", "qrycnt": 10}
    rows: list[dict[str, Any]] = []
    tr_cont, key = "N", ""
    while True:
        status, data, headers = await raw.tr("t8412", req, tr_cont=tr_cont, tr_cont_key=key)
        assert status == 200, data
        example = LS_DOC["t8412_response_2rows"]
        assert keys(data["t8412OutBlock"]) == keys(example["t8412OutBlock"])
        assert keys(data["t8412OutBlock1"]) == keys(example["t8412OutBlock1"])
        page = data["t8412OutBlock1"]
        assert [r["time"] for r in page] == sorted(r["time"] for r in page)  # ascending, as the example
        rows = page + rows
        out = data["t8412OutBlock"]
        assert (out["jiclose"], out["highend"], out["lowend"]) == (62_700, 81_500, 43_900)
        if headers["tr_cont"] != "Y":
            break
        key = out["cts_date"] + out["cts_time"]
        assert headers["tr_cont_key"] == key and out["cts_time"] < page[0]["time"]
        tr_cont = "Y"
        req["t8412InBlock"] |= {"cts_date": out["cts_date"], "cts_time": out["cts_time"]}
    assert len(rows) == 30 and len({r["time"] for r in rows}) == 30
    assert rows[-1]["time"] == "100000"  # the last closed minute 09:59, labelled by its end


# ---------------------------------------------------------------------------- websocket


async def test_ticks_s3_and_k3(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(tick_interval=3600)
    fake.pause_tape()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session, "/websocket/stock")
    ack = await ws.subscribe(raw.token, "3", "S3_", "005930000660")  # two codes in one key
    assert ack["header"]["rsp_cd"] == "00000" and ack["header"]["tr_type"] == "3"
    await ws.subscribe(raw.token, "3", "K3_", "247540")
    await ws.subscribe(raw.token, "3", "S3_", "196170")  # KOSDAQ code on S3_: acknowledged, silent
    await fake.push_trade("005930", 62_800, qty=7, side="buy")
    tick = await ws.next(is_data("S3_"))
    assert set(tick["header"]) == set(BROKERS["S3_frame"]["header"])
    assert set(tick["body"]) == set(BROKERS["S3_frame"]["body"])
    assert all(isinstance(v, str) for v in tick["body"].values())
    b = tick["body"]
    assert (tick["header"]["tr_key"], b["price"], b["cvolume"], b["cgubun"], b["sign"], b["change"]) == (
        "005930",
        "62800",
        "7",
        "+",
        "2",
        "100",
    )
    assert b["chetime"].startswith("10") and b["offerho"] == "62800"
    await fake.push_trade("247540", 170_900, qty=3, side="sell")
    k3 = await ws.next(is_data("K3_"))
    assert set(k3["body"]) == set(LS_DOC["K3__frame"]["body"])
    assert (k3["body"]["cgubun"], k3["body"]["sign"], k3["body"]["change"], k3["body"]["drate"]) == (
        "-",
        "5",
        "100",
        "-0.06",
    )
    await fake.push_trade("196170", qty=1)
    await ws.nothing(lambda m: "body" in m)
    await ws.subscribe(raw.token, "4", "S3_", "005930")
    await fake.push_trade("005930", qty=1)
    await ws.nothing(is_data("S3_"))
    assert fake.ws_paths_used == ["/websocket/stock"]
    conn = fake.connections[0]
    assert conn.path == "/websocket/stock"
    assert conn.subscriptions == {("S3_", "000660"), ("K3_", "247540"), ("S3_", "196170")}


async def test_ws_refusals(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    assert (await ws.subscribe("not-a-token", "3", "S3_", "005930"))["header"]["rsp_cd"] == "IGW00121"
    await ws.send(None, "3", "S3_", "005930")  # no token at all
    assert (await ws.next())["header"]["rsp_cd"] == "IGW00121"
    assert (await ws.subscribe(raw.token, "1", "S3_", "005930"))["header"]["rsp_cd"] == "IGW00008"
    assert (await ws.subscribe(raw.token, "3", "SC1", ""))["header"]["rsp_cd"] == "IGW00008"
    assert (await ws.subscribe(raw.token, 3, "S3_", "005930"))["header"]["rsp_cd"] == "IGW00007"
    assert (await ws.subscribe(raw.token, "3", "S3_", "5930"))["header"]["rsp_cd"] == "IGW00009"
    assert (await ws.subscribe(raw.token, "3", "AFR", "nope"))["header"]["rsp_cd"] == "IGW00009"
    assert fake.connections[0].subscriptions == set()
    strict = await make_fake(ws_bad_token="close")
    ws2 = await open_ws(strict, session)
    await ws2.send("bad", "3", "S3_", "005930")
    msg = await ws2.ws.receive(timeout=3)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


# ---------------------------------------------------------------------------- condition search


async def test_condition_search_sequence(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    # t1866: the official request, and the official response's shape (incl. its "contkey").
    status, body, _ = await raw.tr("t1866", COND["L1_t1866_request"])
    example = COND["L1_t1866_response"]
    assert status == 200 and set(body) == set(example) and body["rsp_msg"] == "조회성공"
    assert keys(body["t1866OutBlock"]) == keys(example["t1866OutBlock"])
    assert body["t1866OutBlock1"] == example["t1866OutBlock1"]  # the fake's default saved set
    qi = "testID0000"
    fake.set_condition_members(qi, ["078150", "005930"])
    # t1860 E -> sAlertNum.
    status, body, _ = await raw.tr("t1860", COND["L2_t1860_request"])
    assert set(body) == set(COND["L2_t1860_response"])
    assert keys(body["t1860OutBlock"]) == keys(COND["L2_t1860_response"]["t1860OutBlock"])
    out = body["t1860OutBlock"]
    alert = out["sAlertNum"]
    assert out["sResultFlag"] == "S" and len(alert) == 11 and alert == out["sTime"] + "0200A"
    # AFR subscribe (tr_type 3, tr_key = sAlertNum): acknowledged, and no replay of current members.
    ws = await open_ws(fake, session)
    sub = json.loads(json.dumps(COND["L3_AFR_subscribe"]))
    sub["header"]["token"], sub["body"]["tr_key"] = raw.token, alert
    await ws.ws.send_str(json.dumps(sub))
    assert (await ws.next())["header"]["rsp_cd"] == "00000"
    await ws.nothing(is_data("AFR"))
    # t1859 seeds the current members.
    status, body, _ = await raw.tr("t1859", COND["L4_t1859_request"])
    assert set(body) == set(COND["L4_t1859_response"])
    assert keys(body["t1859OutBlock1"]) == keys(COND["L4_t1859_response"]["t1859OutBlock1"])
    assert [r["shcode"] for r in body["t1859OutBlock1"]] == ["078150", "005930"]
    assert body["t1859OutBlock"]["result_count"] == 2 and isinstance(body["t1859OutBlock1"][0]["price"], int)
    # Enter / leave / re-enter.
    assert await fake.condition_enter(qi, "247540") == "N"
    afr = await ws.next(is_data("AFR"))
    assert set(afr["header"]) == set(COND["L3_AFR_frame"]["header"]) and afr["header"]["tr_key"] == alert
    assert set(afr["body"]) == set(COND["L3_AFR_frame"]["body"])
    assert (afr["body"]["gsCode"], afr["body"]["gsJobFlag"]) == ("247540", "N")
    await fake.condition_leave(qi, "078150")
    assert (await ws.next(is_data("AFR")))["body"]["gsJobFlag"] == "O"
    await fake.condition_enter(qi, "078150")
    assert (await ws.next(is_data("AFR")))["body"]["gsJobFlag"] == "R"
    # Stop: AFR tr_type 4, then t1860 D; nothing more is pushed.
    assert (await ws.subscribe(raw.token, "4", "AFR", alert))["header"]["rsp_cd"] == "00000"
    req = {"t1860InBlock": {"sSysUserFlag": "U", "sFlag": "D", "sAlertNum": alert, "query_index": qi}}
    status, body, _ = await raw.tr("t1860", req)
    assert body["t1860OutBlock"]["sResultFlag"] == "S" and body["t1860OutBlock"]["sFlag"] == "D"
    assert not fake.condition_registrations[alert].active
    await fake.condition_leave(qi, "005930")
    await ws.nothing(is_data("AFR"))


async def test_condition_limits_and_user_id(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    flags = []
    for qi in ("testID0000", "testID0002", "testID0003"):
        req = {"t1860InBlock": {"sSysUserFlag": "U", "sFlag": "E", "sAlertNum": "", "query_index": qi}}
        out = (await raw.tr("t1860", req))[1]["t1860OutBlock"]
        flags.append((out["sResultFlag"], bool(out["sAlertNum"])))
    assert flags == [("S", True), ("S", True), ("F", False)]  # two concurrent realtime conditions
    bad = {"t1866InBlock": {"user_id": "other", "gb": "0", "group_name": "", "cont": "", "cont_key": ""}}
    assert (await raw.tr("t1866", bad))[1]["rsp_cd"] == "01224"
    paged = await make_fake(page_sizes={"t1866": 2}, t1866_cont_key_name="cont_key")
    raw2 = Raw(paged, session)
    await raw2.login()
    req = json.loads(json.dumps(COND["L1_t1866_request"]))
    names, tr_cont, key = [], "N", ""
    while True:
        _, body, headers = await raw2.tr("t1866", req, tr_cont=tr_cont, tr_cont_key=key)
        names += [r["query_name"] for r in body["t1866OutBlock1"]]
        if body["t1866OutBlock"]["cont"] != "1":
            break
        key = body["t1866OutBlock"]["cont_key"]
        assert headers["tr_cont"] == "Y" and headers["tr_cont_key"] == key
        tr_cont = "Y"
        req["t1866InBlock"] |= {"cont": "1", "cont_key": key}
    assert len(names) == 5


async def test_paper_keys(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session, paper=True)
    await raw.login()
    for tr_cd, req in (("t1866", COND["L1_t1866_request"]), ("t1859", COND["L4_t1859_request"]),
                       ("t1860", COND["L2_t1860_request"])):  # fmt: skip
        status, body, _ = await raw.tr(tr_cd, req)
        assert (status, body["rsp_cd"]) == (200, "01900") and "모의투자" in body["rsp_msg"]
    real = Raw(fake, session)
    await real.login()
    alert = (await real.tr("t1860", COND["L2_t1860_request"]))[1]["t1860OutBlock"]["sAlertNum"]
    ws = await open_ws(fake, session)
    assert (await ws.subscribe(raw.token, "3", "AFR", alert))["header"]["rsp_cd"] == "01900"
    # Paper orders need "A" + code; paper answers say 모의투자 where the examples do.
    body = order_body("005930", 1, 62_700)
    body["CSPAT00601InBlock1"]["IsuNo"] = "005930"
    assert (await raw.tr("CSPAT00601", body))[1]["rsp_cd"] == "01223"
    assert (await raw.tr("CSPAT00601", order_body("005930", 1, 62_700)))[1]["rsp_cd"] == "00040"
    _, body, _ = await raw.tr("CSPAQ12200", LS_DOC["CSPAQ12200_request"])
    assert body["rsp_msg"] == LS_DOC["CSPAQ12200_paper_response"]["rsp_msg"]
    foccq = {"FOCCQ33600InBlock1": {"QrySrtDt": "20260301", "QryEndDt": "20260310", "TermTp": "1"}}
    assert "모의투자" in (await raw.tr("FOCCQ33600", foccq))[1]["rsp_msg"]
    assert "모의투자" not in (await real.tr("FOCCQ33600", foccq))[1]["rsp_msg"]
    allow = await make_fake(paper_condition_search="allow")
    raw3 = Raw(allow, session, paper=True)
    await raw3.login()
    assert (await raw3.tr("t1866", COND["L1_t1866_request"]))[1]["rsp_cd"] == "00000"


# ---------------------------------------------------------------------------- faults


async def test_5xx_after_create_and_one_order(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    await ws.subscribe(raw.token, "1", "SC0", "")
    fake.fail_next_order_after_create(502)
    status, body, _ = await raw.tr("CSPAT00601", order_body("005930", 1, 62_000))
    assert status == 502 and isinstance(body, str)
    sc0 = await ws.next(is_data("SC0"))  # the order exists and was accepted
    assert len(fake.order_requests) == 1 and len(fake.orders) == 1
    assert sc0["body"]["ordno"] == str(fake.orders[0].ordno) == str(fake.order_requests[0].ordno)
    # The client can find it by t0425 instead of ordering again.
    _, data, _ = await raw.tr(
        "t0425",
        {"t0425InBlock": {"expcode": "", "chegb": "2", "medosu": "0", "sortgb": "1", "cts_ordno": ""}},
    )
    assert [r["ordno"] for r in data["t0425OutBlock1"]] == [fake.orders[0].ordno]


async def test_fill_before_answer_and_delay(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    await ws.subscribe(raw.token, "1", "SC1", "")
    fake.fill_next_order_before_answer()
    await raw.tr("CSPAT00601", order_body("005930", 2, 0, ptn="03"))
    # By the time the REST answer is read the fill was already sent on the socket.
    assert [f["header"]["tr_cd"] for f in fake.connections[0].sent if "body" in f] == ["SC1"]
    assert fake.order_requests[-1].injected == "fill_before_answer"
    await ws.next(is_data("SC1"))
    fake.delay_next_order_answer(0.5)
    task = asyncio.create_task(raw.tr("CSPAT00601", order_body("005930", 1, 0, ptn="03")))
    sc1 = await ws.next(is_data("SC1"))
    assert not task.done()
    status, body, _ = await task
    assert status == 200 and sc1["body"]["ordno"] == str(body["CSPAT00601OutBlock2"]["OrdNo"])


async def test_reject_after_acceptance(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    await ws.subscribe(raw.token, "1", "SC4", "")
    fake.reject_next_order()
    _, body, _ = await raw.tr("CSPAT00601", order_body("005930", 4, 62_000))
    assert body["rsp_cd"] == "00040"
    sc4 = await ws.next(is_data("SC4"))
    assert set(sc4["body"]) == set(LS_DOC["SC1_frame"]["body"])  # the SC1 layout (UNCONFIRMED for SC4)
    assert (sc4["body"]["ordxctptncode"], sc4["body"]["rjtqty"]) == ("14", "4")
    assert fake.orders[0].status == "rejected"


async def test_fail_next_rate_errors_and_drop(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake()
    raw = Raw(fake, session)
    await raw.login()
    fake.fail_next("t0424", 503)
    status, body, _ = await raw.tr("t0424", T0424)
    assert status == 503 and isinstance(body, str)
    fake.fail_next("/oauth2/token", 500)
    form = {"grant_type": "client_credentials", "appkey": REAL_APP_KEY, "appsecretkey": REAL_APP_SECRET,
            "scope": "oob"}  # fmt: skip
    async with session.post(f"{fake.url}/oauth2/token", data=form) as r:
        assert r.status == 500
    fake.rate_error_next("t0424")
    status, body, headers = await raw.tr("t0424", T0424)
    assert (status, body["rsp_cd"], headers["tr_cd"]) == (500, "IGW00201", "t0424")
    assert (await raw.tr("t0424", T0424))[0] == 200
    ws = await open_ws(fake, session)
    await ws.subscribe(raw.token, "3", "S3_", "005930")
    assert await fake.drop_websockets() == 1
    msg = await ws.ws.receive(timeout=3)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    await eventually(lambda: not fake.connections, 3, "the dropped socket to be gone")
    assert len(fake.all_connections) == 1


async def test_pacing(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(rates="default")
    raw = Raw(fake, session)
    await raw.login()
    first = await raw.tr("t1866", COND["L1_t1866_request"])
    second = await raw.tr("t1866", COND["L1_t1866_request"])
    assert first[0] == 200 and (second[0], second[1]["rsp_cd"]) == (500, "IGW00201")  # 1/s
    assert (await raw.tr("t1859", COND["L4_t1859_request"]))[0] == 200  # counted per TR
    await asyncio.sleep(1.05)
    assert (await raw.tr("t1866", COND["L1_t1866_request"]))[0] == 200
    statuses = [(await raw.tr("CSPAT00601", order_body("005930", 1, 60_000)))[0] for _ in range(11)]
    assert statuses.count(200) == 10 and statuses[-1] == 500  # orders 10/s


async def test_modify_order_and_options(make_fake: FakeFactory, session: aiohttp.ClientSession) -> None:
    fake = await make_fake(account_frame_tr_key=True, afr_replay_on_subscribe=True)
    fake.pause_tape()
    raw = Raw(fake, session)
    await raw.login()
    ws = await open_ws(fake, session)
    await ws.subscribe(raw.token, "1", "SC2", "")
    _, body, _ = await raw.tr("CSPAT00601", order_body("005930", 2, 62_000))
    ordno = body["CSPAT00601OutBlock2"]["OrdNo"]
    # CSPAT00701 with the official request's fields: a new number, the original as PrntOrdNo, SC2.
    req = json.loads(json.dumps(LS_DOC["CSPAT00701_request"]))
    req["CSPAT00701InBlock1"] |= {"OrgOrdNo": ordno, "OrdQty": 2, "OrdPrc": 62_100.0}
    _, body, _ = await raw.tr("CSPAT00701", req)
    assert body["rsp_cd"] == "00131"
    example = LS_DOC["CSPAT00701_error_response"]
    assert keys(body["CSPAT00701OutBlock1"]) == keys(example["CSPAT00701OutBlock1"])
    assert keys(example["CSPAT00701OutBlock2"]) <= keys(body["CSPAT00701OutBlock2"])
    assert body["CSPAT00701OutBlock2"]["PrntOrdNo"] == ordno
    sc2 = await ws.next(is_data("SC2"))
    assert sc2["header"] == {"tr_cd": "SC2", "tr_key": ""}  # account_frame_tr_key=True
    assert set(sc2["body"]) == set(LS_DOC["SC2_frame"]["body"])
    assert (sc2["body"]["ordxctptncode"], sc2["body"]["mdfycnfprc"], sc2["body"]["orgordno"]) == (
        "12",
        "62100",
        str(ordno),
    )
    assert fake.order(ordno).status == "replaced"
    # The official example's lower-limit refusal: 03181.
    req["CSPAT00701InBlock1"] |= {"OrgOrdNo": body["CSPAT00701OutBlock2"]["OrdNo"], "OrdPrc": 8_350.0}
    _, body, _ = await raw.tr("CSPAT00701", req)
    assert body["rsp_cd"] == example["rsp_cd"] == "03181"
    # afr_replay_on_subscribe=True: the current members come as "N" right after the subscription.
    fake.set_condition_members("testID0000", ["005930"])
    alert = (await raw.tr("t1860", COND["L2_t1860_request"]))[1]["t1860OutBlock"]["sAlertNum"]
    await ws.subscribe(raw.token, "3", "AFR", alert)
    afr = await ws.next(is_data("AFR"))
    assert (afr["body"]["gsCode"], afr["body"]["gsJobFlag"]) == ("005930", "N")
