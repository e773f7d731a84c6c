"""The market every fake broker prints: a seeded random walk on the KRX tick grid, inside the
day's limits, with mostly small prints and the odd block (so larger resting orders fill in
parts). Each fake wraps it in its own records and wire format."""

from __future__ import annotations

import random
from typing import Literal

from tests import fakekrx as krx

Side = Literal["buy", "sell"]

NAMES: dict[str, str] = {
    "005930": "삼성전자",
    "000660": "SK하이닉스",
    "035720": "카카오",
    "035420": "NAVER",
    "005380": "현대차",
    "373220": "LG에너지솔루션",
    "247540": "에코프로비엠",
    "196170": "알테오젠",
}

# Previous closes (the base of signs and of the +-30% limits); all on the tick grid.
DEFAULT_SYMBOLS: dict[str, int] = {
    "005930": 62_700,
    "000660": 187_000,
    "035720": 48_000,
    "035420": 201_500,
    "005380": 187_500,
    "373220": 412_000,
}


def name_of(code: str) -> str:
    return NAMES.get(code, f"테스트종목{code}")


def next_print(
    rng: random.Random, price: int, limits: tuple[int, int], first: bool, mean_qty: int
) -> tuple[int, Side, int]:
    """The next trade after one at `price`: (price, aggressor side, quantity). The first print
    of a symbol is at its starting price."""
    lower, upper = limits
    step = 0 if first else rng.choice((-1, 0, 0, 1))
    if step > 0:
        price = min(price + krx.tick_size(price), upper)
    elif step < 0:
        price = max(price - krx.tick_below(price), lower)
    side: Side = "buy" if rng.random() < 0.5 else "sell"
    qty = int(rng.expovariate(1 / mean_qty)) + 1
    if rng.random() < 0.05:
        qty *= 20
    return price, side, qty
