"""Sans-I/O codec for KIS Open API messages: frames and JSON in, typed messages out.

Everything here follows shared/reference/brokers.md section 2. Realtime data frames are not JSON:
`<encrypted 0|1>|<tr_id>|<count>|<payload>`, fields separated by `^`, several records per frame
simply concatenated. Control messages (acks, PINGPONG) are JSON. Fill notices are AES-256-CBC
encrypted with the key and iv from their subscription's ack.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from engine.brokers.base import ConditionInfo
from engine.charts.model import Bar
from engine.krx.calendar import SEOUL
from engine.marketdata import Tick
from engine.ordertypes import Side

TRADES_TR = "H0STCNT0"
NOTICE_TR = {"real": "H0STCNI0", "paper": "H0STCNI9"}
TRADE_FIELDS = 46  # the official H0STCNT0 column list
# H0STCNT0 indices (0-based)
F_CODE, F_TIME, F_PRICE, F_QTY, F_VOLUME, F_SIDE, F_DATE = 0, 1, 2, 12, 13, 21, 33
# CCLD_DVSN: 1 buy-initiated (+), 5 sell-initiated (-), 3 pre-open
SIDES = {"1": 1, "5": -1}


class KisDecodeError(ValueError):
    """A KIS message that does not parse; the text says what and shows the start of it."""


# ---- control messages ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlAck:
    tr_id: str
    tr_key: str
    ok: bool
    msg_cd: str
    msg1: str
    iv: str | None
    key: str | None

    @property
    def unsubscribed(self) -> bool:
        return self.msg_cd == "OPSP0001" or self.msg1.upper().startswith("UNSUB")


@dataclass(frozen=True, slots=True)
class PingPong:
    raw: str


@dataclass(frozen=True, slots=True)
class TradeFrame:
    ticks: list[Tick]


@dataclass(frozen=True, slots=True)
class EncryptedFrame:
    tr_id: str
    count: int
    payload: str


Frame = ControlAck | PingPong | TradeFrame | EncryptedFrame


def _trade_ts(fields: list[str], base: int) -> int:
    """Exchange time of the trade (KST); falls back to `base` (receive time) if unparseable."""
    try:
        stamp = datetime.strptime(fields[base + F_DATE] + fields[base + F_TIME], "%Y%m%d%H%M%S")
    except ValueError:
        return 0
    return int(stamp.replace(tzinfo=SEOUL).timestamp() * 1_000_000_000)


def parse_trades(count: int, payload: str, received_ns: int) -> list[Tick]:
    fields = payload.split("^")
    if count < 1 or len(fields) != count * TRADE_FIELDS:
        raise KisDecodeError(
            f"H0STCNT0 frame says {count} records but has {len(fields)} fields "
            f"(expected {count} x {TRADE_FIELDS}): {payload[:80]!r}"
        )
    ticks = []
    for r in range(count):
        b = r * TRADE_FIELDS
        try:
            price, qty, volume = int(fields[b + F_PRICE]), int(fields[b + F_QTY]), int(fields[b + F_VOLUME])
        except ValueError:
            raise KisDecodeError(
                f"H0STCNT0 record {r} has a non-numeric price/qty/volume: {fields[b : b + 14]}"
            ) from None
        ts = _trade_ts(fields, b) or received_ns
        ticks.append(Tick(fields[b + F_CODE], ts, price, qty, SIDES.get(fields[b + F_SIDE], 0), volume))
    return ticks


def decode(text: str, received_ns: int) -> Frame:
    """One websocket text frame."""
    if text[:1] in ("0", "1") and text[1:2] == "|":
        parts = text.split("|", 3)
        if len(parts) != 4 or not (parts[2].isascii() and parts[2].isdigit()):
            raise KisDecodeError(f"malformed data frame: {text[:80]!r}")
        encrypted, tr_id, count, payload = parts[0] == "1", parts[1], int(parts[2]), parts[3]
        if encrypted:
            return EncryptedFrame(tr_id, count, payload)
        if tr_id == TRADES_TR:
            return TradeFrame(parse_trades(count, payload, received_ns))
        raise KisDecodeError(f"unexpected realtime TR {tr_id}")
    try:
        msg = json.loads(text)
        header = msg["header"]
    except (ValueError, KeyError, TypeError):
        raise KisDecodeError(f"neither a data frame nor JSON with a header: {text[:80]!r}") from None
    if header.get("tr_id") == "PINGPONG":
        return PingPong(text)
    body = msg.get("body") or {}
    output = body.get("output") or {}
    return ControlAck(
        tr_id=str(header.get("tr_id", "")),
        tr_key=str(header.get("tr_key", "")),
        ok=str(body.get("rt_cd", "1")) == "0",
        msg_cd=str(body.get("msg_cd", "")),
        msg1=str(body.get("msg1", "")),
        iv=output.get("iv"),
        key=output.get("key"),
    )


def subscribe_message(approval_key: str, tr_id: str, tr_key: str, register: bool) -> str:
    return json.dumps(
        {
            "header": {
                "approval_key": approval_key,
                "custtype": "P",
                "tr_type": "1" if register else "2",
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        }
    )


# ---- fill notices ----------------------------------------------------------------------------


def decrypt(payload: str, key: str, iv: str) -> str:
    """AES-256-CBC with PKCS#7 padding, base64 in, UTF-8 out (the official sample's scheme)."""
    try:
        decryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
        padded = decryptor.update(base64.b64decode(payload)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise KisDecodeError(f"fill notice did not decrypt ({exc}): wrong key/iv?") from None


@dataclass(frozen=True, slots=True)
class Notice:
    """H0STCNI0/H0STCNI9 after decryption. On an ack (not a fill) qty/price are the order's."""

    odno: str
    original_odno: str
    side: Side
    correction: str  # RCTF_CLS: 0 order, 1 modify, 2 cancel
    symbol: str
    qty: int
    price: int
    time: str
    refused: bool
    is_fill: bool
    accept: str  # ACPT_YN: 1 received, 2 confirmed, 3 cancelled (IOC/FOK)
    order_qty: int
    order_price: int


def parse_notice(plain: str) -> Notice:
    """Tolerant of both layouts: the current 26 fields and the older 23 share their first 17
    fields, and both end with the order price."""
    f = plain.split("^")
    if len(f) < 17:
        raise KisDecodeError(f"fill notice has {len(f)} fields, expected 26 (or the older 23)")

    def num(text: str) -> int:
        text = text.strip()
        return int(float(text)) if text else 0

    try:
        return Notice(
            odno=f[2].strip(),
            original_odno=f[3].strip(),
            side=Side.SELL if f[4].strip() == "01" else Side.BUY,
            correction=f[5].strip() or "0",
            symbol=f[8].strip().removeprefix("A"),
            qty=num(f[9]),
            price=num(f[10]),
            time=f[11],
            refused=f[12].strip() == "1",
            is_fill=f[13].strip() == "2",
            accept=f[14].strip(),
            order_qty=num(f[16]),
            order_price=num(f[-1]),
        )
    except ValueError:
        raise KisDecodeError(f"fill notice has non-numeric quantities: {f[:17]}") from None


# ---- REST ------------------------------------------------------------------------------------


def tr_id(base: str, env: str) -> str:
    """Paper ids replace the leading T/J/C with V (the official client's rule)."""
    return "V" + base[1:] if env == "paper" and base[0] in "TJC" else base


ORDER_TR = {"buy": "TTTC0012U", "sell": "TTTC0011U"}
CANCEL_TR = "TTTC0013U"
BALANCE_TR = "TTTC8434R"
DAILY_ORDERS_TR = "TTTC0081R"


def split_account(account: str) -> tuple[str, str]:
    cano, _, product = account.partition("-")
    return cano, product


def order_body(account: str, symbol: str, order_type: str, qty: int, price: int | None) -> dict[str, str]:
    """Keys UPPERCASE and every value a string, as the portal requires."""
    cano, product = split_account(account)
    market = order_type == "market"
    return {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "PDNO": symbol,
        "ORD_DVSN": "01" if market else "00",
        "ORD_QTY": str(qty),
        "ORD_UNPR": "0" if market or price is None else str(price),
        "EXCG_ID_DVSN_CD": "KRX",
        "SLL_TYPE": "",
        "CNDT_PRIC": "",
    }


def cancel_body(account: str, branch: str, odno: str) -> dict[str, str]:
    cano, product = split_account(account)
    return {
        "CANO": cano,
        "ACNT_PRDT_CD": product,
        "KRX_FWDG_ORD_ORGNO": branch,
        "ORGN_ODNO": odno,
        "ORD_DVSN": "00",
        "RVSE_CNCL_DVSN_CD": "02",
        "ORD_QTY": "0",
        "ORD_UNPR": "0",
        "QTY_ALL_ORD_YN": "Y",
        "EXCG_ID_DVSN_CD": "KRX",
    }


@dataclass(frozen=True, slots=True)
class KisError:
    code: str
    message: str  # for a person: what happened and what to do
    retryable: bool  # the request certainly did not take effect and may be sent again


# What the codes mean for a user. Korean text from the broker is kept after the advice.
ERRORS: dict[str, tuple[str, bool]] = {
    "EGW00201": ("KIS rate limit (requests per second) exceeded; retried after a pause", True),
    "EGW00133": ("KIS allows one access token per minute; the cached token is reused", True),
    "EGW00121": ("the KIS access token is invalid or expired; a new one is requested", True),
    "EGW00123": ("the KIS access token expired; a new one is requested", True),
    "OPSP8996": (
        "another program is connected with this app key: close it (HTS/API), one session per key",
        False,
    ),
}


def error_from(body: dict[str, Any]) -> KisError:
    code = str(body.get("msg_cd") or body.get("error_code") or "unknown")
    korean = str(body.get("msg1") or body.get("error_description") or "").strip()
    advice, retryable = ERRORS.get(code, ("KIS refused the request", False))
    return KisError(code, f"{advice} [{code}] {korean}".strip(), retryable)


# ---- condition search (psearch) and minute bars ---------------------------------------------

PSEARCH_TITLE_TR = "HHKST03900300"  # HHKST ids are real only: no V... paper variant exists
PSEARCH_RESULT_TR = "HHKST03900400"
NO_MATCHES = "MCA05918"  # psearch-result's answer when nothing matches (not a failure)
MINUTE_BARS_TR = "FHKST03010200"


def conditions(body: dict[str, Any]) -> list[ConditionInfo]:
    """psearch-title: the saved conditions; `seq` (from "0") is what psearch-result takes."""
    found = []
    for row in body.get("output2") or []:
        if not isinstance(row, dict):
            continue
        seq = str(row.get("seq", "")).strip()
        name = str(row.get("condition_nm", "")).strip()
        if seq:
            found.append(ConditionInfo(seq, name or f"condition {seq}"))
    return found


def condition_matches(body: dict[str, Any]) -> set[str]:
    """psearch-result: the codes matching now (output2, not output)."""
    return {
        str(row["code"]).strip()
        for row in body.get("output2") or []
        if isinstance(row, dict) and str(row.get("code", "")).strip()
    }


def whole(value: Any) -> int:
    """A KIS number field ("1500", "1500.00", "" or missing) as a whole number; 0 if unreadable."""
    try:
        return int(float(str(value).strip() or 0))
    except ValueError:
        return 0


def minute_bars(body: dict[str, Any], today: str) -> list[Bar]:
    """inquire-time-itemchartprice rows (output2, newest first) of `today` (YYYYMMDD)."""
    bars = []
    for row in body.get("output2") or []:
        if not isinstance(row, dict) or str(row.get("stck_bsop_date", today)) != today:
            continue
        hour = str(row.get("stck_cntg_hour", "")).strip()
        if len(hour) != 6 or not hour.isdigit():
            continue
        start = datetime.strptime(today + hour[:4], "%Y%m%d%H%M").replace(tzinfo=SEOUL)
        close = whole(row.get("stck_prpr"))
        if close <= 0:
            continue
        bars.append(
            Bar(
                int(start.timestamp()) * 1_000_000_000,
                whole(row.get("stck_oprc")) or close,
                whole(row.get("stck_hgpr")) or close,
                whole(row.get("stck_lwpr")) or close,
                close,
                whole(row.get("cntg_vol")),
            )
        )
    return bars
