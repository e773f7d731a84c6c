"""KRX price and code rules every fake exchange enforces (krx.md "Prices" and "Codes"; brokers.md
section 5), written once for all of them, and on their own: no engine code, so that the fakes
still cross-check the engine's rules (engine/krx/prices.py)."""

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
    then base +- that width, each cut to its own tick (KRX: 9,750 -> 2,920 -> 6,830 / 12,670).
    krx.md's "rounded to a valid tick inward" read as rounding 70% of the base up gives 15,930 for
    base 22,750, where KRX's method gives 15,950; both agree with LS's examples (t1102 recprice
    4,525 -> 3,170 / 5,880, t8412 jiclose 4,555 -> 3,190 / 5,920)."""
    width = base * LIMIT_PCT_INT // 100
    width -= width % tick_size(base)
    return round_down(base - width), round_down(base + width)


def neighbours(price: int) -> tuple[int, int]:
    """The valid grid prices around an off-grid price, for error messages."""
    down = round_down(price)
    return down, down + tick_size(down)


def isin(code: str) -> str:
    """The 12-character standard code (ISIN) of a stock short code: KR7 + code + 00 + check digit.

    LS sends it as `expcode`/`Isuno` in SC0/SC1 (e.g. KR7005930003). The check digit is the ISIN
    Luhn digit over the letters-as-numbers expansion (A=10 .. Z=35)."""
    body = f"KR7{code}00"
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # the rightmost digit of the payload is doubled (the check digit follows it)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return f"{body}{(10 - total % 10) % 10}"
