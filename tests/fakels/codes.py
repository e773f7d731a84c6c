"""Paths, pacing and response codes of the fake LS OPEN API, each with where it came from.

Sources: [LS-doc] = the official portal pages scraped in changmai/sector_industry_find@2f8372a
(the source brokers.md section 1 cites); [ref] = /work/shared/reference/*.md. Every code that is
neither is marked UNCONFIRMED: an adapter should branch on "rsp_cd is a success code or not" and
show rsp_msg, not on the exact failure code.
"""

from __future__ import annotations

from typing import Final

Code = tuple[str, str]  # (rsp_cd, rsp_msg)

# ---------------------------------------------------------------- REST paths ([LS-doc] 기본 정보)

TR_PATHS: Final[dict[str, str]] = {
    "CSPAT00601": "/stock/order",
    "CSPAT00701": "/stock/order",
    "CSPAT00801": "/stock/order",
    "t0424": "/stock/accno",
    "t0425": "/stock/accno",
    "CSPAQ12200": "/stock/accno",
    "FOCCQ33600": "/stock/accno",
    "t1102": "/stock/market-data",
    "t8410": "/stock/chart",
    "t8412": "/stock/chart",
    "t1866": "/stock/item-search",
    "t1859": "/stock/item-search",
    "t1860": "/stock/item-search",
}
ORDER_TRS: Final[frozenset[str]] = frozenset({"CSPAT00601", "CSPAT00701", "CSPAT00801"})
CONDITION_TRS: Final[frozenset[str]] = frozenset({"t1866", "t1859", "t1860"})

# ---------------------------------------------------------------- pacing (requests per second)

# The official per-TR "초당 전송 건수" is not in the scraped docs (brokers.md 1.6). The condition TRs'
# 1/s is corroborated by two third parties (condition-search.md 3.6); the others are the
# third-party numbers brokers.md 1.6 lists, all UNCONFIRMED. TRs missing there got the most
# conservative neighbour's number (UNCONFIRMED): CSPAT00701/00801 as CSPAT00601, t0425 as t0424,
# t1102/FOCCQ33600 1/s. Counted per app key and TR over a sliding second of wall time.
DEFAULT_RATES: Final[dict[str, float]] = {
    "t1866": 1.0,
    "t1859": 1.0,
    "t1860": 1.0,
    "CSPAT00601": 10.0,
    "CSPAT00701": 10.0,
    "CSPAT00801": 10.0,
    "t0424": 2.0,
    "t0425": 2.0,
    "CSPAQ12200": 1.0,
    "FOCCQ33600": 1.0,
    "t1102": 1.0,
    "t8410": 1.0,
    "t8412": 1.0,
}

# ---------------------------------------------------------------- success codes

# Seen in [LS-doc] examples: 00000 (queries), 00039/00040 (sell/buy accepted; brokers.md 1.2),
# 00136 (CSPAQ12200 "모의투자 조회가 완료되었습니다."), 00133 (FOCCQ33600 "조회가 계속 됩니다..."),
# 00156 (CSPAT00801 "취소주문이 완료되었습니다.").
SUCCESS_CODES: Final[frozenset[str]] = frozenset(
    {"00000", "00039", "00040", "00131", "00133", "00136", "00156"}
)

OK_QUERY: Final[Code] = ("00000", "조회가 완료되었습니다.")  # t0424/t0425 examples
OK_MARKET: Final[Code] = ("00000", "정상적으로 조회가 완료되었습니다.")  # t1102/t8412 examples
OK_T1866: Final[Code] = ("00000", "조회성공")  # condition-search.md L1
OK_T1859: Final[Code] = ("00000", "")  # condition-search.md L4 (an empty rsp_msg)
OK_T1860: Final[Code] = ("00000", "조회 완료")  # condition-search.md L2
OK_ACCOUNT: Final[Code] = ("00136", "조회가 완료되었습니다.")  # CSPAQ12200 code; real-key wording UNCONFIRMED
OK_ACCOUNT_PAPER: Final[Code] = ("00136", "모의투자 조회가 완료되었습니다.")  # CSPAQ12200 paper example
OK_BUY: Final[Code] = ("00040", "매수 주문이 완료되었습니다.")  # CSPAT00601 example
OK_SELL: Final[Code] = ("00039", "매도 주문이 완료되었습니다.")  # code: brokers.md 1.2; wording UNCONFIRMED
OK_CANCEL: Final[Code] = ("00156", "취소주문이 완료되었습니다.")  # CSPAT00801 example
OK_MODIFY: Final[Code] = ("00131", "정정주문이 완료되었습니다.")  # UNCONFIRMED (no success example)
OK_REVOKE_MESSAGE: Final[str] = "접근토큰 폐기에 성공하였습니다."  # [LS-doc] revoke example

# ---------------------------------------------------------------- failures

# Gateway ("IGW") codes: not in the reference. IGW00201 "호출 거래건수를 초과하였습니다." with HTTP 500
# and IGW00121 for a bad/expired token were seen in third-party client code and tests found with
# the search tool (not an official LS page) — UNCONFIRMED, both codes and HTTP statuses.
E_RATE: Final[Code] = ("IGW00201", "호출 거래건수를 초과하였습니다.")
E_TOKEN: Final[Code] = ("IGW00121", "유효하지 않은 토큰입니다. 접근토큰을 재발급 받으십시오.")
E_APPKEY: Final[Code] = ("IGW00103", "유효하지 않은 AppKey입니다.")  # UNCONFIRMED
E_APPSECRET: Final[Code] = ("IGW00105", "유효하지 않은 AppSecret입니다.")  # UNCONFIRMED
E_GRANT: Final[Code] = ("IGW00002", "grant_type/scope를 확인하세요.")  # UNCONFIRMED
# brokers.md 1.2: numbers sent as strings are rejected "data type을 확인하세요" (third-party wording);
# code UNCONFIRMED.
E_DATATYPE: Final[Code] = ("IGW00215", "data type을 확인하세요.")
E_NO_TR: Final[Code] = ("IGW00004", "존재하지 않는 거래코드입니다.")  # UNCONFIRMED
E_PATH: Final[Code] = ("IGW00005", "거래코드와 URL이 일치하지 않습니다.")  # UNCONFIRMED
E_HEADER: Final[Code] = ("IGW00006", "필수 헤더값이 없습니다.")  # UNCONFIRMED
E_BODY: Final[Code] = ("IGW00007", "입력 데이터를 확인하세요.")  # UNCONFIRMED

# Business refusals (HTTP 200, 5-digit codes). Only 03181 is in an official example (the
# CSPAT00701 error example, "주문가격이 하한가 미달입니다."); every other code is UNCONFIRMED.
E_BELOW_LOWER: Final[Code] = ("03181", "주문가격이 하한가 미달입니다.")
E_ABOVE_UPPER: Final[Code] = ("03180", "주문가격이 상한가 초과입니다.")
E_TICK: Final[Code] = ("03182", "호가단위가 맞지 않습니다.")
E_SYMBOL: Final[Code] = ("01221", "종목번호를 확인하십시오.")
E_QTY: Final[Code] = ("01222", "주문수량을 확인하십시오.")
E_CASH: Final[Code] = ("02705", "주문가능금액이 부족합니다.")
E_SHARES: Final[Code] = ("02714", "주문가능수량이 부족합니다.")
E_NO_ORDER: Final[Code] = ("02602", "원주문번호를 확인하십시오.")
E_NOTHING_LEFT: Final[Code] = ("02603", "정정/취소 가능수량이 없습니다.")
E_UNSUPPORTED: Final[Code] = ("01490", "지원하지 않는 주문유형입니다.")
E_PAPER_A_PREFIX: Final[Code] = ("01223", "모의투자는 종목번호 앞에 A를 붙여 주십시오.")
E_CONTINUATION: Final[Code] = (
    "01226",
    "연속조회는 헤더 tr_cont=Y, tr_cont_key와 OutBlock의 연속키를 함께 보내야 합니다.",
)
E_USER_ID: Final[Code] = ("01224", "로그인ID를 확인하십시오.")
E_QUERY_INDEX: Final[Code] = ("01225", "서버저장인덱스를 확인하십시오.")
# Paper keys and condition search: refused (condition-search.md 3.1, corroborated). A third party
# suspects "01900"/"모의투자" (condition-search.md 3.5): used here, UNCONFIRMED.
E_PAPER_UNSUPPORTED: Final[Code] = ("01900", "모의투자에서는 해당업무가 제공되지 않습니다.")

# ---------------------------------------------------------------- websocket control frames

# The ack shape (header tr_cd/tr_key/tr_type/rsp_cd/rsp_msg, no body) is corroborated by
# [ebest-pkg] parsing; the literal code and message are UNCONFIRMED (brokers.md 1.3).
WS_OK: Final[Code] = ("00000", "정상처리되었습니다")
WS_BAD_TOKEN: Final[Code] = ("IGW00121", "유효하지 않은 토큰입니다.")  # UNCONFIRMED
WS_BAD_MESSAGE: Final[Code] = ("IGW00007", "요청 데이터를 확인하세요.")  # UNCONFIRMED
WS_BAD_TR: Final[Code] = ("IGW00004", "존재하지 않는 거래코드입니다.")  # UNCONFIRMED
WS_BAD_TR_TYPE: Final[Code] = ("IGW00008", "tr_type을 확인하세요.")  # UNCONFIRMED
WS_BAD_KEY: Final[Code] = ("IGW00009", "tr_key를 확인하세요.")  # UNCONFIRMED
WS_TOO_MANY: Final[Code] = ("IGW00010", "실시간 등록 가능 건수를 초과하였습니다.")  # UNCONFIRMED
