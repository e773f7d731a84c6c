"""Orders at brokers that carry no client order id (KIS, Kiwoom, LS): our id is tied to the
broker's order number once the broker answers, and the journal keeps the tie.

A send that failed ambiguously (a 5xx, a time-out: the order may exist) is never simply sent
again. The repeat first looks for an order of the same shape placed since the first try and not
tied to another intent, and adopts it; only when there is none does it send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from engine.brokers.base import BrokerOrder, OrderRequest
from engine.clock import SEOUL, Clock, seoul_datetime
from engine.ordertypes import OrderStatus

# Two seconds of slack between our clock and the broker's when matching by time.
CLOCK_SLACK = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class ListedOrder:
    """A row of the broker's order listing, with when it was placed (Seoul, YYYYMMDDHHMMSS)."""

    order: BrokerOrder
    placed: str


# The broker's listing of orders placed on Seoul's dates from the given one to today.
Listing = Callable[[date], Awaitable[list[ListedOrder]]]


class OrderTies:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.by_coid: dict[str, str] = {}  # client order id -> the broker's order number
        self._attempts: dict[str, datetime] = {}  # first try of each send, Seoul time

    def coid_of(self, broker_order_id: str, default: str = "") -> str:
        return next((c for c, o in self.by_coid.items() if o == broker_order_id), default)

    def answer(
        self,
        request: OrderRequest,
        broker_order_id: str,
        status: OrderStatus = OrderStatus.ACCEPTED,
        filled: int = 0,
    ) -> BrokerOrder:
        self.by_coid[request.client_order_id] = broker_order_id
        return BrokerOrder(
            broker_order_id,
            request.client_order_id,
            request.symbol,
            request.side,
            request.qty,
            request.price,
            status,
            filled,
        )

    async def place(
        self, request: OrderRequest, send: Callable[[], Awaitable[str]], listing: Listing
    ) -> BrokerOrder:
        """`send` places the order and returns the broker's number for it."""
        coid = request.client_order_id
        if coid in self.by_coid:
            return self.answer(request, self.by_coid[coid])
        first = self._attempts.get(coid)
        if first is not None:
            # A repeat after an ambiguous failure: the first try may have landed.
            found = await self.match(request, first, set(self.by_coid.values()), listing)
            if found is not None:
                return self.answer(request, found.broker_order_id, found.status, found.filled_qty)
        else:
            self._attempts[coid] = self.clock.now()
        return self.answer(request, await send())

    async def match(
        self, request: OrderRequest, since: datetime, claimed: Iterable[str], listing: Listing
    ) -> BrokerOrder | None:
        taken = set(claimed)
        # Date and time together: an order sent at 23:59:59 is found at 00:00:01.
        earliest = (since - CLOCK_SLACK).astimezone(SEOUL)
        floor = earliest.strftime("%Y%m%d%H%M%S")
        price = request.price if request.type == "limit" else None
        for row in await listing(earliest.date()):
            o = row.order
            if (
                o.broker_order_id not in taken
                and o.symbol == request.symbol
                and o.side == request.side
                and o.qty == request.qty
                and (o.price or None) == price
                and row.placed >= floor
            ):
                return replace(o, client_order_id=request.client_order_id)
        return None

    async def find(
        self,
        request: OrderRequest,
        placed_after_ns: int,
        claimed: set[str],
        broker_order_id: str | None,
        listing: Listing,
    ) -> BrokerOrder | None:
        """The broker's order for this request: by the number the journal ties to it (after a
        restart the engine names it), else by shape."""
        placed = seoul_datetime(placed_after_ns)
        number = broker_order_id or self.by_coid.get(request.client_order_id)
        if number is not None:
            rows = [r.order for r in await listing(placed.date()) if r.order.broker_order_id == number]
            if not rows:
                return None
            self.by_coid[request.client_order_id] = number
            return replace(rows[0], client_order_id=request.client_order_id)
        found = await self.match(request, placed, claimed, listing)
        if found is not None:
            self.by_coid[request.client_order_id] = found.broker_order_id
        return found
