"""Which resting orders a printed trade fills, and at what price.

The sim has no order book of its own: the tape stands for the rest of the market, and each
trade's quantity is what our orders may take from it, first come first served.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.sim.orders import Order
from engine.sim.protocol import TickRow


@dataclass(frozen=True, slots=True)
class Match:
    order: Order
    qty: int
    price: int


def fill_price(order: Order, trade_price: int) -> int | None:
    """The price `order` fills at against a trade at `trade_price`, or None if it does not."""
    if order.price is None:
        return trade_price
    if order.side == "buy":
        return min(order.price, trade_price) if trade_price <= order.price else None
    return max(order.price, trade_price) if trade_price >= order.price else None


def match_trade(open_orders: Iterable[Order], trade: TickRow) -> list[Match]:
    """Fills of `open_orders` (oldest first, all of trade.symbol) against one trade.

    Pure: the orders are not changed.
    """
    available = trade.qty
    out: list[Match] = []
    for order in open_orders:
        if available <= 0:
            break
        if not order.is_open:
            continue
        price = fill_price(order, trade.price)
        if price is None:
            continue
        qty = min(order.remaining, available)
        if qty <= 0:
            continue
        available -= qty
        out.append(Match(order, qty, price))
    return out
