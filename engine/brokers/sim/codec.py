"""Sans-I/O codec for the sim exchange's websocket: frames in, typed messages out.

Tick rows decode straight into `engine.marketdata.Tick` (same positional layout as the wire's
TickRow), so the hot path allocates one object per trade and nothing else.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from engine.brokers.base import OrderUpdate
from engine.marketdata import Tick
from engine.ordertypes import OrderStatus, Side
from engine.sim import protocol as wire


class TicksFrame(msgspec.Struct, tag_field="type", tag="ticks", gc=False):
    # gc=False: one per frame on the hot path, and it can hold no reference cycle (a list of
    # untracked Ticks), so the collector need not track it.
    data: list[Tick]


Incoming = TicksFrame | wire.Ack | wire.Error | wire.Condition | wire.OrderEvent | wire.Heartbeat | wire.Pong

T = TypeVar("T")

_decoder = msgspec.json.Decoder(Incoming)
_encoder = msgspec.json.Encoder()


class DecodeError(ValueError):
    """A frame that is not a valid sim message; the text says what was wrong."""


def decode(frame: str | bytes) -> Incoming:
    try:
        return _decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"undecodable sim frame ({exc}): {frame[:120]!r}") from None


def encode(message: wire.ClientMessage) -> bytes:
    return _encoder.encode(message)


def subscribe(symbols: list[str]) -> bytes:
    return encode(wire.Subscribe(symbols=symbols))


def unsubscribe(symbols: list[str]) -> bytes:
    return encode(wire.Unsubscribe(symbols=symbols))


def condition_subscribe(name: str) -> bytes:
    return encode(wire.ConditionSubscribe(name=name))


def condition_unsubscribe(name: str) -> bytes:
    return encode(wire.ConditionUnsubscribe(name=name))


def account_subscribe() -> bytes:
    return encode(wire.AccountSubscribe())


def ping(ident: int) -> bytes:
    return encode(wire.Ping(id=ident))


def order_update(msg: wire.OrderEvent) -> OrderUpdate:
    return OrderUpdate(
        event=msg.event,
        broker_order_id=msg.order_id,
        client_order_id=msg.client_order_id,
        symbol=msg.symbol,
        side=Side(msg.side),
        qty=msg.qty,
        status=OrderStatus(msg.status),
        filled_qty=msg.filled_qty,
        reason=msg.reason,
        message=msg.message,
        fill_id=msg.fill_id,
        fill_qty=msg.fill_qty,
        fill_price=msg.fill_price,
        commission=msg.commission,
        tax=msg.tax,
        ts_ns=msg.ts_ns,
    )


def encode_body(body: object) -> bytes:
    return _encoder.encode(body)


def decode_body(raw: bytes, into: type[T]) -> T:
    """A REST answer into its wire type; ValueError says what did not fit."""
    try:
        return msgspec.json.decode(raw, type=into)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


def error_body(raw: bytes) -> wire.ErrorBody | None:
    try:
        return msgspec.json.decode(raw, type=wire.ErrorBody)
    except msgspec.DecodeError:
        return None
