"""The Kiwoom codec on the example frames of the references (shared/reference/brokers.md 3,
condition-search.md 6) and of Kiwoom's official spec (kiwoom_api_spec.json), copied as given."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from engine.brokers.base import ConditionInfo
from engine.brokers.kiwoom import codec
from engine.clock import SEOUL
from engine.ordertypes import OrderStatus, Side

NOW = datetime(2026, 3, 3, 16, 55, tzinfo=SEOUL)

# brokers.md 3.3: the official 0B example (empty FIDs trimmed by the reference).
TICK_0B = (
    '{"trnm":"REAL","data":[{"type":"0B","name":"주식체결","item":"005930","values":{"20":"165208",'
    '"10":"-20800","11":"-50","12":"-0.24","27":"-20800","28":"-20700","15":"+82","13":"30379732",'
    '"14":"632640","16":"20850","17":"+21150","18":"-20450","25":"5","26":"-1057122",'
    '"29":"-22041267850","30":"-96.64","31":"36.67","32":"44","228":"98.92","311":"17230",'
    '"290":"2","691":"0","567":"000000","568":"000000","9081":"1"}}]}'
)
# brokers.md 3.3: the official 00 example (an order accepted).
ORDER_00 = (
    '{"data":[{"values":{"9201":"1111111111","9203":"0000018","9001":"005930","912":"JJ",'
    '"913":"접수","302":"삼성전자","900":"1","901":"0","902":"1","903":"0","904":"0000000",'
    '"905":"+매수","906":"시장가","907":"2","908":"094022","909":"","910":"","911":"",'
    '"10":"+60700","27":"+60700","28":"-60000","914":"","915":"","938":"0","939":"0",'
    '"919":"0","921":"0701002","922":"00","923":"00000000","2134":"1","2135":"KRX",'
    '"2136":"Y"},"type":"00","name":"주문체결","item":"005930"}],"trnm":"REAL"}'
)
# condition-search.md 6, K1 to K5 and the ka10173 snapshot (2.4).
K1 = (
    '{"trnm":"CNSRLST","return_code":0,"return_msg":"","data":[["0","조건1"],["1","조건2"],'
    '["2","조건3"],["3","조건4"],["4","조건5"]]}'
)
K2 = (
    '{"trnm":"CNSRREQ","seq":"2  ","cont_yn":"N","next_key":"","return_code":0,"data":[{"9001":'
    '"A005930","302":"삼성전자","10":"000075000","25":"5","11":"-00000100","12":"-00000130",'
    '"13":"010386116","16":"000075100","17":"000075600","18":"000074700"}]}'
)
K3 = (
    '{"data":[{"values":{"841":"4","9001":"005930","843":"I","20":"152028","907":"2"},'
    '"type":"02","name":"조건검색","item":"005930"}],"trnm":"REAL"}'
)
K3_NEWER = (
    '{"data":[{"values":{"841":"4","9001":"005930","843":"I","20":"152028","907":"2",'
    '"9081":"통합"},"type":"02","name":"조건검색","item":"005930"}],"trnm":"REAL"}'
)
K4 = (
    '{"trnm": "REAL", "data": [{"values": {"841": "1", "9001": "001210", "843": "D", "20": '
    '"095654"}, "type": "02", "name": "조건검색", "item": "001210"}]}'
)
K5 = '{"trnm":"CNSRCLR","seq":"1","return_code":0,"return_msg":""}'
SNAPSHOT = '{"trnm":"CNSRREQ","seq":"4","return_code":0,"data":[{"jmcode":"A005930"}]}'


def decode(text: str) -> codec.Frame:
    return codec.decode(text, NOW)


# ---- numbers and codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("000000000000003", 3),
        ("-00000000196888", -196888),
        ("+82", 82),
        ("-20800", -20800),
        ("000075000", 75000),
        ("-00000100", -100),
        ("", 0),
        ("0000000000", 0),
        ("20850", 20850),
    ],
)
def test_zero_padded_signed_numbers(text: str, value: int) -> None:
    assert codec.number(text) == value


def test_prices_drop_the_direction_sign() -> None:
    assert [codec.price(t) for t in ("-20800", "+21150", "20850", "000075000")] == [
        20800,
        21150,
        20850,
        75000,
    ]


@pytest.mark.parametrize("text", ["abc", "12a", "²", "--5", "1-2"])
def test_a_non_number_is_a_clear_error(text: str) -> None:
    with pytest.raises(codec.KiwoomDecodeError, match="not a number"):
        codec.number(text)


@pytest.mark.parametrize(
    ("raw", "bare"),
    [
        ("A005930", "005930"),
        ("005930", "005930"),
        ("005930_NX", "005930"),
        ("039490_AL", "039490"),
        ("Q500001", "500001"),
        ("J123456", "123456"),
        ("0004V0", "0004V0"),
        (" A069500 ", "069500"),
        ("AA05930", "A05930"),
    ],
)
def test_codes_lose_one_prefix_and_the_exchange_suffix(raw: str, bare: str) -> None:
    assert codec.symbol(raw) == bare


# ---- websocket frames ---------------------------------------------------------------------------


def test_the_0b_example_is_a_buyer_initiated_trade_at_the_absolute_price() -> None:
    frame = decode(TICK_0B)
    assert isinstance(frame, codec.Real) and not frame.bad
    (tick,) = frame.ticks
    when = datetime(2026, 3, 3, 16, 52, 8, tzinfo=SEOUL)
    assert (tick.symbol, tick.price, tick.qty, tick.side, tick.volume) == ("005930", 20800, 82, 1, 30379732)
    assert tick.ts_ns == int(when.timestamp()) * 1_000_000_000


def test_a_negative_fid_15_is_a_sell_initiated_trade() -> None:
    frame = decode(
        TICK_0B.replace('"15":"+82"', '"15":"-7"').replace('"item":"005930"', '"item":"005930_AL"')
    )
    assert isinstance(frame, codec.Real)
    (tick,) = frame.ticks
    assert (tick.symbol, tick.qty, tick.side) == ("005930", 7, -1)


def test_a_tick_stamped_late_at_night_read_after_midnight_is_yesterdays() -> None:
    just_after = datetime(2026, 3, 4, 0, 0, 5, tzinfo=SEOUL)
    frame = codec.decode(TICK_0B.replace('"20":"165208"', '"20":"235958"'), just_after)
    assert isinstance(frame, codec.Real)
    expected = datetime(2026, 3, 3, 23, 59, 58, tzinfo=SEOUL)
    assert frame.ticks[0].ts_ns == int(expected.timestamp()) * 1_000_000_000


def test_the_00_example_is_an_accepted_market_buy() -> None:
    frame = decode(ORDER_00)
    assert isinstance(frame, codec.Real) and not frame.bad
    (event,) = frame.orders
    assert (event.ord_no, event.state, event.side, event.symbol) == ("0000018", "접수", Side.BUY, "005930")
    assert (event.order_qty, event.order_price, event.remaining, event.original) == (1, 0, 1, "")
    assert not event.amends and event.fill_qty == 0 and event.time == "094022"


def fill_frame(**changes: str) -> str:
    values = json.loads(ORDER_00)["data"][0]["values"]
    values.update(
        {
            "913": "체결",
            "900": "10",
            "901": "60700",
            "902": "7",
            "909": "0000003",
            "910": "60700",
            "911": "3",
            "914": "60700",
            "915": "3",
            "908": "094530",
        }
    )
    values.update(changes)
    return json.dumps(
        {"data": [{"values": values, "type": "00", "name": "주문체결", "item": "005930"}], "trnm": "REAL"},
        ensure_ascii=False,
    )


def test_a_fill_carries_its_execution_number_quantity_and_progress() -> None:
    frame = decode(fill_frame())
    assert isinstance(frame, codec.Real)
    (event,) = frame.orders
    assert (event.execution, event.fill_qty, event.fill_price, event.filled) == ("0000003", 3, 60700, 3)


def test_a_second_fill_reads_the_unit_quantity_and_the_orders_total() -> None:
    # 915 단위체결량 is this fill; 911 체결량 and 900 - 902 say the order's total.
    frame = decode(fill_frame(**{"902": "0", "909": "0000004", "911": "10", "915": "7"}))
    assert isinstance(frame, codec.Real)
    (event,) = frame.orders
    assert (event.fill_qty, event.filled) == (7, 10)


def test_a_fill_without_the_unit_fields_falls_back_to_911() -> None:
    frame = decode(fill_frame(**{"914": "", "915": "", "910": "-60600"}))
    assert isinstance(frame, codec.Real)
    (event,) = frame.orders
    assert (event.fill_qty, event.fill_price, event.filled) == (3, 60600, 3)


def test_a_cancel_orders_own_event_names_the_original() -> None:
    frame = decode(
        fill_frame(
            **{
                "913": "확인",
                "9203": "0000019",
                "904": "0000018",
                "905": "매수취소",
                "909": "",
                "911": "",
                "915": "",
            }
        )
    )
    assert isinstance(frame, codec.Real)
    (event,) = frame.orders
    assert event.amends and event.original == "0000018" and event.ord_no == "0000019"


def test_a_fill_without_a_price_is_a_bad_entry_and_the_rest_of_the_frame_survives() -> None:
    broken = json.loads(fill_frame(**{"914": "", "910": ""}))
    broken["data"].append(json.loads(TICK_0B)["data"][0])
    frame = decode(json.dumps(broken, ensure_ascii=False))
    assert isinstance(frame, codec.Real)
    assert not frame.orders and len(frame.ticks) == 1
    assert len(frame.bad) == 1 and "without quantity or price" in frame.bad[0]


@pytest.mark.parametrize("text", [K3, K3_NEWER])
def test_the_type_02_example_is_an_enter(text: str) -> None:
    frame = decode(text)
    assert isinstance(frame, codec.Real)
    assert frame.conditions == [codec.ConditionEvent("4", "005930", True, "152028")]


def test_the_type_02_leave_capture() -> None:
    frame = decode(K4)
    assert isinstance(frame, codec.Real)
    assert frame.conditions == [codec.ConditionEvent("1", "001210", False, "095654")]


def test_a_frame_of_mixed_types_is_taken_apart_and_unknown_types_are_counted() -> None:
    mixed = {
        "trnm": "REAL",
        "data": [
            json.loads(TICK_0B)["data"][0],
            json.loads(K3)["data"][0],
            {"type": "0D", "name": "주식호가잔량", "item": "005930", "values": {"21": "090000"}},
        ],
    }
    frame = decode(json.dumps(mixed, ensure_ascii=False))
    assert isinstance(frame, codec.Real)
    assert (len(frame.ticks), len(frame.conditions), frame.ignored) == (1, 1, ["0D"])


def test_the_cnsrlst_example_in_both_row_forms_with_padded_seqs() -> None:
    arrays = decode(K1)
    assert isinstance(arrays, codec.Reply) and arrays.ok
    expected = [ConditionInfo(str(i), f"조건{i + 1}") for i in range(5)]
    assert codec.conditions(arrays) == expected
    objects = json.loads(K1)
    objects["data"] = [{"seq": seq.ljust(3), "name": name} for seq, name in objects["data"]]
    reply = decode(json.dumps(objects, ensure_ascii=False))
    assert isinstance(reply, codec.Reply) and codec.conditions(reply) == expected


def test_a_cnsrlst_row_of_another_shape_is_a_clear_error() -> None:
    reply = decode('{"trnm":"CNSRLST","return_code":0,"data":["0"]}')
    assert isinstance(reply, codec.Reply)
    with pytest.raises(codec.KiwoomDecodeError, match=r"neither \[seq, name\]"):
        codec.conditions(reply)


def test_the_snapshot_answer_and_its_empty_forms() -> None:
    reply = decode(SNAPSHOT)
    assert isinstance(reply, codec.Reply) and reply.seq == "4"
    assert codec.snapshot(reply) == {"005930"}
    for data in ("null", "[]"):
        empty = decode(f'{{"trnm":"CNSRREQ","seq":"7","return_code":0,"data":{data}}}')
        assert isinstance(empty, codec.Reply) and codec.snapshot(empty) == set()


def test_the_one_shot_search_example_strips_the_padded_seq_and_the_prefix() -> None:
    reply = decode(K2)
    assert isinstance(reply, codec.Reply) and reply.seq == "2"
    assert codec.snapshot(reply) == {"005930"}
    row = reply.data[0]
    assert (
        codec.price(row["10"]),
        codec.number(row["11"]),
        codec.number(row["12"]) / 100,
        codec.number(row["13"]),
    ) == (75000, -100, -1.30, 10386116)


def test_the_cnsrclr_answer() -> None:
    reply = decode(K5)
    assert isinstance(reply, codec.Reply)
    assert (reply.trnm, reply.seq, reply.ok) == ("CNSRCLR", "1", True)


@pytest.mark.parametrize("text", ['{"trnm":"PING"}', "PING", '{"trnm":"PING","seq":"1"}'])
def test_pings_keep_their_exact_text(text: str) -> None:
    assert decode(text) == codec.Ping(text)


def test_a_refused_login_names_its_token_code_inside_the_message() -> None:
    # condition-search.md 2.8: a third-party fixture of a refused LOGIN.
    reply = decode(
        '{"trnm":"LOGIN","return_code":805004,"return_msg":"토큰 인증에 실패했습니다 '
        '[CODE=8005, MESSAGE=Token이 유효하지 않습니다]"}'
    )
    assert isinstance(reply, codec.Reply) and not reply.ok and reply.token_refused


def test_the_login_ack_and_a_system_notice() -> None:
    ack = decode('{"trnm":"LOGIN","return_code":0,"return_msg":"", "sor_yn":"Y"}')
    assert isinstance(ack, codec.Reply) and ack.ok and not ack.token_refused
    notice = decode('{"trnm":"SYSTEM","code":"R10001","message":"동일한 App key로 접속이 되었습니다."}')
    assert notice == codec.System("R10001", "동일한 App key로 접속이 되었습니다.")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"data": []}', '{"trnm":"REAL","data":"x"}'])
def test_frames_that_do_not_parse_are_clear_errors(text: str) -> None:
    with pytest.raises(codec.KiwoomDecodeError):
        decode(text)


def test_outgoing_messages() -> None:
    assert json.loads(codec.login("tok")) == {"trnm": "LOGIN", "token": "tok"}
    # brokers.md 3.3: the REG/REMOVE examples.
    assert json.loads(codec.register("0B", ["005930"])) == {
        "trnm": "REG",
        "grp_no": "1",
        "refresh": "1",
        "data": [{"item": ["005930"], "type": ["0B"]}],
    }
    assert json.loads(codec.register("00", [""]))["data"] == [{"item": [""], "type": ["00"]}]
    assert json.loads(codec.unregister("0B", ["005930"])) == {
        "trnm": "REMOVE",
        "grp_no": "1",
        "data": [{"item": ["005930"], "type": ["0B"]}],
    }
    # condition-search.md 2.2, 2.4, 2.5.
    assert json.loads(codec.condition_list()) == {"trnm": "CNSRLST"}
    assert json.loads(codec.condition_request("4")) == {
        "trnm": "CNSRREQ",
        "seq": "4",
        "search_type": "1",
        "stex_tp": "K",
    }
    assert json.loads(codec.condition_clear("1")) == {"trnm": "CNSRCLR", "seq": "1"}


# ---- REST ---------------------------------------------------------------------------------------


def test_the_token_example_expires_in_seoul_time() -> None:
    # brokers.md 3.2 (the comma the doc lacks restored, as the reference did).
    body = json.loads(
        '{"expires_dt":"20241107083713","token_type":"bearer",'
        '"token":"WQJCwyqInphKnR3bSRtB9NE1lv...","return_code":0,'
        '"return_msg":"정상적으로 처리되었습니다"}'
    )
    token, expires = codec.token_expiry(body)
    assert token == "WQJCwyqInphKnR3bSRtB9NE1lv..."
    assert expires == datetime(2024, 11, 7, 8, 37, 13, tzinfo=SEOUL).timestamp()


def test_refusal_codes_inside_the_message() -> None:
    # condition-search.md 2.8: rate limits arrive as return_code 5 with [1700:…] inside.
    body = {
        "return_code": 5,
        "return_msg": "허용된 요청 개수를 초과하였습니다[1700:허용된 API 요청 개수를 초과하였습니다.]",
    }
    assert codec.codes_of(body) & codec.RATE_LIMIT_CODES
    assert codec.codes_of({"return_code": "1700", "return_msg": ""}) & codec.RATE_LIMIT_CODES
    assert codec.codes_of({"return_code": 8005, "return_msg": "x"}) & codec.TOKEN_RETRY_CODES
    assert not codec.codes_of({"return_code": 1, "return_msg": "주문가능금액을 초과"}) & (
        codec.RATE_LIMIT_CODES | codec.TOKEN_RETRY_CODES
    )


def test_order_bodies_as_the_spec_examples() -> None:
    # kt10000's request example is a market buy of one share.
    assert codec.order_body("005930", "market", 1, None) == {
        "dmst_stex_tp": "KRX",
        "stk_cd": "005930",
        "ord_qty": "1",
        "ord_uv": "",
        "trde_tp": "3",
        "cond_uv": "",
    }
    assert codec.order_body("005930", "limit", 5, 61000)["ord_uv"] == "61000"
    assert codec.order_body("005930", "limit", 5, 61000)["trde_tp"] == "0"
    assert codec.cancel_body("005930", "0000139") == {
        "dmst_stex_tp": "KRX",
        "orig_ord_no": "0000139",
        "stk_cd": "005930",
        "cncl_qty": "0",
    }


def test_the_kt00018_padded_numbers_and_prefixed_codes() -> None:
    rows = [
        # brokers.md 3.5's figures
        {"stk_cd": "A005930", "rmnd_qty": "000000000000003", "evltv_prft": "-00000000196888"},
        # a row of the spec's kt00018 response example
        {
            "stk_cd": "A005930",
            "stk_nm": "삼성전자",
            "evltv_prft": "-00000000995004",
            "prft_rt": "-59.46",
            "pur_pric": "000000000209178",
            "pred_close_pric": "000000097600",
            "rmnd_qty": "000000000000008",
            "trde_able_qty": "000000000000008",
            "cur_prc": "000000085000",
        },
        {"stk_cd": "A000660", "rmnd_qty": "000000000000000"},
    ]
    assert codec.positions(rows) == {"005930": 11}
    assert codec.number(rows[1]["evltv_prft"]) == -995004
    assert codec.price(rows[1]["cur_prc"]) == 85000


def test_cash_is_the_d2_deposit() -> None:
    # kt00001's response example (the fields read).
    assert codec.cash({"entr": "000000000017534", "d2_entra": "000000000012550"}) == 12550
    assert codec.cash({"entr": "000000000017534"}) == 17534


KT00007_EXAMPLE = {  # the spec's kt00007 response example row
    "ord_no": "0000050",
    "stk_cd": "A069500",
    "trde_tp": "시장가",
    "crd_tp": "보통매매",
    "ord_qty": "0000000001",
    "ord_uv": "0000000000",
    "cnfm_qty": "0000000000",
    "acpt_tp": "접수",
    "rsrv_tp": "",
    "ord_tm": "13:05:43",
    "ori_ord": "0000000",
    "stk_nm": "KODEX 200",
    "io_tp_nm": "현금매수",
    "loan_dt": "",
    "cntr_qty": "0000000001",
    "cntr_uv": "0000004900",
    "ord_remnq": "0000000000",
    "comm_ord_tp": "영웅문4",
    "mdfy_cncl": "",
    "cnfm_tm": "",
    "dmst_stex_tp": "KRX",
    "cond_uv": "0000000000",
}


def test_the_kt00007_example_is_a_filled_market_buy() -> None:
    (row,) = codec.order_rows([KT00007_EXAMPLE], date(2026, 3, 3))
    o = row.order
    assert (o.broker_order_id, o.symbol, o.side, o.qty, o.price, o.status, o.filled_qty) == (
        "0000050",
        "069500",
        Side.BUY,
        1,
        None,
        OrderStatus.FILLED,
        1,
    )
    assert (row.placed, row.avg_price) == ("20260303130543", 4900.0)


def resting(ord_no: str, **changes: str) -> dict[str, str]:
    row = {
        **KT00007_EXAMPLE,
        "ord_no": ord_no,
        "trde_tp": "보통",
        "ord_qty": "0000000010",
        "ord_uv": "0000061000",
        "cntr_qty": "0000000000",
        "cntr_uv": "0000000000",
        "ord_remnq": "0000000010",
        "io_tp_nm": "현금매도",
    }
    row.update(changes)
    return row


def test_kt00007_order_states() -> None:
    rows = [
        resting("0000060"),
        resting("0000061", cntr_qty="0000000003", cntr_uv="0000061000", ord_remnq="0000000007"),
        resting("0000062", acpt_tp="거부", ord_remnq="0000000000"),
        resting("0000063", cnfm_qty="0000000010", ord_remnq="0000000000"),
        resting("0000064"),
        # the cancel order of 0000064: its own row, naming the original
        resting(
            "0000065",
            ori_ord="0000064",
            io_tp_nm="현금매도취소",
            mdfy_cncl="취소",
            acpt_tp="확인",
            cnfm_qty="0000000010",
        ),
    ]
    listed = codec.order_rows(rows, date(2026, 3, 3))
    states = {r.order.broker_order_id: (r.order.status, r.order.filled_qty) for r in listed}
    assert states == {
        "0000060": (OrderStatus.ACCEPTED, 0),
        "0000061": (OrderStatus.PARTIALLY_FILLED, 3),
        "0000062": (OrderStatus.REJECTED, 0),
        "0000063": (OrderStatus.CANCELLED, 0),
        "0000064": (OrderStatus.CANCELLED, 0),
    }
    assert {r.order.side for r in listed} == {Side.SELL}
    assert {r.order.price for r in listed} == {61000}


def test_stock_info_and_yesterdays_range() -> None:
    body = {
        "stk_cd": "005930",
        "stk_nm": "삼성전자",
        "base_pric": "62700",
        "upl_pric": "+81500",
        "lst_pric": "-43900",
        "open_pric": "-62600",
        "cur_prc": "+63000",
    }
    assert codec.stock_info(body, "005930") == codec.StockInfo(
        "005930", "삼성전자", 62700, 81500, 43900, 62600
    )
    rows = [
        {"dt": "20260303", "high_pric": "63500", "low_pric": "62000"},
        {"dt": "20260302", "high_pric": "63100", "low_pric": "61800"},
    ]
    assert codec.previous_day(rows, date(2026, 3, 3)) == (63100, 61800)
    assert codec.previous_day(rows[:1], date(2026, 3, 3)) is None


def test_minute_bars_of_today_only_at_their_seoul_minute() -> None:
    rows = [
        {
            "cur_prc": "-78800",
            "trde_qty": "120",
            "cntr_tm": "20260303090100",
            "open_pric": "-78700",
            "high_pric": "+79000",
            "low_pric": "-78600",
        },
        {
            "cur_prc": "78500",
            "trde_qty": "5",
            "cntr_tm": "20260302153000",
            "open_pric": "78500",
            "high_pric": "78500",
            "low_pric": "78500",
        },
    ]
    (bar,) = codec.minute_bars(rows, date(2026, 3, 3))
    start = datetime(2026, 3, 3, 9, 1, tzinfo=SEOUL)
    assert (bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        int(start.timestamp()) * 1_000_000_000,
        78700,
        79000,
        78600,
        78800,
        120,
    )
