"""Wire protocol of the simulated exchange, shared by its server and the engine's sim adapter.

Transport: one HTTP port on 127.0.0.1.

WebSocket `GET /ws`, JSON text frames.
  client -> server, tagged by "op":
    {"op":"subscribe","symbols":["005930",...]}      one Ack or Error per symbol
    {"op":"unsubscribe","symbols":[...]}             one Ack or Error per symbol
    {"op":"condition_subscribe","name":"momentum"}   Ack, then a Condition "enter" per current
    {"op":"condition_subscribe","id":"0"}            member, then live enter/leave events
    {"op":"condition_unsubscribe","name":"momentum"} Ack
    {"op":"condition_unsubscribe","id":"0"}
    {"op":"account_subscribe"}                       Ack; OrderEvents for the account follow
    {"op":"ping","id":7}                             Pong
  A condition is named either by its `name` or by its `id` (GET /conditions lists both; names
  and ids never collide). Give one of the two; given both, they must be the same condition.
  The Ack echoes the key(s) as sent, so a client matches it to its request whichever it used;
  every Condition event carries both. Errors: unknown_condition (no such condition, or a name
  and an id that disagree), bad_message (neither given).
  server -> client, tagged by "type":
    Ticks (several trades per frame; each row a positional array to keep frames small and
    decoding cheap), Ack, Error, Condition, OrderEvent, Heartbeat (every few seconds, so a
    silent dead socket is noticed), Pong.

HTTP, JSON bodies:
    GET    /health                      {"status":"ok"}
    GET    /symbols                     [SymbolInfo]
    GET    /bars?symbol=005930          [BarInfo] today's 1-minute bars, oldest first, up to now
                                        (the last one is the current, partial minute); 400
                                        ErrorBody without a symbol, 404 unknown_symbol
    GET    /conditions                  [ConditionInfo]
    POST   /orders          OrderRequest -> 200 OrderInfo (accepted or rejected: a reject is an
                                           outcome, not a transport error); 400 ErrorBody when
                                           the body is malformed. A client_order_id seen before
                                           returns the existing order with duplicate=true and
                                           never creates a second one.
    GET    /orders?status=open|all      [OrderInfo]
    GET    /orders?client_order_id=X    [OrderInfo] (zero or one)
    GET    /orders/{order_id}           OrderInfo | 404 ErrorBody
    DELETE /orders/{order_id}           200 OrderInfo (status cancelled) | 404 | 409 ErrorBody
    GET    /account                     Account
    GET    /fills                       [FillInfo] every fill of the account, oldest first
                                        (what the account channel missed while disconnected)
  test and demo controls (a simulator may be driven; a broker cannot):
    POST   /admin/condition_events  {"name":..,"events":[{"symbol":..,"event":"enter"|"leave"}]}
                                    ("id":.. instead of "name" works too, as on the websocket)
    POST   /admin/drop_connections  closes every websocket (clients must reconnect)
    GET    /admin/stats             Stats

Bars: the day starts at 09:00 Seoul when the sim starts between 09:00 and 15:30 Seoul (its
clock's), else 60 minutes before it starts; the bars up to the start are a seeded history that
opens at SymbolInfo.open and ends where the live tape begins, and the live trades are added to
the bar of the minute they print in. Minutes without a trade have no bar.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
OrderStatus = Literal["accepted", "partially_filled", "filled", "cancelled", "rejected"]
OrderEventKind = Literal["accepted", "rejected", "fill", "cancelled"]

# Reject codes for OrderInfo.reject_code / OrderEvent.reason.
REJECT_UNKNOWN_SYMBOL = "unknown_symbol"
REJECT_OFF_TICK = "off_tick"
REJECT_OUTSIDE_LIMIT = "outside_limit"
REJECT_INSUFFICIENT_CASH = "insufficient_cash"
REJECT_INSUFFICIENT_SHARES = "insufficient_shares"
REJECT_BAD_QUANTITY = "bad_quantity"


# ---- websocket, client -> server -------------------------------------------------------------


class Subscribe(msgspec.Struct, tag_field="op", tag="subscribe"):
    symbols: list[str]


class Unsubscribe(msgspec.Struct, tag_field="op", tag="unsubscribe"):
    symbols: list[str]


# omit_defaults: a frame by name encodes exactly as it did before ids existed.
class ConditionSubscribe(msgspec.Struct, tag_field="op", tag="condition_subscribe", omit_defaults=True):
    name: str | None = None
    id: str | None = None


class ConditionUnsubscribe(msgspec.Struct, tag_field="op", tag="condition_unsubscribe", omit_defaults=True):
    name: str | None = None
    id: str | None = None


class AccountSubscribe(msgspec.Struct, tag_field="op", tag="account_subscribe"):
    pass


class Ping(msgspec.Struct, tag_field="op", tag="ping"):
    id: int


ClientMessage = Subscribe | Unsubscribe | ConditionSubscribe | ConditionUnsubscribe | AccountSubscribe | Ping


# ---- websocket, server -> client -------------------------------------------------------------


class TickRow(msgspec.Struct, array_like=True, frozen=True):
    """One trade: [symbol, ts_ns, price, qty, side, volume].

    ts_ns: the sim's send time (epoch ns) so consumers can measure latency.
    side: 1 buyer-initiated (trade at the ask), -1 seller-initiated (at the bid).
    volume: the symbol's cumulative volume today.
    """

    symbol: str
    ts_ns: int
    price: int
    qty: int
    side: int
    volume: int


class Ticks(msgspec.Struct, tag_field="type", tag="ticks"):
    data: list[TickRow]


class Ack(msgspec.Struct, tag_field="type", tag="ack"):
    op: str
    symbol: str | None = None
    name: str | None = None
    # A condition's id, when the request named it by id.
    id: str | None = None


class Error(msgspec.Struct, tag_field="type", tag="error"):
    op: str
    code: str
    message: str
    symbol: str | None = None


class Condition(msgspec.Struct, tag_field="type", tag="condition"):
    """A symbol entering or leaving a condition. seq counts per condition, from 1."""

    name: str
    symbol: str
    event: Literal["enter", "leave"]
    seq: int
    ts_ns: int
    id: str = ""


class OrderEvent(msgspec.Struct, tag_field="type", tag="order", kw_only=True):
    """Account channel: what happened to an order. For a fill, fill_* describe this fill only
    and filled_qty is the order's cumulative filled quantity after it."""

    event: OrderEventKind
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: int | None
    status: OrderStatus
    filled_qty: int
    reason: str | None = None
    message: str | None = None
    fill_id: str | None = None
    fill_qty: int = 0
    fill_price: int = 0
    commission: int = 0
    tax: int = 0
    ts_ns: int


class Heartbeat(msgspec.Struct, tag_field="type", tag="heartbeat"):
    ts_ns: int


class Pong(msgspec.Struct, tag_field="type", tag="pong"):
    id: int


ServerMessage = Ticks | Ack | Error | Condition | OrderEvent | Heartbeat | Pong


# ---- HTTP ------------------------------------------------------------------------------------


class SymbolInfo(msgspec.Struct, kw_only=True):
    code: str
    name: str
    market: str  # "KOSPI" | "KOSDAQ"
    prev_close: int
    prev_high: int
    prev_low: int
    open: int
    last: int
    upper_limit: int
    lower_limit: int


class ConditionInfo(msgspec.Struct, kw_only=True):
    id: str = ""
    name: str
    description: str


class BarInfo(msgspec.Struct, kw_only=True):
    """One minute of one symbol's trades. ts_ns: the minute's start (epoch ns, on a whole
    minute); prices in KRW on the tick grid; volume in shares (> 0: a minute without a trade
    has no bar)."""

    ts_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int


class OrderRequest(msgspec.Struct, kw_only=True):
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    price: int | None = None


class OrderInfo(msgspec.Struct, kw_only=True):
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    price: int | None
    status: OrderStatus
    filled_qty: int
    avg_fill_price: float
    reject_code: str | None = None
    message: str | None = None
    created_ts_ns: int
    duplicate: bool = False


class Position(msgspec.Struct, kw_only=True):
    symbol: str
    qty: int
    avg_price: float


class Account(msgspec.Struct, kw_only=True):
    cash: int
    positions: list[Position]


class FillInfo(msgspec.Struct, kw_only=True):
    fill_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: int
    commission: int
    tax: int
    ts_ns: int


class ErrorBody(msgspec.Struct):
    code: str
    message: str


class ConditionEventIn(msgspec.Struct):
    symbol: str
    event: Literal["enter", "leave"]


class ConditionEventsRequest(msgspec.Struct, kw_only=True):
    """The condition by name or by id, as on the websocket."""

    name: str | None = None
    id: str | None = None
    events: list[ConditionEventIn]


class Stats(msgspec.Struct, kw_only=True):
    connections: int
    # symbol -> how many websocket connections subscribe it (only symbols with >= 1).
    subscriptions: dict[str, int]
    orders: int
    # Every POST /orders received, including retries that hit an existing client_order_id.
    order_requests: int
    duplicate_requests: int
    ticks_sent: int


server_message_decoder = msgspec.json.Decoder(ServerMessage)
client_message_decoder = msgspec.json.Decoder(ClientMessage)
