"""LS codec on the reference's example bodies and frames, no sockets.

The examples are copied verbatim (whitespace normalised) from shared/reference/brokers.md
section 1 and condition-search.md sections 3 and 6, and, for the TRs those name without an
example, from the LS portal pages they cite (t0424, t0425, CSPAQ12200, t8412).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest

from engine.brokers.base import ConditionInfo
from engine.brokers.ls import codec
from engine.clock import SEOUL
from engine.krx.costs import Market
from engine.ordertypes import OrderStatus, Side

# brokers.md 1.2
TOKEN_FORM = "grant_type=client_credentials&appkey=<36>&appsecretkey=<36>&scope=oob"
TOKEN_ANSWER = '{"access_token":"eyJ0eXAiOiJKV1Qi...","scope":"oob","token_type":"Bearer","expires_in":86400}'
REVOKE_ANSWER = '{"code":200,"message":"접근토큰 폐기에 성공하였습니다."}'
# brokers.md 1.4
ORDER_REQUEST = (
    '{"CSPAT00601InBlock1":{"IsuNo":"A272210","OrdQty":1,"OrdPrc":35000,'
    '"BnsTpCode":"2","OrdprcPtnCode":"00","MgntrnCode":"000","LoanDt":"",'
    '"OrdCndiTpCode":"0","MbrNo":"NXT"}}'
)
ORDER_ANSWER = (
    '{"CSPAT00601OutBlock1":{"RecCnt":1,"AcntNo":"20*********","IsuNo":"A272210",'
    '"OrdQty":1,"OrdPrc":"35000.00","BnsTpCode":"2","OrdprcPtnCode":"00",'
    '"MbrNo":"NXT"},"CSPAT00601OutBlock2":{"RecCnt":1,"OrdNo":32004,'
    '"OrdTime":"153257702","OrdMktCode":"10","OrdPtnCode":"02","ShtnIsuNo":"A272210",'
    '"OrdAmt":35000,"SpareOrdNo":32004,"AcntNm":"***","IsuNm":"한화시스템"},'
    '"rsp_cd":"00040","rsp_msg":"매수 주문이 완료되었습니다."}'
)
CANCEL_REQUEST = '{"CSPAT00801InBlock1":{"OrgOrdNo":171011,"IsuNo":"A005930","OrdQty":1}}'
# brokers.md 1.3
S3_SUBSCRIBE = (
    '{"header":{"token":"eyJ0eXAiOiJKV1Qi...","tr_type":"3"},"body":{"tr_cd":"S3_","tr_key":"005930"}}'
)
SC1_SUBSCRIBE = '{"header":{"token":"…","tr_type":"1"},"body":{"tr_cd":"SC1","tr_key":""}}'
ACK = (
    '{"header":{"tr_cd":"S3_","tr_key":"005930","tr_type":"3","rsp_cd":"00000",'
    '"rsp_msg":"정상처리되었습니다"}}'
)
S3_FRAME = (
    '{"header":{"tr_cd":"S3_","tr_key":"005930"},'
    '"body":{"mdchecnt":"23","sign":"2","mschecnt":"96","mdvolume":"946","w_avrg":"55448",'
    '"cpower":"332.56","offerho":"55600","cvolume":"1","high":"55800","bidho":"55500",'
    '"low":"55500","price":"55550","cgubun":"+","value":"604","change":"1050",'
    '"shcode":"005930","chetime":"090851","opentime":"090030","lowtime":"090030",'
    '"volume":"10887","drate":"1.93","hightime":"090504","jnilvolume":"2508350",'
    '"msvolume":"3146","exchname":"KRX","open":"55600","status":"00"}}'
)
SC1_FRAME = (
    '{"header":{"tr_cd":"SC1"},"body":{"trcode":"SONAS100","ordxctptncode":"11",'
    '"ordno":"86382","orgordno":"0","execno":"1","execqty":"1","execprc":"60000",'
    '"exectime":"095636107","ordqty":"2","ordprc":"60000","unercqty":"1",'
    '"ordavrexecprc":"60000","bnstp":"2","shtnIsuno":"A005930","Isuno":"KR7005930003",'
    '"Isunm":"삼성전자","ordprcptncode":"00","accno":"20011132702"}}'
)
# condition-search.md 6 (L1-L4; L1 is the JSON copy in 3.2)
T1866_REQUEST = (
    '{"t1866InBlock": {"user_id": "testID", "gb": "0", "group_name": "", "cont": "", "cont_key": ""}}'
)
T1866_ANSWER = (
    '{"t1866OutBlock": {"result_count": 5, "cont": "", "contkey": ""},'
    ' "t1866OutBlock1": [{"query_index": "testID0000", "group_name": "나의전략",'
    ' "query_name": "테스트1"}, {"query_index": "testID0002", "group_name": "나의전략",'
    ' "query_name": "테스트2"}, {"query_index": "testID0003", "group_name": "나의전략",'
    ' "query_name": "거래량 급증(1분봉)"}, {"query_index": "testID0004",'
    ' "group_name": "나의전략", "query_name": "테스트3"}, {"query_index": "testID0005",'
    ' "group_name": "나의전략", "query_name": "기관외국인상위100"}],'
    ' "rsp_cd": "00000", "rsp_msg": "조회성공"}'
)
T1860_REQUEST = (
    '{"t1860InBlock": {"sSysUserFlag": "U", "sFlag": "E", "sAlertNum": "", "query_index": "testID0000"}}'
)
T1860_ANSWER = (
    '{"t1860OutBlock": {"sSysUserFlag": "U", "sFlag": "E", "sResultFlag": "S",'
    ' "sTime": "172249", "sAlertNum": "1722490200A", "Msg": "정상처리 되었습니다."},'
    ' "rsp_cd": "00000", "rsp_msg": "조회 완료"}'
)
AFR_SUBSCRIBE = (
    '{"header": {"token": "토큰값", "tr_type": "3"}, "body": {"tr_cd": "AFR", "tr_key": "실시간키"}}'
)
AFR_FRAME = (
    '{"header": {"tr_cd": "AFR", "tr_key": "실시간키"}, "body": {"gsJobFlag": "O",'
    ' "gsVolume": "3432360", "gsPrice": "2435", "gsSign": "2", "gshname": "HB테크놀러지",'
    ' "gsChange": "45", "gsChgRate": "1.88", "gsCode": "078150"}}'
)
T1859_REQUEST = '{"t1859InBlock": {"query_index": "testID0000"}}'
T1859_ANSWER = (
    '{"t1859OutBlock": {"result_count": 225, "result_time": "171729", "text": ""},'
    ' "t1859OutBlock1": [{"shcode": "000250", "hname": "삼천당제약", "price": 68300,'
    ' "sign": "2", "change": 1200, "diff": "1.79", "volume": 241418}],'
    ' "rsp_cd": "00000", "rsp_msg": ""}'
)
# The LS portal's examples (REST[주식] 계좌 / 차트 pages), abridged to the fields read.
T0424_ANSWER = (
    '{"rsp_cd": "00000", "t0424OutBlock": {"dtsunik": 0, "cts_expcode": "",'
    ' "mamt": 120013, "sunamt1": 80000000, "tappamt": 150283, "sunamt": 80030265,'
    ' "tdtsunik": 30270}, "t0424OutBlock1": [{"janqty": 2, "mdposqt": 2, "pamt": 60000,'
    ' "hname": "삼성전자", "expcode": "005930", "price": 75300}],'
    ' "rsp_msg": "조회가 완료되었습니다."}'
)
T0425_ANSWER = (
    '{"rsp_cd": "00000", "t0425OutBlock1": [{"orgordno": 0, "ordrem": 2, "cfmqty": 0,'
    ' "ordgb": "보통", "cheqty": 0, "orggb": "02", "ordno": 84, "loandt": "",'
    ' "price": 60000, "sysprocseq": 88, "singb": "00", "qty": 2, "hogagb": "00",'
    ' "expcode": "005930", "medosu": "매수", "cheprice": 0, "ordtime": "08410730",'
    ' "ordermtd": "씽(Xing)-F", "price1": 71900, "status": "접수"}],'
    ' "t0425OutBlock": {"tcheqty": 0, "tamt": 0, "tqty": 2, "cmss": 0, "tmsamt": 0,'
    ' "tax": 0, "tmdamt": 0, "cts_ordno": "", "tordrem": 2},'
    ' "rsp_msg": "조회가 완료되었습니다."}'
)
CSPAQ12200_PAPER_ANSWER = (
    '{"rsp_cd": "00136", "CSPAQ12200OutBlock2": {"MnyOrdAbleAmt": 500000000,'
    ' "Dps": 500000000, "D2Dps": 500000000, "RecCnt": 1},'
    ' "CSPAQ12200OutBlock1": {"RecCnt": 1, "BalCreTp": "1"},'
    ' "rsp_msg": "모의투자 조회가 완료되었습니다."}'
)
T8412_ANSWER = (
    '{"t8412OutBlock": {"shcode": "078020", "jisiga": 4550, "jihigh": 4610,'
    ' "jilow": 4320, "jiclose": 4555, "jivolume": 49742, "disiga": 4495, "dihigh": 4540,'
    ' "dilow": 4280, "diclose": 4515, "highend": 5920, "lowend": 3190,'
    ' "cts_date": "20240906", "cts_time": "111200", "s_time": "090000",'
    ' "e_time": "153000", "dshmin": "10", "rec_count": 500}, "t8412OutBlock1": ['
    '{"date": "20240906", "time": "111300", "open": 4445, "high": 4470, "low": 4445,'
    ' "close": 4470, "jdiff_vol": 2317, "value": 10, "jongchk": 0, "rate": "0.00",'
    ' "sign": "5"}, {"date": "20240906", "time": "111400", "open": 4470, "high": 4470,'
    ' "low": 4445, "close": 4470, "jdiff_vol": 8301, "value": 37, "jongchk": 0,'
    ' "rate": "0.00", "sign": "5"}], "rsp_cd": "00000",'
    ' "rsp_msg": "정상적으로 조회가 완료되었습니다."}'
)

MORNING = datetime(2026, 3, 10, 9, 10, tzinfo=SEOUL)  # a Tuesday


def ns(at: datetime) -> int:
    return int(at.timestamp() * 1e9)


def answer(text: str, **headers: str) -> codec.Answer:
    parsed = codec.parse_answer(text.encode(), headers)
    assert parsed is not None
    return parsed


# ---- token ------------------------------------------------------------------------------------


def test_token_request_is_the_documented_form() -> None:
    assert codec.token_form("<36>", "<36>") == dict(parse_qsl(TOKEN_FORM))


def test_token_answer_gives_the_token_and_its_expiry() -> None:
    token, expires = codec.token_answer(json.loads(TOKEN_ANSWER), now=1000.0)
    assert (token, expires) == ("eyJ0eXAiOiJKV1Qi...", 1000.0 + 86400)
    # The field table's spelling is read too.
    body = {"access_token": "t" * 20, "expire_in": 3600}
    assert codec.token_answer(body, now=0.0) == ("t" * 20, 3600.0)
    with pytest.raises(codec.LsDecodeError):
        codec.token_answer({"scope": "oob"}, now=0.0)
    assert codec.revoked(json.loads(REVOKE_ANSWER))


# ---- orders -----------------------------------------------------------------------------------


def test_order_request_matches_the_example_with_json_numbers() -> None:
    body = codec.request_body(codec.ORDER_TR, codec.order_fields("272210", Side.BUY, "limit", 1, 35000))
    expected = json.loads(ORDER_REQUEST)
    expected["CSPAT00601InBlock1"]["MbrNo"] = "KRX"  # Tradecord routes to KRX only
    assert body == expected
    block = json.loads(json.dumps(body))["CSPAT00601InBlock1"]
    assert type(block["OrdQty"]) is int and type(block["OrdPrc"]) is int
    market = codec.order_fields("005930", Side.SELL, "market", 3, None)
    assert (market["OrdprcPtnCode"], market["OrdPrc"], market["BnsTpCode"]) == ("03", 0, "1")


def test_order_answer_gives_the_order_number() -> None:
    reply = answer(ORDER_ANSWER, tr_cd="CSPAT00601", tr_cont="N")
    assert reply.ok and (reply.code, reply.message) == ("00040", "매수 주문이 완료되었습니다.")
    assert codec.order_number(reply.body) == "32004"
    assert codec.order_number({"rsp_cd": "03181"}) == ""


def test_cancel_request_matches_the_example() -> None:
    body = codec.request_body(codec.CANCEL_TR, codec.cancel_fields("171011", "005930", 1))
    assert body == json.loads(CANCEL_REQUEST)


def test_success_codes_and_refusals() -> None:
    for code in ("00000", "00039", "00040", "00136", "00156", "00200"):
        assert codec.is_success(code), code
    for code in ("03181", "01900", "IGW00201", "IGW00121", "", "0000"):
        assert not codec.is_success(code), code
    assert codec.parse_answer(b"502 Bad Gateway", {}) is None
    refusal = answer('{"rsp_cd":"03181","rsp_msg":"주문가격이 하한가 미달입니다."}')
    assert not refusal.ok
    assert codec.describe(refusal.code, refusal.message) == (
        "LS refused the request: 주문가격이 하한가 미달입니다. [03181]"
    )


def test_continuation_headers_are_read_whatever_their_case() -> None:
    reply = answer('{"rsp_cd":"00000","rsp_msg":""}', Tr_Cont="Y", TR_CONT_KEY="005930")
    assert (reply.more, reply.cont_key) == (True, "005930")


def test_secrets_are_scrubbed_from_broker_text() -> None:
    key = "PSfakeLSreal0123456789abcdefghijklmn"
    assert codec.scrub(f"bad key {key}", (key, "")) == "bad key ***"


# ---- account and instruments ------------------------------------------------------------------


def test_positions_orders_and_cash() -> None:
    assert codec.positions(json.loads(T0424_ANSWER)) == {"005930": 2}
    (row,) = codec.order_rows(json.loads(T0425_ANSWER))
    assert row == codec.OrderRow(
        "84", "005930", Side.BUY, 2, 60000, 0, 0.0, 2, OrderStatus.ACCEPTED, "084107", "", False
    )
    paper = answer(CSPAQ12200_PAPER_ANSWER)
    assert paper.ok and codec.says_paper(paper.message)
    assert codec.cash(paper.body) == 500_000_000


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"qty": 10, "cheqty": 3, "ordrem": 7, "status": "부분체결"}, OrderStatus.PARTIALLY_FILLED),
        ({"qty": 10, "cheqty": 10, "ordrem": 0, "status": "체결"}, OrderStatus.FILLED),
        ({"qty": 10, "cheqty": 3, "ordrem": 0, "cfmqty": 7, "status": "취소"}, OrderStatus.CANCELLED),
        ({"qty": 10, "cheqty": 0, "ordrem": 0, "status": "거부"}, OrderStatus.REJECTED),
    ],
)
def test_order_row_states(fields: dict[str, Any], status: OrderStatus) -> None:
    row = {"ordno": 9, "expcode": "005930", "medosu": "매도", "price": 100, "orgordno": 0} | fields
    (parsed,) = codec.order_rows({"t0425OutBlock1": [row]})
    assert (parsed.status, parsed.side, parsed.cancel_record) == (status, Side.SELL, False)


def test_a_cancel_request_row_is_not_an_order() -> None:
    row = {
        "ordno": 11,
        "expcode": "005930",
        "medosu": "매수",
        "qty": 5,
        "orgordno": 9,
        "status": "취소확인",
        "ordrem": 0,
        "cfmqty": 5,
    }
    (parsed,) = codec.order_rows({"t0425OutBlock1": [row]})
    assert parsed.cancel_record and parsed.original == "9"


def test_quote_and_yesterday() -> None:
    body = {
        "t1102OutBlock": {
            "hname": "LS증권",
            "price": 4535,
            "recprice": 4525,
            "uplmtprice": 5880,
            "dnlmtprice": 3170,
            "open": 4550,
            "janginfo": "KOSDAQ",
        }
    }  # the portal example's values
    assert codec.quote(body, "078020") == codec.Quote("LS증권", Market.KOSDAQ, 4525, 4550, 5880, 3170)
    assert codec.market_of("") == Market.KOSPI
    with pytest.raises(codec.LsDecodeError):
        codec.quote({"t1102OutBlock": {"hname": ""}}, "999999")
    assert codec.previous_day(json.loads(T8412_ANSWER)) == (4610, 4320)


def test_minute_bars_from_the_example() -> None:
    bars = codec.minute_bars(json.loads(T8412_ANSWER), date(2024, 9, 6))
    starts = [datetime.fromtimestamp(b.start_ns / 1e9, SEOUL).strftime("%H%M") for b in bars]
    assert starts == ["1112", "1113"]  # labelled by their end (no bar at the session start)
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume) == (
        4445,
        4470,
        4445,
        4470,
        2317,
    )
    assert codec.minute_bars(json.loads(T8412_ANSWER), date(2024, 9, 9)) == []  # another day
    assert codec.minute_cursor(json.loads(T8412_ANSWER)) == {"cts_date": "20240906", "cts_time": "111200"}


# ---- condition search -------------------------------------------------------------------------


def test_t1866_lists_the_saved_conditions() -> None:
    assert codec.request_body(codec.CONDITIONS_TR, codec.conditions_fields("testID")) == json.loads(
        T1866_REQUEST
    )
    body = answer(T1866_ANSWER).body
    listed = codec.conditions(body)
    assert listed[0] == ConditionInfo("testID0000", "테스트1")
    assert [c.id for c in listed] == ["testID0000", "testID0002", "testID0003", "testID0004", "testID0005"]
    assert listed[2].name == "거래량 급증(1분봉)"
    assert codec.conditions_cursor(body) == ""
    more = {"t1866OutBlock": {"result_count": 1, "cont": "1", "contkey": "testID0005"}}
    assert codec.conditions_cursor(more) == "testID0005"
    assert codec.conditions_fields("testID", "testID0005")["cont"] == "1"


def test_t1859_gives_the_current_matches() -> None:
    assert codec.request_body(codec.MATCHES_TR, {"query_index": "testID0000"}) == json.loads(T1859_REQUEST)
    assert codec.matches(answer(T1859_ANSWER).body) == {"000250"}


def test_t1860_starts_and_stops_a_search() -> None:
    assert codec.request_body(
        codec.REALTIME_CONDITION_TR, codec.realtime_condition_fields(True, "testID0000")
    ) == json.loads(T1860_REQUEST)
    assert codec.alert_number(answer(T1860_ANSWER).body) == "1722490200A"
    stop = codec.realtime_condition_fields(False, "testID0000", "1722490200A")
    assert (stop["sFlag"], stop["sAlertNum"]) == ("D", "1722490200A")
    refused = {"t1860OutBlock": {"sResultFlag": "F", "sAlertNum": "", "Msg": "등록 불가"}}
    with pytest.raises(codec.LsDecodeError, match="등록 불가"):
        codec.alert_number(refused)


def test_afr_subscription_and_push() -> None:
    assert json.loads(codec.subscribe_message("토큰값", "AFR", "실시간키", True)) == json.loads(AFR_SUBSCRIBE)
    stop = json.loads(codec.subscribe_message("토큰값", "AFR", "실시간키", False))
    assert stop["header"]["tr_type"] == "4"
    push = codec.decode(AFR_FRAME, ns(MORNING))
    assert push == codec.ConditionPush("실시간키", "078150", entered=False)
    for flag in ("N", "R"):
        entered = codec.decode(AFR_FRAME.replace('"gsJobFlag": "O"', f'"gsJobFlag": "{flag}"'), ns(MORNING))
        assert isinstance(entered, codec.ConditionPush) and entered.entered


# ---- realtime ---------------------------------------------------------------------------------


def test_subscribe_messages_match_the_examples() -> None:
    assert json.loads(codec.subscribe_message("eyJ0eXAiOiJKV1Qi...", "S3_", "005930", True)) == json.loads(
        S3_SUBSCRIBE
    )
    assert json.loads(codec.subscribe_message("…", "SC1", "", True)) == json.loads(SC1_SUBSCRIBE)
    assert json.loads(codec.subscribe_message("…", "SC1", "", False))["header"]["tr_type"] == "2"
    assert json.loads(codec.subscribe_message("…", "K3_", "247540", False))["header"]["tr_type"] == "4"


def test_the_ack() -> None:
    ack = codec.decode(ACK, 0)
    assert ack == codec.Ack("S3_", "005930", "3", "00000", "정상처리되었습니다") and ack.ok


def test_the_s3_example_is_a_tick() -> None:
    frame = codec.decode(S3_FRAME, ns(MORNING))
    assert isinstance(frame, codec.Trades)
    (tick,) = frame.ticks
    assert (tick.symbol, tick.price, tick.qty, tick.side, tick.volume) == ("005930", 55550, 1, 1, 10887)
    assert tick.ts_ns == ns(MORNING.replace(minute=8, second=51))
    kosdaq = codec.decode(
        S3_FRAME.replace('"S3_"', '"K3_"').replace('"cgubun":"+"', '"cgubun":"-"'), ns(MORNING)
    )
    assert isinstance(kosdaq, codec.Trades) and kosdaq.ticks[0].side == -1


def test_the_sc1_example_is_a_fill() -> None:
    event = codec.decode(SC1_FRAME, ns(MORNING))
    assert isinstance(event, codec.AccountEvent)
    assert (event.kind, event.order_no, event.original, event.symbol, event.side) == (
        "fill",
        "86382",
        "",
        "005930",
        Side.BUY,
    )
    assert (event.order_qty, event.exec_no, event.exec_qty, event.exec_price, event.unfilled) == (
        2,
        "1",
        1,
        60000,
        1,
    )
    assert event.ts_ns == ns(MORNING.replace(minute=56, second=36, microsecond=107_000))


def test_sc3_names_the_cancelled_order_and_sc4_a_refusal() -> None:
    cancel = json.loads(SC1_FRAME)
    cancel["header"]["tr_cd"] = "SC3"
    cancel["body"] |= {
        "ordxctptncode": "13",
        "ordno": "86383",
        "orgordno": "86382",
        "execqty": "0",
        "execprc": "0",
        "canccnfqty": "1",
    }
    event = codec.decode(json.dumps(cancel), ns(MORNING))
    assert isinstance(event, codec.AccountEvent)
    assert (event.kind, event.order_no, event.original, event.confirmed) == ("cancelled", "86383", "86382", 1)
    reject = json.loads(SC1_FRAME)
    reject["header"]["tr_cd"] = "SC4"
    reject["body"] |= {"ordxctptncode": "14", "execqty": "0", "execprc": "0"}
    refused = codec.decode(json.dumps(reject), ns(MORNING))
    assert isinstance(refused, codec.AccountEvent) and refused.kind == "rejected"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"body": {}}',
        '{"header": {"tr_cd": "XX_"}, "body": {"price": "1"}}',
        '{"header": {"tr_cd": "S3_", "tr_key": "005930"}, "body": {"cvolume": "1"}}',
        '{"header": {"tr_cd": "S3_", "tr_key": "005930"}, "body": {"price": "abc", "cvolume": "1"}}',
        AFR_FRAME.replace('"gsJobFlag": "O"', '"gsJobFlag": "X"'),
        SC1_FRAME.replace('"bnstp":"2"', '"bnstp":"9"'),
        SC1_FRAME.replace('"execqty":"1"', '"execqty":"0"'),
        '{"header": {"tr_cd": "SC1"}}',
    ],
)
def test_bad_frames_are_clear_errors(text: str) -> None:
    with pytest.raises(codec.LsDecodeError):
        codec.decode(text, ns(MORNING))
