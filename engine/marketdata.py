"""Market data as the engine sees it, whatever the broker's wire format."""

from __future__ import annotations

import msgspec


class Tick(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One trade. Array-like so a broker codec can decode frames straight into it, no copy.

    side: 1 buyer-initiated, -1 seller-initiated. volume: cumulative for the day.
    """

    symbol: str
    ts_ns: int
    price: int
    qty: int
    side: int
    volume: int
