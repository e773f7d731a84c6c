"""The interface every broker adapter implements, and the normalized messages it emits.

An adapter pushes what arrives (ticks, condition changes, order updates, connection changes)
into a `BrokerSink` synchronously from its read loop: the sink only enqueues, so the socket is
never held up by engine work, and nothing is dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Protocol

from engine.instruments import Instrument
from engine.marketdata import Tick
from engine.ordertypes import OrderStatus, Side


class BrokerError(Exception):
    """The broker refused or failed a request; `code` is the broker's, message is for users."""

    def __init__(self, code: str, message: str, retryable: bool = False, cause: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.cause = cause or message  # the message without the broker's name


def unreachable(venue: str, exc: BaseException) -> BrokerError:
    """A request that got no usable answer. It may or may not have reached the broker, so it is
    retryable (safe only where a retry cannot make a second order). Said in plain words."""
    if isinstance(exc, TimeoutError):
        why = "no answer in time"
    elif isinstance(exc, OSError):
        why = "could not connect"
    elif isinstance(exc, ValueError):
        why = "its answer could not be read"
    else:
        why = "the connection broke"
    return BrokerError("unreachable", f"{venue} unreachable: {why}", retryable=True, cause=why)


@dataclass(frozen=True, slots=True)
class ConditionChange:
    name: str
    symbol: str
    event: Literal["enter", "leave"]
    seq: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    type: Literal["limit", "market"]
    qty: int
    price: int | None


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """The broker's view of an order (answer to a placement, a cancel or a query)."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: int | None
    status: OrderStatus  # accepted, partially_filled, filled, cancelled or rejected
    filled_qty: int
    reject_code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """Account-channel news about an order: accepted, rejected, fill or cancelled."""

    event: Literal["accepted", "rejected", "fill", "cancelled"]
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    status: OrderStatus
    filled_qty: int
    reason: str | None = None
    message: str | None = None
    fill_id: str | None = None
    fill_qty: int = 0
    fill_price: int = 0
    commission: int = 0
    tax: int = 0
    ts_ns: int = 0


@dataclass(frozen=True, slots=True)
class BrokerFill:
    fill_id: str
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: int
    commission: int
    tax: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    cash: int
    positions: dict[str, int]


class BrokerSink(Protocol):
    def on_ticks(self, ticks: list[Tick]) -> None: ...

    def on_condition(self, change: ConditionChange) -> None: ...

    def on_order_update(self, update: OrderUpdate) -> None: ...

    def on_connection(self, connected: bool, detail: str) -> None: ...


class Broker(ABC):
    name: str
    paper: bool
    # Realtime registrations the broker allows (None: no known cap).
    max_subscriptions: int | None
    # Where it is reached, for messages ("broker unreachable at ...").
    endpoint: str = ""

    @abstractmethod
    async def start(self, sink: BrokerSink) -> None:
        """Connect (REST auth, then the realtime socket) and start delivering to `sink`."""

    @abstractmethod
    async def stop(self) -> None: ...

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    async def instruments(self) -> dict[str, Instrument]: ...

    @abstractmethod
    async def conditions(self) -> dict[str, str]:
        """Realtime condition searches this broker offers: name -> description."""

    @abstractmethod
    async def subscribe(self, symbol: str) -> None:
        """Register realtime trades; kept across reconnects until unsubscribed."""

    @abstractmethod
    async def unsubscribe(self, symbol: str) -> None: ...

    @abstractmethod
    async def subscribe_condition(self, name: str) -> None: ...

    @abstractmethod
    async def unsubscribe_condition(self, name: str) -> None: ...

    @abstractmethod
    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        """Idempotent by client_order_id: repeating a request never makes a second order."""

    @abstractmethod
    async def cancel_order(self, broker_order_id: str) -> BrokerOrder: ...

    async def instrument(self, code: str) -> Instrument:
        """One symbol's figures for today; brokers without a full listing fetch on demand."""
        known = await self.instruments()
        if code not in known:
            raise BrokerError("unknown_symbol", f"{code} is not traded by the {self.name} broker")
        return known[code]

    @abstractmethod
    async def find_order(self, request: OrderRequest, placed_after_ns: int,
                         claimed: set[str], broker_order_id: str | None = None) -> BrokerOrder | None:
        """The broker's order for this request, if it got it. Brokers with client order ids
        look it up by id; others by `broker_order_id` when the journal ties one, else match an
        order of the same shape placed after `placed_after_ns` whose number is not in
        `claimed` (already tied to another intent)."""

    async def order_states(self) -> list[tuple[BrokerOrder, float]]:
        """Today's orders with their average fill price, for brokers that report fills per
        order rather than one by one (empty when fills() covers it)."""
        return []

    @abstractmethod
    async def open_orders(self) -> list[BrokerOrder]: ...

    @abstractmethod
    async def fills(self) -> list[BrokerFill]:
        """Today's fills, for reconciling what the realtime channel missed while down."""

    @abstractmethod
    async def account(self) -> AccountSnapshot: ...
