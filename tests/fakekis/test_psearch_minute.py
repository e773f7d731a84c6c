"""Condition search (psearch-title / psearch-result) and 1-minute bars (inquire-time-itemchartprice)
of the fake KIS server, over real HTTP with the raw client of test_fake."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
import pytest

from engine.clock import Clock
from tests import fakekrx as krx
from tests.fakekis.server import Env, FakeKis
from tests.fakekis.test_fake import Raw

QUOTES = "/uapi/domestic-stock/v1/quotations"
TITLE, RESULT = f"{QUOTES}/psearch-title", f"{QUOTES}/psearch-result"
MINUTE = f"{QUOTES}/inquire-time-itemchartprice"
S2_FIELDS = [
    "code",
    "name",
    "daebi",
    "price",
    "chgrate",
    "acml_vol",
    "trade_amt",
    "change",
    "cttr",
    "open",
    "high",
    "low",
    "high52",
    "low52",
    "expprice",
    "expchange",
    "expchggrate",
    "expcvol",
    "chgrate2",
    "expdaebi",
    "recprice",
    "uplmtprice",
    "dnlmtprice",
    "stotprice",
]
BAR_FIELDS = {
    "stck_bsop_date",
    "stck_cntg_hour",
    "stck_prpr",
    "stck_oprc",
    "stck_hgpr",
    "stck_lwpr",
    "cntg_vol",
    "acml_tr_pbmn",
}
MID = datetime(2026, 6, 3, 11, 0, 5)  # a Wednesday, two hours into the session


class Boot(Protocol):
    def __call__(
        self, *, env: Env = "real", at: datetime | None = MID, **kwargs: Any
    ) -> Awaitable[tuple[FakeKis, Raw]]: ...


@pytest.fixture
async def boot() -> AsyncIterator[Boot]:
    """A started fake (real env, no rate limit, tape paused, clock frozen at `at`) and a raw
    client holding a token."""
    fakes: list[FakeKis] = []
    async with aiohttp.ClientSession() as session:

        async def factory(
            *, env: Env = "real", at: datetime | None = MID, **kwargs: Any
        ) -> tuple[FakeKis, Raw]:
            clock = Clock.at(at, frozen=True) if at is not None else None
            fake = FakeKis(env=env, rate_limit=kwargs.pop("rate_limit", None), clock=clock, **kwargs)
            await fake.start()
            fakes.append(fake)
            fake.pause_tape()
            raw = Raw(fake, session)
            status, _ = await raw.issue_token()
            assert status == 200
            return fake, raw

        yield factory
        for fake in fakes:
            await fake.stop()


async def result(raw: Raw, seq: str, user: str = "testuser") -> tuple[int, Any]:
    status, body, _ = await raw.get(RESULT, "HHKST03900400", {"user_id": user, "seq": seq})
    return status, body


async def raw_get(raw: Raw, path: str, tr_id: str, params: dict[str, str]) -> tuple[int, str]:
    async with raw.session.get(f"{raw.fake.url}{path}", headers=raw.headers(tr_id), params=params) as r:
        return r.status, await r.text()


def codes(body: Any) -> list[str]:
    return [row["code"] for row in body["output2"]]


def num(field: str) -> float:
    return float(field.strip())


# ---------------------------------------------------------------------------- psearch


async def test_psearch_title_rows(boot: Boot) -> None:
    fake, raw = await boot()
    status, body, _ = await raw.get(TITLE, "HHKST03900300", {"user_id": "testuser"})
    assert status == 200 and set(body) == {"output2", "rt_cd", "msg_cd", "msg1"}
    assert (body["rt_cd"], body["msg_cd"], body["msg1"]) == ("0", "MCA00000", "정상처리 되었습니다.")
    assert [(r["user_id"], r["seq"], r["grp_nm"], r["condition_nm"]) for r in body["output2"]] == [
        ("testuser", "0", "임시그룹", "급등주"),
        ("testuser", "1", "임시그룹", "거래량급증"),
        ("testuser", "2", "돌파전략", "신고가"),
    ]

    fake.set_conditions([("나의그룹", "눌림목"), ("나의그룹", "정배열")])
    _, body, _ = await raw.get(TITLE, "HHKST03900300", {"user_id": "testuser"})
    assert [(r["seq"], r["condition_nm"]) for r in body["output2"]] == [("0", "눌림목"), ("1", "정배열")]

    _, body, _ = await raw.get(TITLE, "HHKST03900300", {"user_id": "someoneelse"})
    assert body["rt_cd"] == "1" and body["msg_cd"] == "KIOK0460" and "output2" not in body
    _, body, _ = await raw.get(TITLE, "HHKST03900300", {})
    assert body["rt_cd"] == "1" and body["msg_cd"] == "OPSQ2001"
    _, body, _ = await raw.get(TITLE, "HHKST03900400", {"user_id": "testuser"})  # the result TR
    assert body["rt_cd"] == "1" and body["msg_cd"] == "OPSQ0002"


async def test_psearch_constructor_conditions(boot: Boot) -> None:
    fake, raw = await boot(conditions=[("스윙", "골든크로스")])
    _, body, _ = await raw.get(TITLE, "HHKST03900300", {"user_id": "testuser"})
    rows = [(r["seq"], r["grp_nm"], r["condition_nm"]) for r in body["output2"]]
    assert rows == [("0", "스윙", "골든크로스")]
    fake.set_condition_members(0, ["005930"])
    assert codes((await result(raw, "0"))[1]) == ["005930"]
    assert (await result(raw, "1"))[1]["msg_cd"] == "KIOK0460"  # only seq 0 is saved


async def test_psearch_result_rows_from_the_tape(boot: Boot) -> None:
    fake, raw = await boot()
    fake.set_condition_members("0", ["005930", "000660"])
    await fake.trade("005930", 63_000, 5)
    await fake.trade("005930", 62_900, 7, side="sell")
    status, body = await result(raw, "0")
    assert status == 200 and (body["rt_cd"], body["msg_cd"]) == ("0", "MCA00000")
    assert codes(body) == ["000660", "005930"]  # code order
    for row in body["output2"]:
        assert list(row) == S2_FIELDS
        assert all(len(row[k]) == 16 for k in S2_FIELDS if k not in ("code", "name", "daebi", "expdaebi"))
    sk, ss = body["output2"]
    assert (ss["name"], ss["daebi"], num(ss["price"]), num(ss["change"])) == ("삼성전자", "2", 62_900, 200)
    assert ss["price"] == "00000062900.0000" and num(ss["chgrate"]) == round(200 / 62_700 * 100, 4)
    assert num(ss["cttr"]) == round(5 / 7 * 100, 4)
    lower, upper = krx.price_limits(62_700)
    assert (num(ss["recprice"]), num(ss["dnlmtprice"]), num(ss["uplmtprice"])) == (62_700, lower, upper)
    assert num(ss["low"]) <= 62_900 <= num(ss["high"]) and num(ss["low52"]) <= num(ss["low"])
    assert (sk["daebi"], num(sk["price"])) == ("3", 187_000)  # traded before the fake began, flat now

    # The day's volume and open agree with the minute chart: one day, whichever endpoint shows it.
    for code, row in (("005930", ss), ("000660", sk)):
        chart = await minute(raw, code, "153000")
        assert num(row["acml_vol"]) == int(chart["output1"]["acml_vol"]) > 0
        bars = await all_bars(raw, code)
        assert bars[-1]["stck_cntg_hour"] == "090000" and num(row["open"]) == int(bars[-1]["stck_oprc"])


async def test_psearch_zero_matches_and_enter_leave(boot: Boot) -> None:
    fake, raw = await boot()
    status, body = await result(raw, "1")
    assert status == 200 and body == {"rt_cd": "1", "msg_cd": "MCA05918", "msg1": "종목코드 오류입니다."}
    assert fake.condition_enter("1", "035720") is True
    assert fake.condition_enter("1", "035720") is False
    assert codes((await result(raw, "1"))[1]) == ["035720"]
    assert fake.condition_enter(1, "000660") is True
    polled = codes((await result(raw, "1"))[1])
    assert polled == ["000660", "035720"]
    assert fake.condition_leave("1", "035720") is True and fake.condition_leave("1", "035720") is False
    after = codes((await result(raw, "1"))[1])
    assert set(polled) - set(after) == {"035720"} and after == ["000660"]
    assert (await result(raw, "0"))[1]["msg_cd"] == "MCA05918"  # other conditions untouched
    fake.condition_leave("1", "000660")
    assert (await result(raw, "1"))[1]["msg_cd"] == "MCA05918"
    assert fake.condition_members("1") == []


async def test_psearch_unknown_user_and_seq(boot: Boot) -> None:
    fake, raw = await boot()
    fake.set_condition_members("2", ["005930"])
    assert codes((await result(raw, "2"))[1]) == ["005930"]
    for user, seq in (("testuser", "3"), ("testuser", "02"), ("nobody", "2")):
        status, body = await result(raw, seq, user)
        assert status == 200 and body["rt_cd"] == "1" and body["msg_cd"] == "KIOK0460", (user, seq)
    status, body, _ = await raw.get(RESULT, "HHKST03900400", {"user_id": "testuser"})
    assert body["rt_cd"] == "1" and body["msg_cd"] == "OPSQ2001"


async def test_psearch_paper_refused(boot: Boot) -> None:
    fake, raw = await boot(env="paper")
    fake.set_condition_members("0", ["005930"])
    _, title, _ = await raw.get(TITLE, "HHKST03900300", {"user_id": "testuser"})
    status, body = await result(raw, "0")
    for reply in (title, body):
        assert reply["rt_cd"] == "1" and reply["msg_cd"] == "90000000" and "모의투자" in reply["msg1"]
        assert "output2" not in reply
    assert status == 200
    # The minute chart is served on paper as on real (same tr_id).
    assert (await minute(raw, "005930", "110000"))["rt_cd"] == "0"


async def test_psearch_at_most_100_rows(boot: Boot) -> None:
    fake, raw = await boot()
    added = [f"{900_000 + i:06d}" for i in range(120)]
    for i, code in enumerate(reversed(added)):
        fake.add_symbol(code, 10_000 + 10 * i)
    fake.set_condition_members("0", reversed(added))
    _, body = await result(raw, "0")
    assert body["rt_cd"] == "0" and codes(body) == added[:100]
    assert len(fake.condition_members("0")) == 120


async def test_psearch_rate_limit_faults_and_request_log(boot: Boot) -> None:
    fake, raw = await boot(rate_limit=2.0)
    fake.set_condition_members("0", ["005930"])
    await asyncio.sleep(1.05)  # the token request does not count, but leave the window empty anyway
    answers = await asyncio.gather(*(result(raw, "0") for _ in range(5)))
    assert sorted(b["msg_cd"] for _, b in answers) == ["EGW00201"] * 3 + ["MCA00000"] * 2
    assert {s for s, b in answers if b["msg_cd"] == "EGW00201"} == {500}
    # The one window is shared with every other TR.
    await asyncio.sleep(1.05)
    await result(raw, "0")
    _, body, _ = await raw.get(
        f"{QUOTES}/inquire-price",
        "FHKST01010100",
        {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
    )
    assert body["rt_cd"] == "0"
    assert (await result(raw, "0"))[1]["msg_cd"] == "EGW00201"

    fake.fail_next("psearch-result", status=502)
    status, text = await raw_get(raw, RESULT, "HHKST03900400", {"user_id": "testuser", "seq": "0"})
    assert status == 502 and "injected" in text
    assert [r.seq for r in fake.psearch_requests] == ["0"] * 8
    assert all(r.path == RESULT for r in fake.psearch_requests)


async def test_psearch_request_times(boot: Boot) -> None:
    fake, raw = await boot()
    fake.set_condition_members("0", ["005930"])
    await raw.get(TITLE, "HHKST03900300", {"user_id": "testuser"})
    for _ in range(3):
        await result(raw, "0")
        await asyncio.sleep(0.2)
    assert [(r.path, r.seq) for r in fake.psearch_requests] == [(TITLE, "")] + [(RESULT, "0")] * 3
    times = [r.at for r in fake.psearch_requests[1:]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and all(0.2 <= g < 1.0 for g in gaps)


# ---------------------------------------------------------------------------- minute bars


async def minute(raw: Raw, code: str, hour: str, **extra: str) -> Any:
    params = {
        "FID_ETC_CLS_CODE": "",
        "FID_COND_MRKT_DIV_CODE": "J",
        "FID_INPUT_ISCD": code,
        "FID_INPUT_HOUR_1": hour,
        "FID_PW_DATA_INCU_YN": "Y",
        **extra,
    }
    status, body, _ = await raw.get(MINUTE, "FHKST03010200", params)
    assert status == 200
    return body


def earlier(hhmmss: str) -> str:
    t = datetime.strptime(hhmmss, "%H%M%S") - timedelta(minutes=1)
    return t.strftime("%H%M%S")


async def pages(raw: Raw, code: str, start: str = "153000") -> list[list[dict[str, str]]]:
    """Page backwards the way a client does: again from one minute before the oldest row."""
    out = []
    hour = start
    while True:
        body = await minute(raw, code, hour)
        assert body["rt_cd"] == "0", body
        out.append(body["output2"])
        if not body["output2"] or body["output2"][-1]["stck_cntg_hour"] == "090000":
            return out
        hour = earlier(body["output2"][-1]["stck_cntg_hour"])


async def all_bars(raw: Raw, code: str) -> list[dict[str, str]]:
    return [row for page in await pages(raw, code) for row in page]


def minutes(start: str, stop: str) -> list[str]:
    """HHMM00 from start to stop, newest first, stop excluded."""
    t, end, out = datetime.strptime(start, "%H%M"), datetime.strptime(stop, "%H%M"), []
    while t < end:
        out.append(t.strftime("%H%M00"))
        t += timedelta(minutes=1)
    return out[::-1]


async def test_minute_bars_page_back_30_at_a_time_to_the_open(boot: Boot) -> None:
    fake, raw = await boot()
    got = await pages(raw, "005930")
    assert [len(p) for p in got] == [30, 30, 30, 30]  # 09:00-10:59 before the fake began at 11:00
    rows = [r for p in got for r in p]
    assert [r["stck_cntg_hour"] for r in rows] == minutes("0900", "1100")
    assert all(set(r) == BAR_FIELDS and r["stck_bsop_date"] == "20260603" for r in rows)
    assert [m.hour for m in fake.minute_requests] == ["153000", "102900", "095900", "092900"]
    # Each page ends at the hour asked for, newest first.
    page = (await minute(raw, "005930", "101530"))["output2"]
    assert [r["stck_cntg_hour"] for r in page] == minutes("0946", "1016")
    assert (await minute(raw, "005930", "085959"))["output2"] == []
    # Same seed and start, same history; another symbol walks its own way.
    again = [r for p in await pages(raw, "005930") for r in p]
    assert again == rows
    other = [r for p in await pages(raw, "000660") for r in p]
    assert [r["stck_prpr"] for r in other] != [r["stck_prpr"] for r in rows]


async def test_minute_bars_are_consistent_ohlc(boot: Boot) -> None:
    fake, raw = await boot()
    for code, base in (("005930", 62_700), ("000660", 187_000), ("373220", 412_000)):
        body = await minute(raw, code, "153000")
        rows = await all_bars(raw, code)
        lower, upper = krx.price_limits(base)
        for r in rows:
            o, h, lo, c = (int(r[k]) for k in ("stck_oprc", "stck_hgpr", "stck_lwpr", "stck_prpr"))
            assert lo <= min(o, c) <= max(o, c) <= h, r
            assert all(krx.on_grid(p) and lower <= p <= upper for p in (o, h, lo, c)), r
            assert int(r["cntg_vol"]) > 0
        asc = rows[::-1]
        assert int(asc[-1]["stck_prpr"]) == base  # the history ends where the live tape starts
        assert all(a["stck_prpr"] == b["stck_oprc"] for a, b in itertools.pairwise(asc))
        cum = [int(r["acml_tr_pbmn"]) for r in asc]
        assert all(a < b for a, b in itertools.pairwise(cum))
        assert cum[-1] == int(body["output1"]["acml_tr_pbmn"])
        assert sum(int(r["cntg_vol"]) for r in rows) == int(body["output1"]["acml_vol"])
        assert body["output1"]["stck_prdy_clpr"] == str(base) and body["output1"]["stck_prpr"] == str(base)

    # Live prints make the current minute's bar, after the seeded ones.
    for price, qty in ((62_800, 10), (63_000, 4), (62_600, 6), (62_700, 1)):
        await fake.trade("005930", price, qty)
    body = await minute(raw, "005930", "153000")
    first, second = body["output2"][:2]
    assert (first["stck_cntg_hour"], second["stck_cntg_hour"]) == ("110000", "105900")
    assert [first[k] for k in ("stck_oprc", "stck_hgpr", "stck_lwpr", "stck_prpr", "cntg_vol")] == [
        "62800",
        "63000",
        "62600",
        "62700",
        "21",
    ]
    turnover = 62_800 * 10 + 63_000 * 4 + 62_600 * 6 + 62_700
    assert int(first["acml_tr_pbmn"]) - int(second["acml_tr_pbmn"]) == turnover
    assert body["output1"]["stck_prpr"] == "62700" and body["output1"]["prdy_vrss_sign"] == "3"


async def test_minute_history_follows_the_start_time(boot: Boot) -> None:
    # After the close: the continuous session to 15:19 and the 15:30 closing auction, nothing between.
    _, raw = await boot(at=datetime(2026, 6, 3, 16, 10))
    hours = [r["stck_cntg_hour"] for r in await all_bars(raw, "005930")]
    assert hours == ["153000", *minutes("0900", "1520")]
    # Started at the open or before it: nothing to seed.
    for at in (datetime(2026, 6, 3, 9, 0, 40), datetime(2026, 6, 3, 7, 55)):
        _, raw = await boot(at=at)
        body = await minute(raw, "005930", "153000")
        assert body["rt_cd"] == "0" and body["output2"] == [] and body["output1"]["acml_vol"] == "0"


async def test_minute_bars_are_today_only(boot: Boot) -> None:
    fake, raw = await boot()
    await fake.trade("005930", 62_800, 3)
    assert len((await minute(raw, "005930", "153000"))["output2"]) == 30
    fake.advance_clock(86_400)
    raw.token = ""
    fake.allow_token_in(0)
    await raw.issue_token()
    body = await minute(raw, "005930", "153000")
    assert body["output2"] == [] and body["output1"]["acml_vol"] == "0"
    await fake.trade("005930", 62_900, 2)
    (row,) = (await minute(raw, "005930", "153000"))["output2"]
    assert (row["stck_bsop_date"], row["stck_cntg_hour"], row["cntg_vol"]) == ("20260604", "110000", "2")


async def test_minute_first_row_quirk(boot: Boot) -> None:
    fake, raw = await boot(minute_first_row_quirk=True)
    first, second = (await minute(raw, "005930", "153000"))["output2"][:2]
    assert (first["stck_cntg_hour"], second["stck_cntg_hour"]) == ("110000", "105900")
    assert first["cntg_vol"] == second["cntg_vol"] and first["stck_prpr"] == second["stck_prpr"]
    assert (await minute(raw, "005930", "105959"))["output2"][0]["stck_cntg_hour"] == "105900"
    await fake.trade("005930", 62_800, 9)
    first, second = (await minute(raw, "005930", "153000"))["output2"][:2]
    assert (first["stck_cntg_hour"], first["cntg_vol"], second["stck_cntg_hour"]) == ("110000", "9", "105900")


async def test_minute_refusals(boot: Boot) -> None:
    _, raw = await boot()
    for extra in (
        {"FID_COND_MRKT_DIV_CODE": "NX"},
        {"FID_INPUT_ISCD": "999999"},
        {"FID_INPUT_HOUR_1": "1100"},
        {"FID_INPUT_HOUR_1": "250000"},
        {"FID_PW_DATA_INCU_YN": "X"},
    ):
        body = await minute(raw, "005930", "110000", **extra)
        assert body["rt_cd"] == "1" and body["msg_cd"] == "OPSQ2001" and "output2" not in body, extra
    partial = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930", "FID_INPUT_HOUR_1": "110000"}
    _, body, _ = await raw.get(MINUTE, "FHKST03010200", partial)
    assert body["rt_cd"] == "1" and "FID_PW_DATA_INCU_YN" in body["msg1"]
    _, body, _ = await raw.get(MINUTE, "FHKST03010100", {})
    assert body["msg_cd"] == "OPSQ0002"


async def test_minute_later_hour_reads_as_now(boot: Boot) -> None:
    fake, raw = await boot()
    await fake.trade("005930", 62_800, 3)  # the 11:00 bar
    fake.advance_clock(-120)  # 10:58:05: the 11:00 print now lies ahead of the clock
    page = (await minute(raw, "005930", "153000"))["output2"]
    assert [r["stck_cntg_hour"] for r in page[:2]] == ["105800", "105700"]
    fake.advance_clock(120)
    assert (await minute(raw, "005930", "153000"))["output2"][0]["stck_cntg_hour"] == "110000"
