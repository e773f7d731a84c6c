"""Sans-I/O codec for the LS증권 OPEN API: request bodies and websocket messages out, answers
and frames in, typed. No I/O, no clock: times come in as arguments.

Written from shared/reference/brokers.md section 1 and condition-search.md section 3 (and the
LS portal pages they cite for the TRs they name but do not tabulate). Where the references are
silent or disagree the choice is said at the spot and marked UNCONFIRMED.

REST: POST <path> with headers tr_cd / tr_cont / tr_cont_key, a body {"<TR>InBlock[1]": {...}}
whose Number fields are JSON numbers; the answer is {"<TR>OutBlock...": ..., "rsp_cd",
"rsp_msg"}. Websocket: JSON {"header": {...}, "body": {...}} both ways, the access token in
the header of every message we send; every value LS sends on it is a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from engine.brokers.base import ConditionInfo
from engine.charts.model import Bar
from engine.clock import SEOUL, seoul_datetime
from engine.krx.codes import InvalidSymbol, normalize_symbol
from engine.krx.costs import Market
from engine.marketdata import Tick
from engine.ordertypes import OrderStatus, Side


class LsDecodeError(ValueError):
    """An LS answer or frame that does not read as documented; the text says what."""


# ---- endpoints, TRs and budgets ---------------------------------------------------------------

TOKEN_PATH = "/oauth2/token"
REVOKE_PATH = "/oauth2/revoke"

ORDER_TR = "CSPAT00601"  # new order, buy or sell
CANCEL_TR = "CSPAT00801"
BALANCE_TR = "t0424"  # positions
ORDERS_TR = "t0425"  # today's orders with filled quantity and average price
CASH_TR = "CSPAQ12200"  # cash (D+2), and whether the key is a paper one
QUOTE_TR = "t1102"  # base price, limits, today's open, market (janginfo)
DAILY_TR = "t8410"  # its head carries yesterday's high and low (jihigh, jilow)
MINUTE_TR = "t8412"  # N-minute bars
CONDITIONS_TR = "t1866"
MATCHES_TR = "t1859"
REALTIME_CONDITION_TR = "t1860"

PATHS: dict[str, str] = {
    ORDER_TR: "/stock/order",
    CANCEL_TR: "/stock/order",
    BALANCE_TR: "/stock/accno",
    ORDERS_TR: "/stock/accno",
    CASH_TR: "/stock/accno",
    QUOTE_TR: "/stock/market-data",
    DAILY_TR: "/stock/chart",
    MINUTE_TR: "/stock/chart",
    CONDITIONS_TR: "/stock/item-search",
    MATCHES_TR: "/stock/item-search",
    REALTIME_CONDITION_TR: "/stock/item-search",
}

# Requests a second, per TR. LS publishes one figure per TR page but the scraped pages lack them
# (brokers.md 1.6): CSPAT00601 10, t0424 2, CSPAQ12200 1, t8410/t8412 1 come from third-party
# code, t1866/t1859/t1860 1 from two third parties (condition-search.md 3.6) - all UNCONFIRMED.
# A TR with no figure gets DEFAULT_RATE; the cancel is taken to share the order's figure.
RATES: dict[str, float] = {
    ORDER_TR: 10.0,
    CANCEL_TR: 10.0,
    BALANCE_TR: 2.0,
    CASH_TR: 1.0,
    DAILY_TR: 1.0,
    MINUTE_TR: 1.0,
    CONDITIONS_TR: 1.0,
    MATCHES_TR: 1.0,
    REALTIME_CONDITION_TR: 1.0,
}
DEFAULT_RATE = 1.0
# Paced a little under each figure: requests leave on time but arrive with jitter.
RATE_MARGIN = 0.9

# Gateway codes seen only in third-party clients (UNCONFIRMED): the rate refusal and the token
# refusal, both with HTTP 500. Any other answer that carries an rsp_cd is LS's final word.
RATE_LIMITED = "IGW00201"
TOKEN_REFUSED = frozenset({"IGW00121"})

TICK_TRS: dict[Market, str] = {Market.KOSPI: "S3_", Market.KOSDAQ: "K3_"}
ACCOUNT_TRS = ("SC0", "SC1", "SC2", "SC3", "SC4")  # accepted, filled, modified, cancelled, rejected
CONDITION_TR = "AFR"


def rate_of(tr: str) -> float:
    return RATES.get(tr, DEFAULT_RATE) * RATE_MARGIN


def is_success(code: str) -> bool:
    """LS answers successes with several codes (00000 queries, 00039/00040 orders, 00136 cash,
    00156 cancels, 00200 "nothing found"): all are 00000-00999, the "normal message" range of
    LS's (ex-eBest) message codes, while refusals seen are 01xxx-03xxx and IGWxxxxx."""
    return len(code) == 5 and code.isascii() and code.isdigit() and code < "01000"


# ---- words for people -------------------------------------------------------------------------

_ADVICE: dict[str, str] = {
    RATE_LIMITED: "LS rate limit (calls per second for this TR) exceeded",
    "IGW00121": "the LS access token is invalid or expired",
}


def one_line(text: str, limit: int = 200) -> str:
    """Broker text for a message: printable, one line, bounded."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Never let a key, a secret or a token that an answer echoes reach a message or a log."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text


def describe(code: str, message: str) -> str:
    said = one_line(message)
    if "모의투자" in said and not is_success(code):
        advice = "LS does not serve this to paper (모의투자) accounts"
    else:
        advice = _ADVICE.get(code, "LS refused the request")
    return f"{advice}: {said} [{code}]" if said else f"{advice} [{code}]"


# ---- the REST envelope ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    code: str
    message: str
    body: dict[str, Any]
    more: bool  # the response header tr_cont says another page follows
    cont_key: str  # the response header tr_cont_key, sent back to ask for it

    @property
    def ok(self) -> bool:
        return is_success(self.code)


def json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def parse_answer(raw: bytes, headers: Mapping[str, str]) -> Answer | None:
    """The LS envelope, or None for anything that is not one (a bare gateway page, an empty
    body): with no rsp_cd there is no telling whether LS acted on the request."""
    data = json_object(raw)
    if data is None or not isinstance(data.get("rsp_cd"), str | int):
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    return Answer(
        str(data["rsp_cd"]).strip(),
        str(data.get("rsp_msg") or ""),
        data,
        str(lower.get("tr_cont", "")).strip().upper() == "Y",
        str(lower.get("tr_cont_key", "")).strip(),
    )


def rest_headers(token: str, tr: str, cont: bool = False, cont_key: str = "") -> dict[str, str]:
    # tr_cont/tr_cont_key are "Required Y" on every TR page: sent on first pages too.
    return {
        "content-type": "application/json; charset=utf-8",
        "authorization": f"Bearer {token}",
        "tr_cd": tr,
        "tr_cont": "Y" if cont else "N",
        "tr_cont_key": cont_key,
        "mac_address": "",
    }


def _block(tr: str) -> str:
    # CSPAT/CSPAQ TRs name their blocks ...InBlock1, the t-TRs ...InBlock (the portal tables).
    return f"{tr}InBlock1" if tr[0].isupper() else f"{tr}InBlock"


def request_body(tr: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {_block(tr): dict(fields)}


def out_block(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    block = body.get(name)
    if isinstance(block, list):  # some answers wrap a single block in a list
        block = block[0] if block else {}
    return block if isinstance(block, dict) else {}


def out_rows(body: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    rows = body.get(name)
    if isinstance(rows, dict):
        return [rows]
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _int(value: Any) -> int:
    """A number LS may send as a number or as text ("35000.00", ".00", "-00.22")."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    text = str(value or "").strip().replace(",", "")
    if not text:
        return 0
    try:
        return int(float(text))
    except ValueError:
        return 0


def _required_int(row: Mapping[str, Any], name: str, what: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or value is None:
        raise LsDecodeError(f"{what}: {name} is missing")
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(float(str(value).strip().replace(",", "")))
    except ValueError:
        raise LsDecodeError(f"{what}: {name} is not a number: {str(value)[:20]!r}") from None


def _code(raw: Any, what: str) -> str:
    try:
        return normalize_symbol(str(raw or ""))
    except InvalidSymbol:
        raise LsDecodeError(f"{what}: not a KRX code: {str(raw)[:12]!r}") from None


# ---- token ------------------------------------------------------------------------------------


def token_form(app_key: str, app_secret: str) -> dict[str, str]:
    """Form-encoded (REST접근토큰_발급: application/x-www-form-urlencoded)."""
    return {"grant_type": "client_credentials", "appkey": app_key, "appsecretkey": app_secret, "scope": "oob"}


def token_answer(body: Mapping[str, Any], now: float) -> tuple[str, float]:
    """(token, expiry as epoch seconds). The field table says `expire_in`, the example
    `expires_in` (brokers.md 1.2): either is read; without one a day is assumed (the example's
    86400)."""
    token = body.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise LsDecodeError("the token answer has no access_token")
    lifetime = _int(body.get("expires_in", body.get("expire_in", 86_400))) or 86_400
    return token.strip(), now + lifetime


def revoke_form(app_key: str, app_secret: str, token: str) -> dict[str, str]:
    return {"appkey": app_key, "appsecretkey": app_secret, "token_type_hint": "access_token", "token": token}


def revoked(body: Mapping[str, Any] | None) -> bool:
    # The example answers {"code": 200, ...} although the table types code as a String.
    return body is not None and str(body.get("code", "")).strip() == "200"


# ---- orders -----------------------------------------------------------------------------------


def isu_no(symbol: str) -> str:
    """ "A"+code: paper requires it and real accepts it (brokers.md 1.4)."""
    return "A" + symbol


def order_fields(
    symbol: str, side: Side, order_type: Literal["limit", "market"], qty: int, price: int | None
) -> dict[str, Any]:
    """CSPAT00601InBlock1. Numbers are JSON numbers; a market order is 03 with price 0."""
    market = order_type == "market"
    return {
        "IsuNo": isu_no(symbol),
        "OrdQty": int(qty),
        "OrdPrc": 0 if market or price is None else int(price),
        "BnsTpCode": "1" if side == Side.SELL else "2",
        "OrdprcPtnCode": "03" if market else "00",
        "MgntrnCode": "000",
        "LoanDt": "",
        "OrdCndiTpCode": "0",
        "MbrNo": "KRX",
    }


def cancel_fields(order_no: str, symbol: str, qty: int) -> dict[str, Any]:
    return {"OrgOrdNo": int(order_no), "IsuNo": isu_no(symbol), "OrdQty": int(qty)}


def order_number(body: Mapping[str, Any], tr: str = ORDER_TR) -> str:
    """OutBlock2.OrdNo (a Number); "" when absent or zero."""
    number = _int(out_block(body, f"{tr}OutBlock2").get("OrdNo"))
    return str(number) if number > 0 else ""


# ---- account ----------------------------------------------------------------------------------

BALANCE_FIELDS = {"prcgb": "1", "chegb": "2", "dangb": "0", "charge": "1"}  # avg price, by trades
ORDERS_FIELDS = {"expcode": "", "chegb": "0", "medosu": "0", "sortgb": "2"}  # all, by number
CASH_FIELDS = {"BalCreTp": "0"}  # the table's one field, with the value it gives


def positions(body: Mapping[str, Any]) -> dict[str, int]:
    held: dict[str, int] = {}
    for row in out_rows(body, "t0424OutBlock1"):
        qty = _int(row.get("janqty"))
        if qty:
            code = _code(row.get("expcode"), "t0424 row")
            held[code] = held.get(code, 0) + qty
    return held


def cash(body: Mapping[str, Any]) -> int:
    """D+2 deposit: what the account will hold once today's trades settle (T+2)."""
    out = out_block(body, "CSPAQ12200OutBlock2")
    if not out:
        raise LsDecodeError("CSPAQ12200 answered without OutBlock2")
    return _int(out.get("D2Dps")) or _int(out.get("Dps"))


def says_paper(message: str) -> bool:
    """LS's paper server says 모의투자 in its answers (the CSPAQ12200 paper example: "모의투자
    조회가 완료되었습니다."; [ebest-pkg] detects paper keys the same way, brokers.md 1.1)."""
    return "모의투자" in message


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A t0425 row: one order of today (or a cancel/modify record of one)."""

    order_no: str
    symbol: str
    side: Side
    qty: int
    price: int | None
    filled: int
    avg_price: float
    remaining: int
    status: OrderStatus
    placed: str  # HHMMSS
    original: str  # the order a cancel/modify record acts on ("" for a new order)
    cancel_record: bool  # the row of a cancel request, not an order of its own


def _side_of(text: str, what: str) -> Side:
    if "매수" in text or text.strip() == "2":
        return Side.BUY
    if "매도" in text or text.strip() == "1":
        return Side.SELL
    raise LsDecodeError(f"{what}: unknown side {text[:10]!r}")


def _row_status(qty: int, filled: int, remaining: int, confirmed: int, status: str) -> OrderStatus:
    # t0425 status words beyond the example's 접수 are UNCONFIRMED: the quantities decide, the
    # words only break ties.
    if "거부" in status:
        return OrderStatus.REJECTED
    if qty > 0 and filled >= qty:
        return OrderStatus.FILLED
    if remaining > 0:
        return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED
    if confirmed > 0 or "취소" in status or "정정" in status or "접수" not in status:
        # Nothing left working and not all of it filled: cancelled, or modified into another
        # number (nothing more fills under this one).
        return OrderStatus.CANCELLED
    return OrderStatus.ACCEPTED


def order_rows(body: Mapping[str, Any]) -> list[OrderRow]:
    rows = []
    for row in out_rows(body, "t0425OutBlock1"):
        what = "t0425 row"
        number = _required_int(row, "ordno", what)
        medosu, status = str(row.get("medosu", "")), str(row.get("status", "")).strip()
        qty, filled = _int(row.get("qty")), _int(row.get("cheqty"))
        remaining, confirmed = _int(row.get("ordrem")), _int(row.get("cfmqty"))
        original = _int(row.get("orgordno"))
        # A cancel request gets its own number and row, pointing at the order it cancels; a
        # modify record is a working order of its own.
        words = medosu + status + str(row.get("ordgb", ""))
        price = _int(row.get("price"))
        rows.append(
            OrderRow(
                str(number),
                _code(row.get("expcode"), what),
                _side_of(medosu, what),
                qty,
                price or None,
                filled,
                float(_int(row.get("cheprice"))),
                remaining,
                _row_status(qty, filled, remaining, confirmed, status),
                str(row.get("ordtime", "")).strip()[:6],
                str(original) if original else "",
                bool(original) and "취소" in words,
            )
        )
    return rows


# ---- instruments and bars ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quote:
    name: str
    market: Market
    base: int  # 기준가: the base of today's limits, normally yesterday's close
    open: int  # 0 before the first trade
    upper: int
    lower: int


def market_of(janginfo: str) -> Market:
    """t1102 janginfo 장구분: "KOSDAQ" in the portal's example; the other values are
    UNCONFIRMED, so Korean names are read too and anything else is taken as KOSPI."""
    text = janginfo.strip().upper()
    if "KOSDAQ" in text or "코스닥" in text:
        return Market.KOSDAQ
    if "KONEX" in text or "코넥스" in text:
        return Market.KONEX
    return Market.KOSPI


def quote_fields(code: str) -> dict[str, Any]:
    return {"shcode": code, "exchgubun": "K"}  # K: KRX (N: NXT, U: both)


def quote(body: Mapping[str, Any], code: str) -> Quote:
    out = out_block(body, "t1102OutBlock")
    base = _int(out.get("recprice")) or _int(out.get("price"))
    if base <= 0:
        raise LsDecodeError(f"t1102 gave no base price for {code}")
    return Quote(
        one_line(str(out.get("hname") or code), 40),
        market_of(str(out.get("janginfo", ""))),
        base,
        _int(out.get("open")),
        _int(out.get("uplmtprice")),
        _int(out.get("dnlmtprice")),
    )


def daily_fields(code: str, today: date) -> dict[str, Any]:
    return {
        "shcode": code,
        "gubun": "2",
        "qrycnt": 1,
        "sdate": "",
        "edate": today.strftime("%Y%m%d"),
        "cts_date": "",
        "comp_yn": "N",
        "sujung": "Y",
    }


def previous_day(body: Mapping[str, Any]) -> tuple[int, int]:
    """(yesterday's high, yesterday's low) from the chart head (jihigh/jilow, 전일고가/전일저가);
    0 when LS leaves them out."""
    out = out_block(body, "t8410OutBlock") or out_block(body, "t8412OutBlock")
    return _int(out.get("jihigh")), _int(out.get("jilow"))


def minute_fields(code: str, today: date, cts_date: str = "", cts_time: str = "") -> dict[str, Any]:
    day = today.strftime("%Y%m%d")
    return {
        "shcode": code,
        "ncnt": 1,
        "qrycnt": 500,
        "nday": "0",
        "sdate": day,
        "stime": "",
        "edate": day,
        "etime": "",
        "cts_date": cts_date,
        "cts_time": cts_time,
        "comp_yn": "N",
    }


def minute_cursor(body: Mapping[str, Any]) -> dict[str, Any]:
    out = out_block(body, "t8412OutBlock")
    return {
        "cts_date": str(out.get("cts_date", "")).strip(),
        "cts_time": str(out.get("cts_time", "")).strip(),
    }


def minute_bars(body: Mapping[str, Any], today: date) -> list[Bar]:
    """t8412 rows of `today` as one-minute bars keyed by their Seoul start.

    Which end of its minute LS labels a bar with is UNCONFIRMED: by its end ("090100" for
    09:00-09:01, as Korean HTS charts show) unless a row carries the session start itself
    (s_time, "090000"), which only a start label can."""
    day = today.strftime("%Y%m%d")
    rows = [r for r in out_rows(body, "t8412OutBlock1") if str(r.get("date", "")).strip() == day]
    session_start = str(out_block(body, "t8412OutBlock").get("s_time", "")).strip()[:4] or "0900"
    labels = [str(r.get("time", "")).strip()[:4] for r in rows]
    end_labelled = session_start not in labels
    bars = []
    for row, label in zip(rows, labels, strict=True):
        if len(label) != 4 or not label.isdigit():
            continue
        start = datetime.strptime(day + label, "%Y%m%d%H%M").replace(tzinfo=SEOUL)
        if end_labelled:
            start -= timedelta(minutes=1)
        close = _int(row.get("close"))
        if close <= 0:
            continue
        bars.append(
            Bar(
                int(start.timestamp()) * 1_000_000_000,
                _int(row.get("open")) or close,
                _int(row.get("high")) or close,
                _int(row.get("low")) or close,
                close,
                _int(row.get("jdiff_vol")),
            )
        )
    return bars


# ---- condition search -------------------------------------------------------------------------


def conditions_fields(user_id: str, cont_key: str = "") -> dict[str, Any]:
    # gb 0: groups and their conditions. cont "" on a first call (the portal's example; teranum
    # sends "0"), "1" plus the key for the next page.
    return {
        "user_id": user_id,
        "gb": "0",
        "group_name": "",
        "cont": "1" if cont_key else "",
        "cont_key": cont_key,
    }


def conditions(body: Mapping[str, Any]) -> list[ConditionInfo]:
    found = []
    for row in out_rows(body, "t1866OutBlock1"):
        index = str(row.get("query_index", "")).strip()
        name = one_line(str(row.get("query_name", "")), 60)
        if index:  # group-only rows (gb 1) carry no index
            found.append(ConditionInfo(index, name or f"condition {index}"))
    return found


def conditions_cursor(body: Mapping[str, Any]) -> str:
    """The next page's key: the example spells it contkey, the table cont_key (both read)."""
    out = out_block(body, "t1866OutBlock")
    if str(out.get("cont", "")).strip() != "1":
        return ""
    return str(out.get("cont_key") or out.get("contkey") or "").strip()


def matches(body: Mapping[str, Any]) -> set[str]:
    """t1859: the codes matching now. shcode is String 7 in the table, 6 in the example."""
    return {
        _code(row.get("shcode"), "t1859 row")
        for row in out_rows(body, "t1859OutBlock1")
        if str(row.get("shcode", "")).strip()
    }


def realtime_condition_fields(start: bool, query_index: str, alert: str = "") -> dict[str, Any]:
    return {
        "sSysUserFlag": "U",
        "sFlag": "E" if start else "D",
        "sAlertNum": "" if start else alert,
        "query_index": query_index,
    }


def alert_number(body: Mapping[str, Any]) -> str:
    """t1860 E: the realtime key for AFR. sResultFlag must be S and the key non-empty (both
    checks as clients of the reference do); otherwise LS's Msg says why."""
    out = out_block(body, "t1860OutBlock")
    alert = str(out.get("sAlertNum", "")).strip()
    if str(out.get("sResultFlag", "")).strip() != "S" or not alert:
        raise LsDecodeError(one_line(str(out.get("Msg") or "no realtime key in the answer")))
    return alert


def stopped(body: Mapping[str, Any]) -> bool:
    """t1860 D: its answer is UNCONFIRMED; read as the E one (sResultFlag S)."""
    return str(out_block(body, "t1860OutBlock").get("sResultFlag", "")).strip() == "S"


# ---- websocket: what we send ------------------------------------------------------------------


def subscribe_message(token: str, tr_cd: str, tr_key: str, register: bool) -> str:
    """tr_type 1/2 register/unregister the account feeds (tr_key ""), 3/4 every other realtime
    TR, AFR included (brokers.md 1.3, condition-search.md 3.5)."""
    pair = ("1", "2") if tr_cd in ACCOUNT_TRS else ("3", "4")
    tr_type = pair[0] if register else pair[1]
    return json.dumps(
        {"header": {"token": token, "tr_type": tr_type}, "body": {"tr_cd": tr_cd, "tr_key": tr_key}},
        ensure_ascii=False,
    )


# ---- websocket: what we receive ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """The answer to a registration: a header with rsp_cd/rsp_msg and no body. The shape is
    corroborated, the literal codes UNCONFIRMED: success is read as for REST."""

    tr_cd: str
    tr_key: str
    tr_type: str
    code: str
    message: str

    @property
    def ok(self) -> bool:
        return is_success(self.code)


@dataclass(frozen=True, slots=True)
class Trades:
    ticks: list[Tick]


AccountKind = Literal["accepted", "fill", "modified", "cancelled", "rejected", "other"]


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """SC0 (accepted) or the SC1 layout SC1-SC4 share (filled, modified, cancelled, rejected)."""

    tr_cd: str
    kind: AccountKind
    order_no: str
    original: str  # orgordno: the order a cancel/modify acts on ("" if none)
    symbol: str
    side: Side
    order_qty: int
    order_price: int
    exec_no: str
    exec_qty: int
    exec_price: int
    unfilled: int  # unercqty, the order's quantity still working
    confirmed: int  # a cancel's confirmed quantity (canccnfqty)
    ts_ns: int
    detail: str  # the code it was read from (ordchegb or ordxctptncode)


@dataclass(frozen=True, slots=True)
class ConditionPush:
    alert: str  # the AFR key (t1860's sAlertNum); "" when the header left it out
    symbol: str
    entered: bool


Frame = Ack | Trades | AccountEvent | ConditionPush


def _stamp(received_ns: int, hhmmss: str, millis: str = "") -> int:
    """An exchange time of day on the receiving day, Seoul; the receive time if unreadable.
    A time far ahead of the receive time belongs to the day before (a frame past midnight)."""
    text = hhmmss.strip()
    if len(text) < 6 or not text[:6].isdigit():
        return received_ns
    received = seoul_datetime(received_ns)
    try:
        at = received.replace(
            hour=int(text[:2]),
            minute=int(text[2:4]),
            second=int(text[4:6]),
            microsecond=int(millis) * 1000 if millis.isdigit() else 0,
        )
    except ValueError:
        return received_ns
    if at - received > timedelta(hours=12):
        at -= timedelta(days=1)
    return int(at.timestamp() * 1_000_000_000)


def _trade(tr_cd: str, key: str, body: Mapping[str, Any], received_ns: int) -> Tick:
    what = f"{tr_cd} frame"
    symbol = _code(body.get("shcode") or key, what)
    price, qty = _required_int(body, "price", what), _required_int(body, "cvolume", what)
    if price <= 0 or qty < 0:
        raise LsDecodeError(f"{what} for {symbol}: price {price}, quantity {qty}")
    side = {"+": 1, "-": -1}.get(str(body.get("cgubun", "")).strip(), 0)
    return Tick(
        symbol, _stamp(received_ns, str(body.get("chetime", ""))), price, qty, side, _int(body.get("volume"))
    )


_SC0_KINDS: dict[str, AccountKind] = {"01": "accepted", "02": "other", "03": "other"}
_SC0_TRCODES: dict[str, AccountKind] = {"SONAT000": "accepted"}
_EXEC_KINDS: dict[str, AccountKind] = {"11": "fill", "12": "modified", "13": "cancelled", "14": "rejected"}
_TR_KINDS: dict[str, AccountKind] = {"SC1": "fill", "SC2": "modified", "SC3": "cancelled", "SC4": "rejected"}


def _account(tr_cd: str, body: Mapping[str, Any], received_ns: int) -> AccountEvent:
    what = f"{tr_cd} frame"
    if tr_cd == "SC0":
        detail = str(body.get("ordchegb", "")).strip()
        kind = _SC0_KINDS.get(detail) or _SC0_TRCODES.get(str(body.get("trcode", "")).strip(), "other")
        time_text = str(body.get("ordtm", ""))
        return AccountEvent(
            tr_cd,
            kind,
            str(_required_int(body, "ordno", what)),
            _number_text(body, "orgordno"),
            _code(body.get("shtcode"), what),
            _side_of(str(body.get("bnstp", "")), what),
            _int(body.get("ordqty")),
            _int(body.get("ordprice")),
            "",
            0,
            0,
            _int(body.get("ordqty")),
            0,
            _stamp(received_ns, time_text[:6], time_text[6:9]),
            detail,
        )
    # SC1-SC4 share one layout (brokers.md 1.3; SC4's is UNCONFIRMED, taken to be the same).
    detail = str(body.get("ordxctptncode", "")).strip()
    kind = _EXEC_KINDS.get(detail) or _TR_KINDS.get(tr_cd, "other")
    time_text = str(body.get("exectime", ""))
    exec_qty = _int(body.get("execqty"))
    if kind == "fill" and (exec_qty <= 0 or _int(body.get("execprc")) <= 0):
        raise LsDecodeError(f"{what}: a fill of {exec_qty} at {body.get('execprc')!r}")
    return AccountEvent(
        tr_cd,
        kind,
        str(_required_int(body, "ordno", what)),
        _number_text(body, "orgordno"),
        _code(body.get("shtnIsuno"), what),
        _side_of(str(body.get("bnstp", "")), what),
        _int(body.get("ordqty")),
        _int(body.get("ordprc")),
        _number_text(body, "execno"),
        exec_qty,
        _int(body.get("execprc")),
        _int(body.get("unercqty")),
        _int(body.get("canccnfqty")),
        _stamp(received_ns, time_text[:6], time_text[6:9]),
        detail,
    )


def _number_text(body: Mapping[str, Any], name: str) -> str:
    number = _int(body.get(name))
    return str(number) if number else ""


def _condition(key: str, body: Mapping[str, Any]) -> ConditionPush:
    flag = str(body.get("gsJobFlag", "")).strip()
    # N 진입, R 재진입 (treated as an entry), O 이탈 (condition-search.md 3.5).
    if flag not in ("N", "R", "O"):
        raise LsDecodeError(f"AFR frame: unknown gsJobFlag {flag[:4]!r}")
    return ConditionPush(key, _code(body.get("gsCode"), "AFR frame"), flag in ("N", "R"))


def decode(text: str, received_ns: int) -> Frame:
    """One websocket text frame: an ack (a header with rsp_cd, no body) or data."""
    try:
        msg = json.loads(text)
    except ValueError:
        raise LsDecodeError(f"not JSON: {text[:60]!r}") from None
    header = msg.get("header") if isinstance(msg, dict) else None
    if not isinstance(header, dict):
        raise LsDecodeError(f"no header: {text[:60]!r}")
    tr_cd = str(header.get("tr_cd", "")).strip()
    key = str(header.get("tr_key", "") or "").strip()
    body = msg.get("body")
    if not isinstance(body, dict):
        if "rsp_cd" in header or "rsp_msg" in header:
            return Ack(
                tr_cd,
                key,
                str(header.get("tr_type", "")),
                str(header.get("rsp_cd", "")),
                str(header.get("rsp_msg", "")),
            )
        raise LsDecodeError(f"{tr_cd or 'a frame'} with neither a body nor a result code")
    if tr_cd in TICK_TRS.values():
        return Trades([_trade(tr_cd, key, body, received_ns)])
    if tr_cd in ACCOUNT_TRS:
        return _account(tr_cd, body, received_ns)
    if tr_cd == CONDITION_TR:
        return _condition(key, body)
    raise LsDecodeError(f"unexpected realtime TR {tr_cd[:10]!r}")
