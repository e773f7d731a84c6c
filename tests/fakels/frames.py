"""LS websocket frames: subscribe acks, S3_/K3_ trade ticks, SC0-SC4 order events, AFR pushes.

Layouts: field names and order from the official tables (tests/fakels/fields.py); every value a
string, as in every official realtime example (brokers.md 1.3). Frames are JSON objects
{"header": {...}, "body": {...}}; acks have a header with rsp_cd/rsp_msg and no body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests import fakekrx as krx
from tests.fakels.account import Execution, Order
from tests.fakels.codes import Code
from tests.fakels.fields import AFR_FIELDS, SC0_FIELDS, SC1_FIELDS, TICK_FIELDS
from tests.fakels.tape import Instrument, Trade

Frame = dict[str, Any]

TICK_TRS: dict[str, str] = {"S3_": "KOSPI", "K3_": "KOSDAQ"}
ACCOUNT_TRS: frozenset[str] = frozenset({"SC0", "SC1", "SC2", "SC3", "SC4"})
CONDITION_TR = "AFR"

# SC0 trcode (brokers.md 1.3): SONAT000 신규, SONAT001 정정, SONAT002 취소; SC1-SC4 use SONAS100.
TRCODE_NEW, TRCODE_MODIFY, TRCODE_CANCEL, TRCODE_EXEC = "SONAT000", "SONAT001", "SONAT002", "SONAS100"
# SC0 ordchegb: 01 주문, 02 정정, 03 취소. SC1-SC4 ordxctptncode: 11 체결, 12 정정확인, 13 취소확인,
# 14 거부 (field tables).
ORDCHEGB = {"new": "01", "modify": "02", "cancel": "03"}
XCT_FILL, XCT_MODIFIED, XCT_CANCELLED, XCT_REJECTED = "11", "12", "13", "14"

# Fields whose example value is text; every other field is numeric-looking and defaults to "0".
_SC0_TEXT = frozenset(
    {
        "accno2",
        "cont",
        "crdtpldgruseamt",
        "dummy",
        "eventid",
        "expcode",
        "filler",
        "filler1",
        "funckey",
        "groupid",
        "gubun",
        "hname",
        "ifinfo",
        "lang",
        "media",
        "orduserid",
        "outgu",
        "passwd",
        "prvip",
        "reqcnt",
        "shtcode",
        "strtgcode",
        "termno",
        "trcode",
        "trsrc",
        "user",
        "userid",
    }
)
_SC1_TEXT = frozenset(
    {
        "Isunm",
        "Isuno",
        "accno2",
        "acntnm",
        "bfstdIsuno",
        "cont",
        "eventid",
        "filler",
        "filler1",
        "funckey",
        "futsLnkacntno",
        "futsLnkbrnno",
        "futsmkttp",
        "grpId",
        "gubun",
        "ifinfo",
        "lang",
        "media",
        "orduserId",
        "outgu",
        "prvip",
        "reqcnt",
        "shtnIsuno",
        "stdIsuno",
        "strtgcode",
        "termno",
        "trcode",
        "trsrc",
        "user",
        "userid",
    }
)


@dataclass(slots=True)
class AccountInfo:
    """What the account events carry besides the order itself."""

    accno: str
    user_id: str
    acnt_name: str
    deposit: int
    orderable: int
    seq: int  # 전문일련번호: the fake numbers the account events it sends


def ack(tr_cd: str, tr_key: str, tr_type: str, code: Code) -> Frame:
    return {
        "header": {
            "tr_cd": tr_cd,
            "tr_key": tr_key,
            "tr_type": tr_type,
            "rsp_cd": code[0],
            "rsp_msg": code[1],
        }
    }


def data(tr_cd: str, tr_key: str | None, body: dict[str, str]) -> Frame:
    # The account examples' header has only tr_cd; ticks and AFR carry tr_key (brokers.md 1.3,
    # condition-search.md 3.5). `tr_key=None` leaves it out.
    header = {"tr_cd": tr_cd} if tr_key is None else {"tr_cd": tr_cd, "tr_key": tr_key}
    return {"header": header, "body": body}


def tick_body(inst: Instrument, trade: Trade, jnil_volume: int) -> dict[str, str]:
    """S3_/K3_ after `trade` has been applied to `inst`.

    `change` is unsigned with the direction in `sign`, and `drate` signed, as in the official
    t1301 sample ("sign":"5","change":40,"diff":"-1.11", openapi.ls-sec.co.kr/howto-sample); that
    S3_ does the same is UNCONFIRMED (the S3_/K3_ examples are both rises)."""
    price = trade.price
    if trade.side == "buy":  # a buy lifts the offer: the offer is the trade price
        offer, bid = price, price - krx.tick_below(price)
    else:
        offer, bid = price + krx.tick_size(price), price
    cpower = inst.ms_volume / inst.md_volume * 100 if inst.md_volume else 0.0
    values = {
        "chetime": trade.at.strftime("%H%M%S"),
        "sign": inst.sign(),
        "change": str(abs(inst.change)),
        "drate": f"{inst.rate():.2f}",
        "price": str(price),
        "opentime": inst.opentime,
        "open": str(inst.open),
        "hightime": inst.hightime,
        "high": str(inst.high),
        "lowtime": inst.lowtime,
        "low": str(inst.low),
        "cgubun": "+" if trade.side == "buy" else "-",
        "cvolume": str(trade.qty),
        "volume": str(inst.volume),
        # 누적거래대금 in millions of won: the S3_ example has value 604 for 10,887 shares at ~55,500.
        "value": str(inst.value // 1_000_000),
        "mdvolume": str(inst.md_volume),
        "mdchecnt": str(inst.md_count),
        "msvolume": str(inst.ms_volume),
        "mschecnt": str(inst.ms_count),
        "cpower": f"{cpower:.2f}",
        "w_avrg": str(round(inst.value / inst.volume)) if inst.volume else str(price),
        "offerho": str(offer),
        "bidho": str(bid),
        "status": "00",  # 장정보: both examples say "00"; the code table is not in the reference
        "jnilvolume": str(jnil_volume),
        "shcode": inst.code,
        "exchname": "KRX",
    }
    return {name: values[name] for name in TICK_FIELDS}


def afr_body(inst: Instrument, flag: str) -> dict[str, str]:
    """AFR push (condition-search.md 3.5): gsCode is the 6-digit code as in the example."""
    values = {
        "gsCode": inst.code,
        "gshname": inst.name,
        "gsPrice": str(inst.price),
        "gsSign": inst.sign(),
        "gsChange": str(abs(inst.change)),
        "gsChgRate": f"{inst.rate():.2f}",
        "gsVolume": str(inst.volume),
        "gsJobFlag": flag,
    }
    return {name: values[name] for name in AFR_FIELDS}


def _market_code(inst: Instrument) -> str:
    # SC0 marketgb / SC1 ordmktcode: "10" 코스피, "20" 코스닥 (SC0 marketgb code table).
    return "10" if inst.market == "KOSPI" else "20"


def _header_fields(info: AccountInfo, hhmmssmmm: str) -> dict[str, str]:
    """The system header both layouts share, values in the style of the official examples."""
    return {
        "lineseq": f"{200000000 + info.seq}",
        "accno": info.accno,
        "accno1": info.accno,
        "user": info.user_id,
        "userid": info.user_id,
        "gubun": "B",
        "compress": "0",
        "encrypt": "0",
        "offset": "212",
        "comid": "063",
        "media": "HT",
        "seq": f"{info.seq:09d}",
        "trid": f"{info.seq:016d}",
        "lang": "K",
        "varlen": "50",
        "proctm": hhmmssmmm.lstrip("0") or "0",
        "bpno": "106",
        "deposit": str(info.deposit),
        "ordablemny": str(info.orderable),
        "cont": "N",
        "contkey": "0",
        "mgempno": "999999106",
    }


def sc0_body(info: AccountInfo, order: Order, inst: Instrument) -> dict[str, str]:
    """SC0 주문접수 for a new, modify or cancel order."""
    trcode = {"new": TRCODE_NEW, "modify": TRCODE_MODIFY, "cancel": TRCODE_CANCEL}[order.kind]
    buy = order.side == "buy"
    # msgcode mirrors the REST rsp_cd in the example ("0040" with 00040); other kinds UNCONFIRMED.
    msgcode = {"new": "0040" if buy else "0039", "modify": "0131", "cancel": "0156"}[order.kind]
    amount = order.price * order.qty
    values = _header_fields(info, order.time) | {
        "trcode": trcode,
        "ordchegb": ORDCHEGB[order.kind],
        "marketgb": _market_code(inst),
        "ordgb": "02" if buy else "01",  # 01 현금매도, 02 현금매수
        "orgordno": str(order.orgordno),
        "passwd": "********",
        "expcode": krx.isin(order.code),
        "shtcode": f"A{order.code}",
        "hname": inst.name,
        "ordqty": str(order.qty),
        "ordprice": str(order.price),
        "hogagb": order.cndi,
        "etfhogagb": order.ptn,
        "singb": "000",
        "loandt": "00000000",
        "mbrno": "63",
        "admbrchno": "106",
        "tongsingb": "40",
        "ordno": str(order.ordno),
        "ordtm": order.time,
        "prntordno": str(order.orgordno or order.ordno),
        "ordamt": str(amount),
        "bnstp": "2" if buy else "1",
        "orduserid": info.user_id,
        "mnyordamt": str(amount if buy else 0),
        "msgcode": msgcode,
        "trsrc": "L",
        "funckey": "C",
        "len": "1053",
        "pubip": "127000000001",
        "futaccno": "00000000000000000000",
    }
    return {name: values.get(name, "" if name in _SC0_TEXT else "0") for name in SC0_FIELDS}


def sc_exec_body(
    info: AccountInfo,
    order: Order,
    inst: Instrument,
    xct: str,
    *,
    time: str,
    execution: Execution | None = None,
    orig: Order | None = None,
) -> dict[str, str]:
    """The SC1 layout, used by SC1 (11 체결), SC2 (12 정정확인), SC3 (13 취소확인) and SC4 (14 거부).

    SC2/SC3 share SC1's 130 keys (brokers.md 1.3); SC4 has no table nor example: the SC1 layout
    with ordxctptncode 14 is a guess (UNCONFIRMED). `order` is the order the event is about (the
    modify/cancel record for 12/13); `orig` its original order."""
    buy = order.side == "buy"
    ex_qty = execution.qty if execution else 0
    ex_prc = execution.price if execution else 0
    values = _header_fields(info, time) | {
        "trcode": TRCODE_EXEC,
        "ordxctptncode": xct,
        "ordno": str(order.ordno),
        "orgordno": str(order.orgordno),
        "execno": str(execution.execno) if execution else "0",
        "execqty": str(ex_qty),
        "execprc": str(ex_prc),
        "exectime": time,
        "rcptexectime": time,
        "ordqty": str(order.qty),
        "ordprc": str(order.price),
        "unercqty": str(order.remaining if order.status == "open" else 0),
        "ordavrexecprc": str(round(order.avg_price)),
        "bnstp": "2" if buy else "1",
        "shtnIsuno": f"A{order.code}",
        "Isuno": krx.isin(order.code),
        "stdIsuno": krx.isin(order.code),
        "Isunm": inst.name,
        "ordprcptncode": order.ptn,
        "ordptncode": "02" if buy else "01",
        "ordmktcode": _market_code(inst),
        "regmktcode": _market_code(inst),
        "ordacntno": info.accno,
        "acntnm": info.acnt_name,
        "ordamt": str(order.price * order.qty),
        "mnyexecamt": str(ex_qty * ex_prc),
        "flctqty": str(ex_qty),
        "ordcndi": order.cndi,
        "mgntrncode": "000",
        "commdacode": "40",
        "adduptp": "40",
        "msgcode": "9999",
        "trtzxLevytp": "1",
        "mnymgnrat": "1.000",
        "agrgbrnno": "106",
        "mgmtbrnno": "106",
        "orduserId": info.user_id,
        "len": "1294",
        "pubip": "127000000001",
    }
    if xct == XCT_MODIFIED:
        values |= {
            "mdfycnfqty": str(order.qty),
            "mdfycnfprc": str(order.price),
            "orgordmdfyqty": str(order.qty),
            "unercqty": str(order.remaining),
        }
    elif xct == XCT_CANCELLED:
        # orgordunercqty: what the original still has working after the cancel (the example's
        # 1-of-5 cancel says 5; before/after is UNCONFIRMED).
        values |= {
            "canccnfqty": str(order.qty),
            "orgordcancqty": str(order.qty),
            "orgordunercqty": str(orig.remaining if orig and orig.status == "open" else 0),
            "unercqty": "0",
        }
    elif xct == XCT_REJECTED:
        values |= {"rjtqty": str(order.rejected), "unercqty": "0"}
    return {name: values.get(name, "" if name in _SC1_TEXT else "0") for name in SC1_FIELDS}
