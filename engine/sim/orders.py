"""Orders of the simulated account: the record, request decoding and the static checks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import msgspec

from engine.krx.prices import limit_price_problem
from engine.sim.protocol import (
    REJECT_BAD_QUANTITY,
    REJECT_OFF_TICK,
    REJECT_OUTSIDE_LIMIT,
    REJECT_UNKNOWN_SYMBOL,
    OrderEvent,
    OrderEventKind,
    OrderInfo,
    OrderStatus,
    OrderType,
    Side,
)

OPEN_STATUSES: frozenset[OrderStatus] = frozenset({"accepted", "partially_filled"})
MAX_CLIENT_ORDER_ID_LEN = 64


class OrderRequestIn(msgspec.Struct, kw_only=True):
    """protocol.OrderRequest as received: qty is checked by hand so that a bad quantity is an
    order reject (code bad_quantity), as the protocol lists it, not a malformed body."""

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: Any
    price: int | None = None


_request_decoder = msgspec.json.Decoder(OrderRequestIn)


class Malformed(ValueError):
    """A body that is not an order request at all: answered 400 and not stored."""


@dataclass(frozen=True, slots=True)
class Reject:
    code: str
    message: str


def decode_request(body: bytes) -> OrderRequestIn:
    try:
        req = _request_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise Malformed(
            f"invalid order request: {exc}; expected JSON "
            '{"client_order_id": str, "symbol": str, "side": "buy"|"sell", '
            '"type": "limit"|"market", "qty": int, "price": int|null}'
        ) from None
    if not req.client_order_id or len(req.client_order_id) > MAX_CLIENT_ORDER_ID_LEN:
        raise Malformed(
            f"client_order_id must be 1 to {MAX_CLIENT_ORDER_ID_LEN} characters, "
            f"got {len(req.client_order_id)}"
        )
    return req


def valid_qty(qty: Any) -> int | None:
    # bool is an int in Python but `true` is not a quantity.
    if isinstance(qty, int) and not isinstance(qty, bool) and qty >= 1:
        return qty
    return None


def check_static(req: OrderRequestIn, symbols: Collection[str], prev_close: int | None) -> Reject | None:
    """The checks that need no account, in the protocol's order. Raises Malformed for a limit
    order without a price or a market order with one, which no retry can make valid."""
    if valid_qty(req.qty) is None:
        return Reject(REJECT_BAD_QUANTITY, f"qty must be a whole number of shares >= 1, got {req.qty!r}")
    if req.symbol not in symbols or prev_close is None:
        shown = ", ".join(list(symbols)[:5])
        return Reject(
            REJECT_UNKNOWN_SYMBOL,
            f"unknown symbol {req.symbol!r}: this simulator trades {len(symbols)} symbols "
            f"(e.g. {shown}); GET /symbols lists them",
        )
    if req.type == "limit":
        if req.price is None:
            raise Malformed("a limit order needs a price: a positive integer KRW on the tick grid")
        problem = limit_price_problem(req.price, prev_close)
        if problem is not None:
            # The price rules name the same codes as the wire protocol.
            code = REJECT_OFF_TICK if problem.code == "off_tick" else REJECT_OUTSIDE_LIMIT
            return Reject(code, problem.message)
    elif req.price not in (None, 0):
        raise Malformed(f"a market order takes no price: send null or 0, got {req.price}")
    return None


@dataclass(slots=True)
class Order:
    seq: int
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    # None for market orders.
    price: int | None
    status: OrderStatus
    created_ts_ns: int
    filled_qty: int = 0
    # Sum of fill qty * price: the average fill price without float drift.
    fill_value: int = 0
    fills: int = 0
    reject_code: str | None = None
    message: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty if self.is_open else 0

    @property
    def avg_fill_price(self) -> float:
        return self.fill_value / self.filled_qty if self.filled_qty else 0.0

    def info(self, *, duplicate: bool = False) -> OrderInfo:
        return OrderInfo(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            qty=self.qty,
            price=self.price,
            status=self.status,
            filled_qty=self.filled_qty,
            avg_fill_price=self.avg_fill_price,
            reject_code=self.reject_code,
            message=self.message,
            created_ts_ns=self.created_ts_ns,
            duplicate=duplicate,
        )

    def event(
        self,
        kind: OrderEventKind,
        ts_ns: int,
        *,
        fill_id: str | None = None,
        fill_qty: int = 0,
        fill_price: int = 0,
        commission: int = 0,
        tax: int = 0,
    ) -> OrderEvent:
        return OrderEvent(
            event=kind,
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            price=self.price,
            status=self.status,
            filled_qty=self.filled_qty,
            reason=self.reject_code,
            message=self.message,
            fill_id=fill_id,
            fill_qty=fill_qty,
            fill_price=fill_price,
            commission=commission,
            tax=tax,
            ts_ns=ts_ns,
        )


def format_order_id(seq: int) -> str:
    return f"S{seq:08d}"
