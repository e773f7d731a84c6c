"""KRX price rules the fake exchange enforces (reference/krx.md "Prices" and "Codes")."""

from __future__ import annotations

import re

# Since 2024 a code may carry a letter in the 5th place (I, O, U excluded), so no `^\d{6}$`.
CODE_RE = re.compile(r"^[0-9]{4}[0-9A-HJ-NP-TV-Z][0-9]$")

# (upper bound exclusive, tick) since 2023-01-25, the same for KOSPI and KOSDAQ stocks.
_TICKS: tuple[tuple[int, int], ...] = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
)

LIMIT_PCT = 30


def tick_size(price: int) -> int:
    """The stock tick at `price` (ETF/ETN/ELW 5 KRW is out of the fake's scope)."""
    for bound, tick in _TICKS:
        if price < bound:
            return tick
    return 1_000


def tick_below(price: int) -> int:
    """The step used when moving down from `price` (the band of price - 1)."""
    return tick_size(max(price - 1, 1))


def on_grid(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def round_down(price: int) -> int:
    return price - price % tick_size(price)


def round_up(price: int) -> int:
    down = round_down(price)
    return down if down == price else down + tick_size(down)


def price_limits(base: int) -> tuple[int, int]:
    """(lower, upper): +-30% of the base, each rounded to a valid tick inward (krx.md). Rounding
    the limit itself to the tick grid is UNCONFIRMED in brokers.md section 5; krx.md says inward."""
    upper = round_down(base * (100 + LIMIT_PCT) // 100)
    lower_raw = -(-base * (100 - LIMIT_PCT) // 100)  # ceiling: inward for the lower limit
    return round_up(lower_raw), upper


def neighbours(price: int) -> tuple[int, int]:
    """The valid grid prices around an off-grid price, for refusal messages."""
    down = round_down(price)
    return down, down + tick_size(down)
