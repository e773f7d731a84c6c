"""Kiwoom wire formats: number encodings, websocket frames, error codes, reference examples.

Everything the fake puts on the wire is built here so the formats live in one place. Sources:
brokers.md section 3 ([KW-off] spec examples), condition-search.md sections 2 and 6, and the
official machine-readable spec Kiwoom-Securities/Kiwoom-REST-API:kiwoom/_data/kiwoom_api_spec.json
@451f89c0 (response examples of kt00018, ka10075, ka10076, kt00007, ka10001, ka10080, ka10081).
"""

from __future__ import annotations

import json
from typing import Any, Literal

# ---------------------------------------------------------------------------- error codes
# Only 1700 (rate limit) and 8005/8031/8103 (token: "re-issue and retry") have a documented
# meaning in the reference ([KW-off] errors.py, ws_client.py). The others are numbers from the
# official error registry picked by their group (credentials 8001/8002, mode mismatch 8030, input
# 1501-1517); which exact number the server sends for which case is UNCONFIRMED.
RATE_LIMIT = 1700
RATE_LIMIT_MSG = "허용된 API 요청 개수를 초과하였습니다"
# Third-party clients see rate limits as return_code 5 with the real code in the message
# (condition-search.md 2.8, corroborated by >= 3 clients): "...[1700:허용된 API 요청 개수를 초과하였습니다.]".
WRAPPED_RATE_CODE = 5
TOKEN_INVALID = 8005
TOKEN_CODES = (8005, 8031, 8103)
TOKEN_INVALID_MSG = "Token이 유효하지 않습니다"
# The REST wrapped form of an auth failure mirrors the rate-limit pattern (return_code 3 with the
# code inside the message). Its outer number is UNCONFIRMED (3 is a guess).
WRAPPED_AUTH_CODE = 3
# The LOGIN failure as a third-party fixture shows it (condition-search.md 2.8).
WRAPPED_LOGIN_CODE = 805004
APPKEY_INVALID = 8001
SECRET_INVALID = 8002
MODE_MISMATCH = 8030  # a key of the other environment (real key on the paper server, or back)
INPUT_ERROR = 1501
UNKNOWN_API = 1504
BUSINESS_REFUSAL = 1  # order refusals (tick, limit, cash...): the real number is UNCONFIRMED
CONT_KEY_ERROR = 1505
PAPER_UNSUPPORTED = 8104  # "모의투자에서 지원하지 않는 API 입니다." (3p registry, condition-search.md 2.8)
# Too many realtime conditions: 105110 "요청 건수 초과" comes from one third-party scripted mock
# (condition-search.md 2.7), UNCONFIRMED.
CONDITION_LIMIT = 105110
CONDITION_LIMIT_MSG = "요청 건수 초과"

OK_MSG = "정상적으로 처리되었습니다"
QUERY_OK_MSG = " 조회가 완료되었습니다."  # the leading space is in the spec examples of ka10075/76
DONE_MSG = "조회가 완료되었습니다"  # kt00018 / kt00007 examples

# ---------------------------------------------------------------------------- numbers


def signed(value: int, base: int) -> str:
    """A price whose sign shows its direction against `base` (the previous close): "+21150"
    above, "-20450" below, "20850" equal (0B example: 16 "20850", 17 "+21150", 18 "-20450")."""
    if value > base:
        return f"+{value}"
    if value < base:
        return f"-{value}"
    return str(value)


def signed_num(n: int) -> str:
    """A signed difference: "+50", "-50", "0" (0B FID 11, ka10001 pred_pre)."""
    return f"+{n}" if n > 0 else str(n)


def signed_rate(diff: int, base: int) -> str:
    """A signed percentage with two decimals: "+0.24", "-0.24", "0.00" (0B FID 12)."""
    if base == 0 or diff == 0:
        return "0.00"
    rate = diff / base * 100
    return f"+{rate:.2f}" if rate > 0 else f"{rate:.2f}"


def zpad(n: int, width: int) -> str:
    """Left zero-padded signed number of fixed width, the sign taking one place when negative:
    zpad(3, 15) "000000000000003", zpad(-196888, 15) "-00000000196888" (kt00018 example)."""
    if n < 0:
        return "-" + str(-n).zfill(width - 1)
    return str(n).zfill(width)


def sign_code(price: int, base: int, lower: int, upper: int) -> str:
    """전일대비기호: 1 상한, 2 상승, 3 보합, 4 하한, 5 하락 (0B FID 25, ka10001 pre_sig)."""
    if price >= upper:
        return "1"
    if price <= lower:
        return "4"
    return "2" if price > base else "5" if price < base else "3"


def ord_no(n: int) -> str:
    """주문번호: 7 digits ("0000018" in the 00 example; the kt10000 example's "00024" is a doc slip)."""
    return f"{n:07d}"


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


# ---------------------------------------------------------------------------- websocket frames


def login_ack(sor_yn: str | None) -> str:
    # sor_yn is corroborated by two third parties; its meaning is UNCONFIRMED (condition-search.md 2.8).
    body: dict[str, Any] = {"trnm": "LOGIN", "return_code": 0, "return_msg": ""}
    if sor_yn is not None:
        body["sor_yn"] = sor_yn
    return dumps(body)


LoginErrorStyle = Literal["code", "wrapped"]


def login_error(code: int, style: LoginErrorStyle) -> str:
    if style == "wrapped":
        msg = f"토큰 인증에 실패했습니다 [CODE={code}, MESSAGE={TOKEN_INVALID_MSG}]"
        return dumps({"trnm": "LOGIN", "return_code": WRAPPED_LOGIN_CODE, "return_msg": msg})
    return dumps({"trnm": "LOGIN", "return_code": code, "return_msg": TOKEN_INVALID_MSG})


def ack(trnm: str, return_code: int = 0, return_msg: str = "") -> str:
    """REG / REMOVE acknowledgement: {"trnm":"REG","return_code":0,"return_msg":""} (spec example)."""
    return dumps({"trnm": trnm, "return_code": return_code, "return_msg": return_msg})


PingStyle = Literal["dict", "bare", "dict_seq"]


def ping(style: PingStyle, seq: int) -> str:
    """The server's heartbeat: {"trnm":"PING"}, bare "PING", or with extra keys as a third party
    captured ({"trnm":"PING","seq":"1"}); the client must echo it byte for byte."""
    if style == "bare":
        return "PING"
    if style == "dict_seq":
        return dumps({"trnm": "PING", "seq": str(seq)})
    return dumps({"trnm": "PING"})


def system(code: str, message: str) -> str:
    # SYSTEM body keys code/message are third-party (KiwoomRestApi.Net), UNCONFIRMED.
    return dumps({"trnm": "SYSTEM", "code": code, "message": message})


SYSTEM_DUPLICATE = ("R10001", "동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다")
SYSTEM_HEARTBEAT = (
    "R10002",
    "사용자 프로그램으로부터 Heartbeat(연결유지) 메시지가 오지않아서 접속을 종료합니다",
)
SYSTEM_NO_LOGIN = ("R10004", "접속허용요청이 들어오지 않았습니다")


def real(entries: list[dict[str, Any]]) -> str:
    """A REAL push. `data` before `trnm`, as the official 00 and 02 examples put it."""
    return dumps({"data": entries, "trnm": "REAL"})


def real_entry(type_: str, name: str, item: str, values: dict[str, str]) -> dict[str, Any]:
    return {"type": type_, "name": name, "item": item, "values": values}


RowForm = Literal["array", "object"]


def pad_seq(seq: str, pad: bool) -> str:
    """The ka10172 example echoes seq "2  ": left-justified to the field length 3."""
    return seq.ljust(3) if pad else seq


def cnsrlst(rows: list[tuple[str, str]], form: RowForm, pad: bool) -> str:
    data: list[Any]
    if form == "object":
        data = [{"seq": pad_seq(s, pad), "name": n} for s, n in rows]
    else:
        data = [[pad_seq(s, pad), n] for s, n in rows]
    return dumps({"trnm": "CNSRLST", "return_code": 0, "return_msg": "", "data": data})


def cnsrreq_error(seq: str, code: int, msg: str) -> str:
    return dumps({"trnm": "CNSRREQ", "seq": seq, "return_code": code, "return_msg": msg})


def condition_event(
    seq: str, code: str, flag: Literal["I", "D"], hhmmss: str, *, with_907: bool, value_9081: str | None
) -> dict[str, Any]:
    """A type 02 entry (ka10173 실시간 데이터): 841 seq, 9001 code (no prefix), 843 I/D, 20 time."""
    values = {"841": seq, "9001": code, "843": flag, "20": hhmmss}
    if with_907:
        values["907"] = "2"  # meaning for type 02 UNCONFIRMED; the spec examples carry "2"
    if value_9081 is not None:
        values["9081"] = value_9081  # newer spec only: "통합"
    return {"values": values, "type": "02", "name": "조건검색", "item": code}


# ---------------------------------------------------------------------------- REST error bodies

ErrorStyle = Literal["code", "wrapped"]


def rate_error(style: ErrorStyle, api_id: str, rate: float | None) -> dict[str, Any]:
    detail = f"{RATE_LIMIT_MSG}. 유량={rate if rate is not None else '?'}, API ID={api_id}"
    if style == "wrapped":
        return {
            "return_code": WRAPPED_RATE_CODE,
            "return_msg": f"허용된 요청 개수를 초과하였습니다[{RATE_LIMIT}:{detail}]",
        }
    return {"return_code": RATE_LIMIT, "return_msg": detail}


def auth_error(code: int, style: ErrorStyle) -> dict[str, Any]:
    if style == "wrapped":
        msg = f"인증에 실패했습니다[{code}:{TOKEN_INVALID_MSG}]"
        return {"return_code": WRAPPED_AUTH_CODE, "return_msg": msg}
    return {"return_code": code, "return_msg": TOKEN_INVALID_MSG}


# ---------------------------------------------------------------------------- reference frames
# Verbatim examples for shape tests (JSON transliterations given in condition-search.md section 6
# and brokers.md section 3.3). Key sets of the fake's frames are checked against these.

REFERENCE_FRAMES: dict[str, str] = {
    # brokers.md 3.2 (spec au10001, comma fixed as the reference did)
    "au10001": (
        '{"expires_dt":"20241107083713","token_type":"bearer",'
        '"token":"WQJCwyqInphKnR3bSRtB9NE1lv...","return_code":0,'
        '"return_msg":"정상적으로 처리되었습니다"}'
    ),
    # brokers.md 3.3 REG ack
    "REG": '{"trnm":"REG","return_code":0,"return_msg":""}',
    # condition-search.md 2.6 (LOGIN ack with sor_yn, third-party corroborated)
    "LOGIN": '{"trnm":"LOGIN","return_code":0,"return_msg":"", "sor_yn":"Y"}',
    # brokers.md 3.3 official 0B example (empty FIDs trimmed by the reference)
    "0B": (
        '{"trnm":"REAL","data":[{"type":"0B","name":"주식체결","item":"005930","values":{"20":"165208",'
        '"10":"-20800","11":"-50","12":"-0.24","27":"-20800","28":"-20700","15":"+82","13":"30379732",'
        '"14":"632640","16":"20850","17":"+21150","18":"-20450","25":"5","26":"-1057122",'
        '"29":"-22041267850","30":"-96.64","31":"36.67","32":"44","228":"98.92","311":"17230",'
        '"290":"2","691":"0","567":"000000","568":"000000","9081":"1"}}]}'
    ),
    # brokers.md 3.3 official 00 example (an order-accepted event)
    "00": (
        '{"data":[{"values":{"9201":"1111111111","9203":"0000018","9001":"005930","912":"JJ","913":"접수",'
        '"302":"삼성전자","900":"1","901":"0","902":"1","903":"0","904":"0000000","905":"+매수",'
        '"906":"시장가","907":"2","908":"094022","909":"","910":"","911":"","10":"+60700","27":"+60700",'
        '"28":"-60000","914":"","915":"","938":"0","939":"0","919":"0","921":"0701002","922":"00",'
        '"923":"00000000","2134":"1","2135":"KRX","2136":"Y"},"type":"00","name":"주문체결",'
        '"item":"005930"}],"trnm":"REAL"}'
    ),
    # condition-search.md 6 K1..K5
    "K1": (
        '{"trnm":"CNSRLST","return_code":0,"return_msg":"","data":[["0","조건1"],["1","조건2"],'
        '["2","조건3"],["3","조건4"],["4","조건5"]]}'
    ),
    "K2": (
        '{"trnm":"CNSRREQ","seq":"2  ","cont_yn":"N","next_key":"","return_code":0,'
        '"data":[{"9001":"A005930","302":"삼성전자","10":"000075000","25":"5","11":"-00000100","12":"-00000130","13":"010386116",'
        '"16":"000075100","17":"000075600","18":"000074700"}]}'
    ),
    "K3": (
        '{"data":[{"values":{"841":"4","9001":"005930","843":"I","20":"152028","907":"2"},"type":"02",'
        '"name":"조건검색","item":"005930"}],"trnm":"REAL"}'
    ),
    "K4": (
        '{"trnm": "REAL", "data": [{"values": {"841": "1", "9001": "001210", "843": "D", "20": "095654"}, '
        '"type": "02", "name": "조건검색", "item": "001210"}]}'
    ),
    "K5": '{"trnm":"CNSRCLR","seq":"1","return_code":0,"return_msg":""}',
    # condition-search.md 2.4: the snapshot reply of ka10173 (one of its identical rows kept)
    "K3_snapshot": '{"trnm":"CNSRREQ","seq":"4","return_code":0,"data":[{"jmcode":"A005930"}]}',
}
