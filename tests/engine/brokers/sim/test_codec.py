"""The sim adapter's pure codec on recorded frames: no sockets."""

from __future__ import annotations

import json

import pytest

from engine.brokers.sim import codec
from engine.marketdata import Tick
from engine.sim import protocol as wire

TICKS = (
    b'{"type":"ticks","data":[["005930",1795254748493594719,97700,125,1,9694968],'
    b'["000660",1795254748493600000,561000,3,-1,120034]]}'
)
FILL = json.dumps(
    {
        "type": "order",
        "event": "fill",
        "order_id": "S00000003",
        "client_order_id": "TCABC",
        "symbol": "005930",
        "side": "sell",
        "qty": 10,
        "price": None,
        "status": "partially_filled",
        "filled_qty": 4,
        "fill_id": "S00000003-1",
        "fill_qty": 4,
        "fill_price": 97700,
        "commission": 58,
        "tax": 781,
        "ts_ns": 1795254748493594719,
    }
)


def test_tick_frames_decode_straight_into_engine_ticks() -> None:
    msg = codec.decode(TICKS)
    assert isinstance(msg, codec.TicksFrame)
    assert msg.data == [
        Tick("005930", 1795254748493594719, 97700, 125, 1, 9694968),
        Tick("000660", 1795254748493600000, 561000, 3, -1, 120034),
    ]


def test_order_events_become_order_updates() -> None:
    msg = codec.decode(FILL)
    assert isinstance(msg, wire.OrderEvent)
    update = codec.order_update(msg)
    assert (update.event, update.client_order_id, update.broker_order_id) == ("fill", "TCABC", "S00000003")
    assert (update.fill_qty, update.fill_price, update.commission, update.tax) == (4, 97700, 58, 781)


def test_control_frames() -> None:
    assert codec.decode('{"type":"ack","op":"subscribe","symbol":"005930"}') == wire.Ack(
        op="subscribe", symbol="005930"
    )
    err = codec.decode(
        '{"type":"error","op":"subscribe","code":"unknown_symbol",'
        '"message":"999990 is not listed","symbol":"999990"}'
    )
    assert isinstance(err, wire.Error) and err.code == "unknown_symbol"
    cond = codec.decode(
        '{"type":"condition","name":"momentum","symbol":"035720","event":"leave","seq":7,"ts_ns":1}'
    )
    assert isinstance(cond, wire.Condition)
    assert (cond.name, cond.symbol, cond.event, cond.seq) == ("momentum", "035720", "leave", 7)


@pytest.mark.parametrize(
    "frame", [b"not json", b'{"type":"nope"}', b'{"type":"ticks","data":[["005930","x",1,1,1,1]]}']
)
def test_bad_frames_raise_a_clear_error(frame: bytes) -> None:
    with pytest.raises(codec.DecodeError, match="undecodable sim frame"):
        codec.decode(frame)


def test_requests_encode_to_the_wire_format() -> None:
    assert json.loads(codec.subscribe(["005930"])) == {"op": "subscribe", "symbols": ["005930"]}
    assert json.loads(codec.condition_subscribe("momentum")) == {
        "op": "condition_subscribe",
        "name": "momentum",
    }
    assert json.loads(codec.account_subscribe()) == {"op": "account_subscribe"}
