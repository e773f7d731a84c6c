"""Typed orders: the side, and the status with the transitions it may make.

One table says which status may follow which. The order manager moves an order only along it;
anything else is a bug (or a broker saying something impossible), so it is refused and logged
loudly, never applied quietly. A fill is money and is always booked; only the status it would
imply is subject to the table.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    PENDING = "pending"  # journaled; may or may not have reached the broker
    UNKNOWN = "unknown"  # the send failed unclearly: reconciliation settles it
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    NOT_SENT = "not_sent"  # reconciliation found the broker never got it (never re-sent)

    @property
    def live(self) -> bool:
        return self in LIVE_STATUSES

    @property
    def words(self) -> str:
        """For people: "partially filled", "not sent"."""
        return self.value.replace("_", " ")


S = OrderStatus
LIVE_STATUSES = frozenset({S.PENDING, S.UNKNOWN, S.ACCEPTED, S.PARTIALLY_FILLED})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset(
        {S.UNKNOWN, S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.NOT_SENT}
    ),
    S.UNKNOWN: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.NOT_SENT}),
    # A rejection can follow acceptance (the exchange refuses what the broker took).
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELLED}),
    # A cancel can lose the race to the last fill: the order then ends filled.
    S.CANCELLED: frozenset({S.FILLED}),
    S.FILLED: frozenset(),
    S.REJECTED: frozenset(),
    S.NOT_SENT: frozenset(),
}


def allowed(old: OrderStatus, new: OrderStatus) -> bool:
    """Staying put is always allowed (a repeated notice)."""
    return old == new or new in TRANSITIONS[old]


def cumulative_fill_id(broker_order_id: str, filled_after: int, day: date) -> str:
    """A fill's identity for brokers whose notices carry no execution number: the Seoul trading
    date, the order number and the order's filled quantity after it. All survive a restart (the
    journal keeps the quantity, the broker's order listing repeats it), unlike a counter kept
    in memory. The date matters: brokers number orders afresh each day, so without it the
    second day's first fill would take the first day's id and be dropped as a repeat."""
    return f"{day:%Y%m%d}:{broker_order_id}@{filled_after}"
