"""Sans-I/O codec for the Kiwoom REST API and its websocket: JSON in, typed messages out.

Written from shared/reference/brokers.md section 3 and condition-search.md sections 2 and 6;
api-ids and fields beyond them from Kiwoom's official spec (Kiwoom-REST-API
kiwoom/_data/kiwoom_api_spec.json). Everything on the wire is JSON; the pitfalls live here:

- numbers are strings, often zero-padded with the sign inside ("-00000000196888");
- prices carry a sign that is the direction against the previous close ("-20800" is 20,800), so
  a price is always the absolute value;
- codes come bare ("005930"), with the A/J/Q prefix ("A005930") or an exchange suffix
  ("005930_NX"); the engine sees the bare six characters;
- CNSRLST rows are [seq, name] arrays or {seq, name} objects, and seq may be space-padded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.brokers.base import BrokerOrder, ConditionInfo
from engine.charts.model import Bar
from engine.clock import SEOUL
from engine.marketdata import Tick
from engine.ordertypes import OrderStatus, Side

# ---- REST endpoints and api-ids --------------------------------------------------------------

TOKEN_PATH = "/oauth2/token"  # au10001
REVOKE_PATH = "/oauth2/revoke"  # au10002
ORDER_PATH = "/api/dostk/ordr"
ACCOUNT_PATH = "/api/dostk/acnt"
STOCK_INFO_PATH = "/api/dostk/stkinfo"
CHART_PATH = "/api/dostk/chart"

TOKEN_API = "au10001"
REVOKE_API = "au10002"
BUY_API = "kt10000"  # 주식 매수주문
SELL_API = "kt10001"  # 주식 매도주문
CANCEL_API = "kt10003"  # 주식 취소주문
DEPOSIT_API = "kt00001"  # 예수금상세현황요청: cash
BALANCE_API = "kt00018"  # 계좌평가잔고내역요청: positions
ORDER_DETAIL_API = "kt00007"  # 계좌별주문체결내역상세요청: the day's orders, cancels included
STOCK_INFO_API = "ka10001"  # 주식기본정보요청: base price, limits, open
MINUTE_CHART_API = "ka10080"  # 주식분봉차트조회요청
DAILY_CHART_API = "ka10081"  # 주식일봉차트조회요청: yesterday's high and low

LIMIT_TRDE_TP = "0"  # 보통 (지정가)
MARKET_TRDE_TP = "3"  # 시장가
EXCHANGE = "KRX"  # dmst_stex_tp: the paper server serves KRX only, and so does Tradecord

# Codes the official client treats as "re-issue the token and retry once" ([KW-off] client.py,
# ws_client.py), also when they only appear inside return_msg ("[8005:…]", "CODE=8005").
TOKEN_RETRY_CODES = frozenset({8005, 8031, 8103})
# 1700 is the documented rate limit; 1701 (all requests) and 1702 (a group) come from a
# third-party copy of the server's error table. Refused before anything was done: safe to retry.
RATE_LIMIT_CODES = frozenset({1700, 1701, 1702})
# The key pair itself refused (official error groups: credentials 8001/8002/8011/8012, mode
# mismatch 8030/8031 for a key of the other environment).
CREDENTIAL_CODES = frozenset({8001, 8002, 8011, 8012, 8030, 8031})
_EMBEDDED = re.compile(r"\[(\d+)|CODE=(\d+)")


class KiwoomDecodeError(ValueError):
    """A Kiwoom message that does not parse; the text says what and shows the start of it."""


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:80])


# ---- numbers and codes ------------------------------------------------------------------------


def number(value: Any) -> int:
    """A signed whole number as Kiwoom writes it: "000000000000003" 3, "-00000000196888"
    -196888, "+82" 82, "" 0 (an empty field is a zero in every example)."""
    if isinstance(value, bool):
        raise KiwoomDecodeError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:] if text[0] in "+-" else text
    digits = digits.replace(",", "")
    whole, dot, fraction = digits.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (
        dot and fraction and not (fraction.isascii() and fraction.isdigit())
    ):
        raise KiwoomDecodeError(f"not a number: {_show(value)}")
    return sign * int(whole)


def price(value: Any) -> int:
    """A price: the sign is the direction against the previous close, never part of it."""
    return abs(number(value))


def symbol(code: Any) -> str:
    """The bare code: one A (stock), J (ELW) or Q (ETN) prefix dropped when six characters
    follow, and the exchange suffix (_NX, _AL) of realtime items dropped."""
    text = str(code or "").strip()
    base, sep, suffix = text.partition("_")
    if sep and suffix in ("NX", "AL"):
        text = base
    if len(text) == 7 and text[0] in "AJQ":
        text = text[1:]
    return text


def return_code(body: Mapping[str, Any]) -> int:
    """The envelope's code: int 0 in the examples, a string in some field tables."""
    raw = body.get("return_code", 0)
    try:
        return number(raw)
    except KiwoomDecodeError:
        return -1


def codes_of(body: Mapping[str, Any]) -> set[int]:
    """Every code a refusal names: return_code, and those inside return_msg (rate limits come as
    return_code 5 with "[1700:…]" in the message; a LOGIN refusal as "[CODE=8005, …]")."""
    found = {return_code(body)}
    for a, b in _EMBEDDED.findall(str(body.get("return_msg", ""))):
        found.add(int(a or b))
    return found


def seoul_time(stamp: str) -> datetime:
    """YYYYMMDDHHMMSS in Seoul (expires_dt, chart times)."""
    try:
        return datetime.strptime(stamp.strip(), "%Y%m%d%H%M%S").replace(tzinfo=SEOUL)
    except ValueError:
        raise KiwoomDecodeError(f"not a YYYYMMDDHHMMSS time: {_show(stamp)}") from None


# ---- REST bodies ------------------------------------------------------------------------------


def token_expiry(body: Mapping[str, Any]) -> tuple[str, float]:
    """au10001's answer: (token, expiry as epoch seconds), expires_dt being Seoul time."""
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise KiwoomDecodeError("the token answer has no token")
    return token, seoul_time(str(body.get("expires_dt", ""))).timestamp()


def order_body(symbol_code: str, order_type: str, qty: int, limit: int | None) -> dict[str, str]:
    """kt10000 / kt10001: every value a string; a market order has no price ("")."""
    market = order_type == "market"
    return {
        "dmst_stex_tp": EXCHANGE,
        "stk_cd": symbol_code,
        "ord_qty": str(qty),
        "ord_uv": "" if market or limit is None else str(limit),
        "trde_tp": MARKET_TRDE_TP if market else LIMIT_TRDE_TP,
        "cond_uv": "",
    }


def cancel_body(symbol_code: str, ord_no: str) -> dict[str, str]:
    """kt10003: cncl_qty "0" cancels all that remains."""
    return {"dmst_stex_tp": EXCHANGE, "orig_ord_no": ord_no, "stk_cd": symbol_code, "cncl_qty": "0"}


def order_detail_body(day: date) -> dict[str, str]:
    """kt00007 of one Seoul date, in order (qry_tp 1), every stock and side."""
    return {
        "ord_dt": day.strftime("%Y%m%d"),
        "qry_tp": "1",
        "stk_bond_tp": "0",
        "sell_tp": "0",
        "stk_cd": "",
        "fr_ord_no": "",
        "dmst_stex_tp": EXCHANGE,
    }


@dataclass(frozen=True, slots=True)
class ListedRow:
    """One order of the kt00007 listing: where it stands, when it was placed, its average fill
    price (체결단가)."""

    order: BrokerOrder
    placed: str  # YYYYMMDDHHMMSS, Seoul
    avg_price: float


def _side(text: str) -> Side:
    if "매도" in text:
        return Side.SELL
    if "매수" in text:
        return Side.BUY
    raise KiwoomDecodeError(f"neither a buy nor a sell: {_show(text)}")


def _zeros(text: Any) -> str:
    """An order number, "" when it is all zeros (원주문번호 '0000000': none)."""
    value = str(text or "").strip()
    return "" if value.strip("0") == "" else value


def _is_amendment(row: Mapping[str, Any]) -> bool:
    """A cancel or modify order's own row (it names the original in ori_ord)."""
    words = f"{row.get('mdfy_cncl', '')}{row.get('io_tp_nm', '')}"
    return "취소" in words or "정정" in words or bool(_zeros(row.get("ori_ord")))


def order_rows(rows: Iterable[Any], day: date) -> list[ListedRow]:
    """kt00007 rows of `day` -> the orders (cancel records fold into their originals).

    An original is cancelled when a confirmed cancel names it, when it says so itself, or when
    nothing remains of it and not all of it filled (nothing more can fill)."""
    originals: list[Mapping[str, Any]] = []
    cancelled: set[str] = set()
    for row in rows:
        if not isinstance(row, Mapping):
            raise KiwoomDecodeError(f"an order row that is not an object: {_show(row)}")
        if _is_amendment(row):
            confirmed = "확인" in str(row.get("acpt_tp", "")) or number(row.get("cnfm_qty")) > 0
            original = _zeros(row.get("ori_ord"))
            if original and confirmed and "취소" in f"{row.get('mdfy_cncl', '')}{row.get('io_tp_nm', '')}":
                cancelled.add(original.zfill(7))
            continue
        originals.append(row)
    out = []
    stamp = day.strftime("%Y%m%d")
    for row in originals:
        ord_no = str(row.get("ord_no", "")).strip()
        if not ord_no:
            raise KiwoomDecodeError(f"an order row without ord_no: {_show(row)}")
        qty, filled = number(row.get("ord_qty")), number(row.get("cntr_qty"))
        remaining = number(row.get("ord_remnq"))
        if filled >= qty > 0:
            status = OrderStatus.FILLED
        elif "거부" in str(row.get("acpt_tp", "")):
            status = OrderStatus.REJECTED
        elif (
            ord_no.zfill(7) in cancelled
            or "취소" in str(row.get("mdfy_cncl", ""))
            or ("ord_remnq" in row and remaining <= 0)
        ):
            status = OrderStatus.CANCELLED
        elif filled:
            status = OrderStatus.PARTIALLY_FILLED
        else:
            status = OrderStatus.ACCEPTED
        market = "시장가" in str(row.get("trde_tp", ""))
        limit = price(row.get("ord_uv"))
        order = BrokerOrder(
            ord_no,
            "",
            symbol(row.get("stk_cd")),
            _side(str(row.get("io_tp_nm", ""))),
            qty,
            None if market or not limit else limit,
            status,
            filled,
        )
        placed = stamp + "".join(c for c in str(row.get("ord_tm", "")) if c.isdigit())[:6]
        out.append(ListedRow(order, placed.ljust(14, "0"), float(price(row.get("cntr_uv")))))
    return out


def positions(rows: Iterable[Any]) -> dict[str, int]:
    """kt00018 acnt_evlt_remn_indv_tot: shares held by code (rmnd_qty), zero rows left out."""
    held: dict[str, int] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            raise KiwoomDecodeError(f"a balance row that is not an object: {_show(row)}")
        qty = number(row.get("rmnd_qty"))
        if qty:
            code = symbol(row.get("stk_cd"))
            held[code] = held.get(code, 0) + qty
    return held


def cash(body: Mapping[str, Any]) -> int:
    """kt00001: the D+2 deposit (today's trades included), else the deposit."""
    return number(body.get("d2_entra") or body.get("entr"))


@dataclass(frozen=True, slots=True)
class StockInfo:
    """ka10001: today's figures of one stock."""

    code: str
    name: str
    base: int  # 기준가: the base of today's limits (normally yesterday's close)
    upper: int
    lower: int
    open: int  # 0 before the first trade


def stock_info(body: Mapping[str, Any], code: str) -> StockInfo:
    return StockInfo(
        code,
        str(body.get("stk_nm") or code).strip(),
        price(body.get("base_pric")),
        price(body.get("upl_pric")),
        price(body.get("lst_pric")),
        price(body.get("open_pric")),
    )


def previous_day(rows: Iterable[Any], today: date) -> tuple[int, int] | None:
    """ka10081 rows (newest first): (high, low) of the last day before `today`."""
    stamp = today.strftime("%Y%m%d")
    for row in rows:
        if isinstance(row, Mapping) and str(row.get("dt", "")) < stamp:
            return price(row.get("high_pric")), price(row.get("low_pric"))
    return None


def minute_bars(rows: Iterable[Any], today: date) -> list[Bar]:
    """ka10080 rows of `today`: cntr_tm YYYYMMDDHHMMSS names the bar's minute (taken as its
    start: UNCONFIRMED); prices are signed against the previous close."""
    stamp = today.strftime("%Y%m%d")
    bars = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise KiwoomDecodeError(f"a chart row that is not an object: {_show(row)}")
        when = str(row.get("cntr_tm", "")).strip()
        if not when.startswith(stamp):
            continue
        start = seoul_time(when).replace(second=0)
        close = price(row.get("cur_prc"))
        if close <= 0:
            continue
        bars.append(
            Bar(
                int(start.timestamp()) * 1_000_000_000,
                price(row.get("open_pric")) or close,
                price(row.get("high_pric")) or close,
                price(row.get("low_pric")) or close,
                close,
                abs(number(row.get("trde_qty"))),
            )
        )
    return bars


# ---- websocket: messages out ------------------------------------------------------------------

ACCOUNT_TYPE = "00"  # 주문체결: the account's order events, item ""
TICK_TYPE = "0B"  # 주식체결
CONDITION_TYPE = "02"  # 조건검색 enters and leaves
GROUP = "1"  # one registration group for everything (refresh "1" keeps what it has)
CONDITION_EXCHANGE = "K"  # stex_tp K: KRX


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def login(token: str) -> str:
    return _dumps({"trnm": "LOGIN", "token": token})


def register(types: str, items: list[str]) -> str:
    return _dumps(
        {"trnm": "REG", "grp_no": GROUP, "refresh": "1", "data": [{"item": items, "type": [types]}]}
    )


def unregister(types: str, items: list[str]) -> str:
    return _dumps({"trnm": "REMOVE", "grp_no": GROUP, "data": [{"item": items, "type": [types]}]})


def condition_list() -> str:
    return _dumps({"trnm": "CNSRLST"})


def condition_request(seq: str) -> str:
    """ka10173: the current matches as a snapshot, then REAL type 02 enters and leaves."""
    return _dumps({"trnm": "CNSRREQ", "seq": seq, "search_type": "1", "stex_tp": CONDITION_EXCHANGE})


def condition_clear(seq: str) -> str:
    return _dumps({"trnm": "CNSRCLR", "seq": seq})


# ---- websocket: messages in -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ping:
    raw: str  # echoed byte for byte (it may carry extra keys)


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a request on the socket, matched by trnm (and seq for conditions)."""

    trnm: str
    code: int
    message: str
    seq: str
    data: Any
    codes: frozenset[int]

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def token_refused(self) -> bool:
        return bool(self.codes & TOKEN_RETRY_CODES)


@dataclass(frozen=True, slots=True)
class System:
    """A server notice (SYSTEM), often just before it closes the connection."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One 00 주문체결 push. On 체결 the fill fields hold this fill; otherwise they are zero."""

    ord_no: str  # 9203
    original: str  # 904, "" when none: set on a cancel (or modify) order's own events
    symbol: str
    state: str  # 913: 접수, 체결, 확인, 취소, 거부
    kind: str  # 905: +매수, -매도, 매수취소, …
    side: Side
    order_qty: int  # 900
    order_price: int  # 901
    remaining: int  # 902
    execution: str  # 909 체결번호
    fill_qty: int
    fill_price: int
    filled: int  # the order's filled quantity after this fill
    time: str  # 908 HHMMSS
    reason: str  # 919

    @property
    def amends(self) -> bool:
        """A cancel or modify order's own event (it has a number of its own)."""
        return bool(self.original) or "취소" in self.kind or "정정" in self.kind


@dataclass(frozen=True, slots=True)
class ConditionEvent:
    condition_id: str  # 841, the condition's seq
    symbol: str
    entered: bool  # 843 I (삽입) or D (삭제)
    time: str


@dataclass(frozen=True, slots=True)
class Real:
    """A REAL push; one frame may carry several entries, of several types."""

    ticks: list[Tick] = field(default_factory=list)
    orders: list[OrderEvent] = field(default_factory=list)
    conditions: list[ConditionEvent] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # entries that did not decode, said why
    ignored: list[str] = field(default_factory=list)  # types this adapter does not use


Frame = Ping | Reply | System | Real


def decode(text: str, now: datetime) -> Frame:
    """One websocket text frame; `now` (Seoul) dates tick times, which carry only HHMMSS."""
    if text.strip().upper() == "PING":
        return Ping(text)
    try:
        msg = json.loads(text)
    except ValueError:
        raise KiwoomDecodeError(f"not JSON: {_show(text)}") from None
    if not isinstance(msg, dict):
        raise KiwoomDecodeError(f"not a JSON object: {_show(text)}")
    trnm = str(msg.get("trnm", "")).strip().upper()
    if trnm == "PING":
        return Ping(text)
    if trnm == "REAL":
        return _real(msg, now)
    if trnm == "SYSTEM":
        return System(
            str(msg.get("code", msg.get("return_code", ""))),
            str(msg.get("message", msg.get("return_msg", ""))),
        )
    if not trnm:
        raise KiwoomDecodeError(f"a frame without trnm: {_show(text)}")
    return Reply(
        trnm,
        return_code(msg),
        str(msg.get("return_msg", "")),
        str(msg.get("seq", "")).strip(),
        msg.get("data"),
        frozenset(codes_of(msg)),
    )


def _real(msg: Mapping[str, Any], now: datetime) -> Real:
    data = msg.get("data")
    if not isinstance(data, list):
        raise KiwoomDecodeError(f"a REAL frame without a data list: {_show(json.dumps(msg))}")
    out = Real()
    for entry in data:
        try:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("values"), Mapping):
                raise KiwoomDecodeError(f"an entry without values: {_show(entry)}")
            kind = str(entry.get("type", "")).strip()
            values: Mapping[str, Any] = entry["values"]
            item = str(entry.get("item", ""))
            if kind == TICK_TYPE:
                out.ticks.append(tick(item, values, now))
            elif kind == ACCOUNT_TYPE:
                out.orders.append(order_event(item, values))
            elif kind == CONDITION_TYPE:
                out.conditions.append(condition_event(item, values))
            else:
                out.ignored.append(kind or "?")
        except KiwoomDecodeError as exc:
            out.bad.append(str(exc))
    return out


def _time_on(hhmmss: str, now: datetime) -> int:
    """A Seoul HHMMSS of today as epoch nanoseconds (of yesterday when it is well ahead of now:
    a frame from just before midnight read just after)."""
    if not hhmmss:
        return int(now.timestamp() * 1_000_000_000)  # no time given: when it arrived
    if len(hhmmss) != 6 or not (hhmmss.isascii() and hhmmss.isdigit()):
        raise KiwoomDecodeError(f"not an HHMMSS time: {_show(hhmmss)}")
    local = now.astimezone(SEOUL)
    try:
        when = local.replace(
            hour=int(hhmmss[:2]), minute=int(hhmmss[2:4]), second=int(hhmmss[4:]), microsecond=0
        )
    except ValueError:
        raise KiwoomDecodeError(f"not an HHMMSS time: {_show(hhmmss)}") from None
    if when - local > timedelta(hours=12):
        when -= timedelta(days=1)
    return int(when.timestamp()) * 1_000_000_000


def tick(item: str, values: Mapping[str, Any], now: datetime) -> Tick:
    """0B 주식체결: 20 time, 10 price (signed: abs), 15 volume whose sign is the aggressor
    ("+는 매수체결, -는 매도체결"), 13 the day's volume."""
    code = symbol(item)
    last = price(values.get("10"))
    signed_qty = str(values.get("15", "")).strip()
    qty = abs(number(signed_qty))
    if not code or last <= 0 or qty <= 0:
        raise KiwoomDecodeError(f"a 0B entry without code, price or volume: {_show(dict(values))}")
    side = 1 if signed_qty.startswith("+") else -1 if signed_qty.startswith("-") else 0
    return Tick(
        code, _time_on(str(values.get("20", "")).strip(), now), last, qty, side, abs(number(values.get("13")))
    )


def order_event(item: str, values: Mapping[str, Any]) -> OrderEvent:
    """00 주문체결. On a fill: 909 the execution number, 914/910 the price, 915 this fill's
    quantity (단위체결량) and 911 체결량. Which of 911/915 is cumulative is not documented: 911
    above 915 is taken as the order's total; otherwise the total is 900 - 902 (ordered minus
    미체결), which holds either way while nothing of the order was cancelled."""
    ord_no = str(values.get("9203", "")).strip()
    state = str(values.get("913", "")).strip()
    if not ord_no or not state:
        raise KiwoomDecodeError(f"a 00 entry without 9203/913: {_show(dict(values))}")
    kind = str(values.get("905", "")).strip()
    side_code = str(values.get("907", "")).strip()
    side = Side.SELL if side_code == "1" else Side.BUY if side_code == "2" else _side(kind)
    order_qty, remaining = number(values.get("900")), number(values.get("902"))
    fill_qty = fill_price = filled = 0
    execution = ""
    if state == "체결":
        unit = str(values.get("915", "")).strip()
        total = abs(number(values.get("911")))
        fill_qty = abs(number(unit)) if unit else total
        fill_price = price(values.get("914") or values.get("910"))
        execution = str(values.get("909", "")).strip()
        if fill_qty <= 0 or fill_price <= 0:
            raise KiwoomDecodeError(f"a fill without quantity or price: {_show(dict(values))}")
        if unit and total > fill_qty:
            filled = total  # 911 beside a smaller 915: the order's running total
        elif 0 <= remaining <= order_qty:
            filled = max(order_qty - remaining, fill_qty)
        else:
            filled = max(total, fill_qty)
    return OrderEvent(
        ord_no,
        _zeros(values.get("904")),
        symbol(values.get("9001") or item),
        state,
        kind,
        side,
        order_qty,
        price(values.get("901")),
        remaining,
        execution,
        fill_qty,
        fill_price,
        filled,
        str(values.get("908", "")).strip(),
        str(values.get("919", "")).strip(),
    )


def condition_event(item: str, values: Mapping[str, Any]) -> ConditionEvent:
    """02 조건검색: 841 the condition's seq, 9001 the code, 843 I (enter) or D (leave)."""
    flag = str(values.get("843", "")).strip().upper()
    seq = str(values.get("841", "")).strip()
    code = symbol(values.get("9001") or item)
    if flag not in ("I", "D") or not seq or not code:
        raise KiwoomDecodeError(f"a 02 entry without 841/9001/843 I|D: {_show(dict(values))}")
    return ConditionEvent(seq, code, flag == "I", str(values.get("20", "")).strip())


def conditions(reply: Reply) -> list[ConditionInfo]:
    """CNSRLST rows: [seq, name] arrays (the spec's example) or {seq, name} objects (its field
    table); seq stripped ("2  ")."""
    found = []
    for row in reply.data or []:
        if isinstance(row, Mapping):
            seq, name = row.get("seq", ""), row.get("name", "")
        elif isinstance(row, (list, tuple)) and len(row) >= 2:
            seq, name = row[0], row[1]
        else:
            raise KiwoomDecodeError(f"a CNSRLST row that is neither [seq, name] nor an object: {_show(row)}")
        seq_text = str(seq).strip()
        if seq_text:
            found.append(ConditionInfo(seq_text, str(name).strip() or f"condition {seq_text}"))
    return found


def snapshot(reply: Reply) -> set[str]:
    """The CNSRREQ answer (search_type 1): {"jmcode": "A005930"} rows; null or empty is none."""
    found = set()
    for row in reply.data or []:
        if not isinstance(row, Mapping):
            raise KiwoomDecodeError(f"a CNSRREQ row that is not an object: {_show(row)}")
        code = symbol(row.get("jmcode") or row.get("9001"))
        if code:
            found.add(code)
    return found
