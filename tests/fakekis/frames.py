"""KIS websocket wire formats: field layouts, data frames, control acks, AES for fill notices.

Everything here is pure (no I/O) so tests and the server share one definition of the wire.
Sources are the tags of /work/shared/reference/brokers.md section 2.3.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TICK_TR = "H0STCNT0"
NOTICE_TR_REAL = "H0STCNI0"
NOTICE_TR_PAPER = "H0STCNI9"
PINGPONG = "PINGPONG"

# [KIS-off] ccnl_krx.py column list, 46 positional fields.
H0STCNT0_FIELDS: tuple[str, ...] = (
    "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS", "PRDY_CTRT",
    "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR", "ASKP1", "BIDP1", "CNTG_VOL",
    "ACML_VOL", "ACML_TR_PBMN", "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU", "NTBY_CNTG_CSNU", "CTTR",
    "SELN_CNTG_SMTN", "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE", "PRDY_VOL_VRSS_ACML_VOL_RATE",
    "OPRC_HOUR", "OPRC_VRSS_PRPR_SIGN", "OPRC_VRSS_PRPR", "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN",
    "HGPR_VRSS_PRPR", "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN", "LWPR_VRSS_PRPR", "BSOP_DATE",
    "NEW_MKOP_CLS_CODE", "TRHT_YN", "ASKP_RSQN1", "BIDP_RSQN1", "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN",
    "VOL_TNRT", "PRDY_SMNS_HOUR_ACML_VOL", "PRDY_SMNS_HOUR_ACML_VOL_RATE", "HOUR_CLS_CODE",
    "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
)  # fmt: skip
assert len(H0STCNT0_FIELDS) == 46

# The real frame captured 2023-03-24 11:26:16 (brokers.md 2.3), byte for byte.
CAPTURED_H0STCNT0_FRAME = (
    "0|H0STCNT0|001|005930^112616^62700^2^400^0.64^62700.41^62700^63000^62300^62700^62600^125^"
    "9694968^607878273600^25807^15918^-9889^93.01^4614191^4291558^1^0.45^63.03^090013^3^0^090646^5^"
    "-300^100741^2^400^20230324^20^N^71292^244009^2795345^2044512^0.16^5367918^180.61^0^^62700"
)
assert len(CAPTURED_H0STCNT0_FRAME.split("|", 3)[3].split("^")) == 46

# Current official layout ([KIS-off] examples_llm ccnl_notice.py as quoted by brokers.md; the Korean
# menu of the legacy sample names the same order). An older revision of the same official file
# labels index 3 ODER_QTY and index 16 ACNT_NO2; the fake puts the original order number at 3 and
# the order quantity at 16 as the reference says, so an adapter that indexes 3/16 by the old labels
# is caught.
NOTICE_FIELDS_OFFICIAL: tuple[str, ...] = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND",
    "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN",
    "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME", "ORD_COND_PRC", "ORD_EXG_GB", "POPUP_YN",
    "FILLER", "CRDT_CLS", "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC",
)  # fmt: skip
assert len(NOTICE_FIELDS_OFFICIAL) == 26

# The older 23-field layout still parsed by [pykis] order_execution.py.
NOTICE_FIELDS_LEGACY23: tuple[str, ...] = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND",
    "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN",
    "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME", "CNTG_ISNM", "CRDT_CLS", "CRDT_LOAN_DATE",
    "CNTG_ISNM40", "ODER_PRC",
)  # fmt: skip
assert len(NOTICE_FIELDS_LEGACY23) == 23

NoticeLayout = Literal["official", "legacy23"]

# Control-message codes. OPSP0000-0003 and OPSP8996 are in the reference; the rest are the fake's
# own picks (UNCONFIRMED) and only need to be "rt_cd 1 with some OPSP code" for an adapter.
SUBSCRIBE_OK = ("OPSP0000", "SUBSCRIBE SUCCESS")
UNSUBSCRIBE_OK = ("OPSP0001", "UNSUBSCRIBE SUCCESS")
ALREADY_SUBSCRIBED = ("OPSP0002", "ALREADY IN SUBSCRIBE")
NOT_SUBSCRIBED = ("OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
APPKEY_IN_USE = ("OPSP8996", "ALREADY IN USE appkey")
MAX_SUBSCRIBE = ("OPSP0008", "MAX SUBSCRIBE OVER")  # UNCONFIRMED code and text
INVALID_APPROVAL = ("OPSP0011", "invalid approval : NOT FOUND")  # UNCONFIRMED
JSON_ERROR = ("OPSP0007", "JSON PARSING ERROR : invalid request")  # 0007 = "internal error" per pykis
INVALID_TR_ID = ("OPSP0009", "invalid tr_id")  # UNCONFIRMED
INVALID_TR_KEY = ("OPSP0010", "invalid tr_key")  # UNCONFIRMED; also used for a wrong HTS ID

_KEY_ALPHABET = string.ascii_lowercase + string.digits


def new_key_iv() -> tuple[str, str]:
    """A 32-char key (AES-256) and a 16-char iv, as ASCII text like the acks carry."""
    key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))
    iv = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    return key, iv


def aes_encrypt(plaintext: str, key: str, iv: str) -> str:
    """base64(AES-256-CBC(PKCS#7(utf-8))) — the inverse of [KIS-off] aes_cbc_base64_dec."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode("utf-8")), modes.CBC(iv.encode("utf-8"))).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode("ascii")


def aes_decrypt(cipher_text: str, key: str, iv: str) -> str:
    dec = Cipher(algorithms.AES(key.encode("utf-8")), modes.CBC(iv.encode("utf-8"))).decryptor()
    data = dec.update(base64.b64decode(cipher_text)) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(data) + unpadder.finalize()).decode("utf-8")


def data_frame(
    tr_id: str, records: Sequence[Sequence[str]], *, encrypted: bool = False, key: str = "", iv: str = ""
) -> str:
    """`<0|1>|TR|NNN|payload`; several records are simply joined with `^` (brokers.md 2.3)."""
    payload = "^".join("^".join(record) for record in records)
    if encrypted:
        payload = aes_encrypt(payload, key, iv)
    return f"{1 if encrypted else 0}|{tr_id}|{len(records):03d}|{payload}"


def split_data_frame(text: str) -> tuple[bool, str, int, str]:
    """(encrypted, tr_id, count, payload) of a data frame."""
    flag, tr_id, count, payload = text.split("|", 3)
    return flag == "1", tr_id, int(count), payload


def split_records(payload: str, width: int, count: int) -> list[list[str]]:
    fields = payload.split("^")
    if len(fields) != width * count:
        raise ValueError(f"{len(fields)} fields for {count} record(s) of {width}")
    return [fields[i * width : (i + 1) * width] for i in range(count)]


def control_ack(
    tr_id: str,
    tr_key: str,
    code: tuple[str, str],
    *,
    ok: bool,
    encrypt: bool = False,
    key_iv: tuple[str, str] | None = None,
) -> str:
    body: dict[str, Any] = {"rt_cd": "0" if ok else "1", "msg_cd": code[0], "msg1": code[1]}
    if key_iv is not None:
        # Present on every successful ack (subscribe and unsubscribe), not only on the fill
        # notice TR: which acks carry `output` on the real server is UNCONFIRMED.
        body["output"] = {"iv": key_iv[1], "key": key_iv[0]}
    header = {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "Y" if encrypt else "N"}
    return json.dumps({"header": header, "body": body}, ensure_ascii=False)


def pingpong(datetime_kst: str) -> str:
    return json.dumps({"header": {"tr_id": PINGPONG, "datetime": datetime_kst}})


@dataclass(frozen=True, slots=True)
class Notice:
    """One H0STCNI0/H0STCNI9 record, named after the official columns."""

    cust_id: str
    acnt_no: str
    oder_no: str
    ooder_no: str
    seln_byov_cls: str  # 01 sell, 02 buy
    rctf_cls: str  # 0 normal, 1 modify, 2 cancel
    oder_kind: str  # ORD_DVSN of the order
    oder_cond: str
    code: str
    cntg_qty: str  # fill qty, or the order qty on acks (CNTG_YN=1)
    cntg_unpr: str  # fill price, or the order price on acks
    hour: str
    rfus_yn: str  # 1 refused
    cntg_yn: str  # 2 fill, 1 order/modify/cancel/reject ack
    acpt_yn: str  # 1 accepted, 2 confirmed, 3 IOC/FOK cancel
    brnc_no: str
    oder_qty: str
    acnt_name: str
    name: str
    oder_prc: str

    def fields(self, layout: NoticeLayout) -> list[str]:
        head = [
            self.cust_id,
            self.acnt_no,
            self.oder_no,
            self.ooder_no,
            self.seln_byov_cls,
            self.rctf_cls,
            self.oder_kind,
            self.oder_cond,
            self.code,
            self.cntg_qty,
            self.cntg_unpr,
            self.hour,
            self.rfus_yn,
            self.cntg_yn,
            self.acpt_yn,
            self.brnc_no,
            self.oder_qty,
            self.acnt_name,
        ]
        if layout == "legacy23":
            return [*head, self.name, "", "", self.name, self.oder_prc]
        # ORD_EXG_GB 1 = KRX; POPUP_YN Y; FILLER/credit fields blank for a cash account.
        return [*head, "", "1", "Y", "", "", "", self.name, self.oder_prc]


def notice_frame(tr_id: str, notice: Notice, layout: NoticeLayout, key: str, iv: str) -> str:
    return data_frame(tr_id, [notice.fields(layout)], encrypted=True, key=key, iv=iv)


def as_named(fields: Sequence[str], names: Sequence[str]) -> Mapping[str, str]:
    return dict(zip(names, fields, strict=True))
