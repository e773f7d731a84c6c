"""KRX price and code rules the fake exchange enforces (/work/shared/reference/krx.md "Prices",
"Codes"; brokers.md section 5).
"""

from __future__ import annotations

import re

# Since 2024 a short code may carry a letter in the 5th place (I, O, U excluded): no `^\d{6}$`.
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


def tick_size(price: int) -> int:
    """The stock tick at `price` (ETF/ETN/ELW 5 KRW is out of the fake's scope)."""
    for bound, tick in _TICKS:
        if price < bound:
            return tick
    return 1_000


def tick_below(price: int) -> int:
    """The tick used when stepping down from `price` (the band of the price just below)."""
    return tick_size(max(price - 1, 1))


def on_grid(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def round_down(price: int) -> int:
    return price - price % tick_size(price)


def round_up(price: int) -> int:
    down = round_down(price)
    return down if down == price else down + tick_size(down)


def price_limits(base: int) -> tuple[int, int]:
    """(lower, upper): +-30% of the base price rounded to a valid tick inward (krx.md). Checked
    against two LS examples: t1102 recprice 4525 -> 3170/5880, t8412 jiclose 4555 -> 3190/5920."""
    upper = round_down(base * 13 // 10)
    lower = round_up(-(-base * 7 // 10))
    return lower, upper


def neighbours(price: int) -> tuple[int, int]:
    """The valid grid prices around an off-grid price, for refusal messages."""
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
