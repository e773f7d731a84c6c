"""The interface every broker adapter implements, and the normalized messages it emits.

An adapter pushes what arrives (ticks, condition changes, order updates, connection changes)
into a `BrokerSink` synchronously from its read loop: the sink only enqueues, so the socket is
never held up by engine work, and nothing is dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from engine.charts.model import Bar
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


class ConditionSearch(StrEnum):
    """How a broker tells which symbols match a saved condition."""

    NONE = "none"
    POLLED = "polled"  # the adapter asks again and again and diffs the answers (KIS)
    PUSHED = "pushed"  # the broker pushes enters and leaves over its socket (sim, Kiwoom, LS)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter can do. The engine and the commands read this instead of asking which
    broker it is, so a new adapter changes behaviour only through what it declares."""

    # Orders carry our id to the broker; without it the adapter ties our id to the broker's
    # order number in the journal, and a retry looks the order up before sending again.
    client_order_ids: bool
    lists_fills: bool  # fills one by one (else per order: order_states), for reconciliation
    lists_orders: bool  # today's orders with their state, for reconciliation
    condition_search: ConditionSearch
    # Saved conditions watched at once (None: no known limit); 0 with condition search NONE.
    max_conditions: int | None
    conditions_on_paper: bool  # KIS and LS serve condition search to real accounts only
    intraday_bars: bool  # today's 1-minute bars from the open
    max_symbols: int | None  # realtime trade registrations (None: no known cap)
    environments: tuple[str, ...]  # e.g. ("paper",) or ("paper", "real")

    def condition_refusal(self, broker: str, paper: bool) -> str | None:
        """Why condition search cannot run here, in words for the user; None when it can."""
        if self.condition_search is ConditionSearch.NONE:
            return f"the {broker} broker offers no condition search; use /subscribe"
        if paper and not self.conditions_on_paper:
            return (
                f"the {broker} broker serves condition search to real accounts only, and "
                "this one is paper; use /subscribe, or a real account with LIVE_TRADING=yes"
            )
        return None


@dataclass(frozen=True, slots=True)
class ConditionInfo:
    """A condition saved in the broker's HTS: the id the API wants and the name users know."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ConditionChange:
    condition_id: str
    symbol: str
    event: Literal["enter", "leave"]
    seq: int = 0
    ts_ns: int = 0


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
    capabilities: Capabilities
    # Where it is reached, for messages ("broker unreachable at ...").
    endpoint: str = ""

    @property
    def max_subscriptions(self) -> int | None:
        """Symbols that may be registered for realtime trades at once (None: no known cap)."""
        return self.capabilities.max_symbols

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

    async def conditions(self) -> list[ConditionInfo]:
        """The conditions saved in the broker's HTS (made there, never through the API)."""
        raise self.unsupported("condition search")

    @abstractmethod
    async def subscribe(self, symbol: str) -> None:
        """Register realtime trades; kept across reconnects until unsubscribed."""

    @abstractmethod
    async def unsubscribe(self, symbol: str) -> None: ...

    async def watch_condition(self, condition: ConditionInfo) -> None:
        """Start delivering the condition's enters and leaves to the sink, the symbols already
        matching first (as enters), and again after every reconnect; kept until unwatched."""
        raise self.unsupported("condition search")

    async def unwatch_condition(self, condition_id: str) -> None:
        """Stop watching; a no-op for a condition not watched."""

    async def minute_bars(self, symbol: str) -> list[Bar]:
        """Today's 1-minute bars from the open up to now, oldest first."""
        raise self.unsupported("intraday bars")

    def unsupported(self, what: str) -> BrokerError:
        return BrokerError("unsupported", f"the {self.name} broker does not offer {what}")

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
    async def find_order(
        self,
        request: OrderRequest,
        placed_after_ns: int,
        claimed: set[str],
        broker_order_id: str | None = None,
    ) -> BrokerOrder | None:
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

    async def fills(self) -> list[BrokerFill]:
        """Today's fills one by one, for reconciling what the realtime channel missed while
        down; asked only of brokers that declare `lists_fills` (others: order_states())."""
        raise self.unsupported("a fill listing")

    @abstractmethod
    async def account(self) -> AccountSnapshot: ...
