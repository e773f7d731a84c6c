"""KRX price rules the fake exchange enforces (krx.md "Prices"; brokers.md section 5)."""

from __future__ import annotations

import re

# Since 2024 a code may carry a letter in the 5th place (I, O, U excluded), so no `^\d{6}$`.
CODE_RE = re.compile(r"^[0-9]{4}[0-9A-HJ-NP-TV-Z][0-9]$")

_TICKS: tuple[tuple[int, int], ...] = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
)

LIMIT_PCT_INT = 30


def tick_size(price: int) -> int:
    """Stock tick at `price` (the 2023-01-25 table; ETF/ETN 5 KRW is out of scope for the fake)."""
    for bound, tick in _TICKS:
        if price < bound:
            return tick
    return 1_000


def tick_below(price: int) -> int:
    """The tick used when stepping down from `price` (the band of price - 1)."""
    return tick_size(max(price - 1, 1))


def on_grid(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def round_down(price: int) -> int:
    return price - price % tick_size(price)


def round_up(price: int) -> int:
    down = round_down(price)
    return down if down == price else down + tick_size(down)


def price_limits(base: int) -> tuple[int, int]:
    """(lower, upper) daily limits as KRX computes them: 30% of the base, cut to the base's tick,
    then base +- that width, each cut to its own tick (KRX: 9,750 -> 2,920 -> 6,830 / 12,670)."""
    width = base * LIMIT_PCT_INT // 100
    width -= width % tick_size(base)
    return round_down(base - width), round_down(base + width)


def neighbours(price: int) -> tuple[int, int]:
    """The valid grid prices around an off-grid price, for error messages."""
    down = round_down(price)
    return down, down + tick_size(down)
