"""KIS codec on recorded frames (shared/reference/brokers.md), no sockets."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from engine.brokers.kis import codec

CAPTURED = (
    "0|H0STCNT0|001|005930^112616^62700^2^400^0.64^62700.41^62700^63000^62300^62700^62600"
    "^125^9694968^607878273600^25807^15918^-9889^93.01^4614191^4291558^1^0.45^63.03^090013"
    "^3^0^090646^5^-300^100741^2^400^20230324^20^N^71292^244009^2795345^2044512^0.16"
    "^5367918^180.61^0^^62700"
)
KEY, IV = "0123456789abcdef0123456789abcdef", "0123456789abcdef"


def encrypt(plain: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(KEY.encode()), modes.CBC(IV.encode())).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def test_the_captured_frame() -> None:
    frame = codec.decode(CAPTURED, received_ns=1)
    assert isinstance(frame, codec.TradeFrame)
    (tick,) = frame.ticks
    assert (tick.symbol, tick.price, tick.qty, tick.volume, tick.side) == ("005930", 62700, 125, 9694968, 1)
    assert tick.ts_ns == 1679624776 * 10**9  # 2023-03-24 11:26:16 KST


def test_multi_record_frames() -> None:
    record = CAPTURED.split("|", 3)[3]
    second = record.replace("005930^112616^62700", "000660^112617^88000").replace("^1^0.45", "^5^0.45")
    frame = codec.decode(f"0|H0STCNT0|002|{record}^{second}", received_ns=1)
    assert isinstance(frame, codec.TradeFrame)
    assert [(t.symbol, t.price, t.side) for t in frame.ticks] == [("005930", 62700, 1), ("000660", 88000, -1)]


@pytest.mark.parametrize(
    "bad", ["0|H0STCNT0|002|" + CAPTURED.split("|", 3)[3], "0|H0STCNT0|x|1", "garbage", '{"nohead": 1}']
)
def test_bad_frames_are_clear_errors(bad: str) -> None:
    with pytest.raises(codec.KisDecodeError):
        codec.decode(bad, received_ns=1)


def test_acks_and_pingpong() -> None:
    ack = codec.decode(
        '{"header":{"tr_id":"H0STCNT0","tr_key":"005930","encrypt":"N"},"body":'
        '{"rt_cd":"0","msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS","output":'
        '{"iv":"0123456789abcdef","key":"0123456789abcdef0123456789abcdef"}}}',
        1,
    )
    assert isinstance(ack, codec.ControlAck) and ack.ok and ack.key == KEY and ack.iv == IV
    ping = codec.decode('{"header":{"tr_id":"PINGPONG","datetime":"20261121103000"}}', 1)
    assert isinstance(ping, codec.PingPong)


def test_fill_notices_current_and_older_layout() -> None:
    fields26 = [
        "testuser",
        "1234567801",
        "0000117057",
        "",
        "02",
        "0",
        "00",
        "0",
        "005930",
        "10",
        "62700",
        "112616",
        "0",
        "2",
        "2",
        "91252",
        "10",
        "홍길동",
        "",
        "KRX",
        "N",
        "",
        "10",
        "",
        "삼성전자",
        "62700",
    ]
    frame = codec.decode("1|H0STCNI9|001|" + encrypt("^".join(fields26)), 1)
    assert isinstance(frame, codec.EncryptedFrame)
    notice = codec.parse_notice(codec.decrypt(frame.payload, KEY, IV))
    assert (notice.odno, notice.side, notice.symbol, notice.qty, notice.price, notice.is_fill) == (
        "0000117057",
        "buy",
        "005930",
        10,
        62700,
        True,
    )
    legacy = [*fields26[:17], "홍길동", "삼성전자", "10", "", "삼성전자", "62700"]
    old = codec.parse_notice("^".join(legacy))
    assert (old.odno, old.is_fill, old.order_qty, old.order_price) == ("0000117057", True, 10, 62700)
    with pytest.raises(codec.KisDecodeError, match="wrong key"):
        codec.decrypt(encrypt("x"), "f" * 32, IV)


def test_rest_shapes() -> None:
    body = codec.order_body("12345678-01", "005930", "market", 3, None)
    assert body == {
        "CANO": "12345678",
        "ACNT_PRDT_CD": "01",
        "PDNO": "005930",
        "ORD_DVSN": "01",
        "ORD_QTY": "3",
        "ORD_UNPR": "0",
        "EXCG_ID_DVSN_CD": "KRX",
        "SLL_TYPE": "",
        "CNDT_PRIC": "",
    }
    assert all(isinstance(v, str) for v in body.values())
    assert codec.tr_id("TTTC0012U", "paper") == "VTTC0012U"
    assert codec.tr_id("TTTC0012U", "real") == "TTTC0012U"
    err = codec.error_from({"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."})
    assert err.retryable and "rate limit" in err.message and "초당" in err.message
