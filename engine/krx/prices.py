"""The KRX tick grid (since 2023-01-25) and the ±30% daily price limits. Prices are integer KRW."""

from __future__ import annotations

from dataclasses import dataclass

# (upper bound exclusive, tick) pairs; the last tick applies to every higher price.
_TICKS: tuple[tuple[int, int], ...] = (
    (2_000, 1),
    (5_000, 5),
    (20_000, 10),
    (50_000, 50),
    (200_000, 100),
    (500_000, 500),
)
_TOP_TICK = 1_000
LIMIT_PCT = 30


def tick_size(price: int) -> int:
    """Tick for a stock trading at `price` (KOSPI and KOSDAQ share the table)."""
    for bound, tick in _TICKS:
        if price < bound:
            return tick
    return _TOP_TICK


def is_on_tick(price: int) -> bool:
    return price > 0 and price % tick_size(price) == 0


def round_down(price: int) -> int:
    """Largest valid price <= price."""
    if price < 1:
        return 0
    return price - price % tick_size(price)


def round_up(price: int) -> int:
    """Smallest valid price >= price."""
    if is_on_tick(price):
        return price
    p = price - price % tick_size(price) + tick_size(price)
    return p if is_on_tick(p) else round_up(p)


def next_up(price: int) -> int:
    """The valid price one tick above a valid price."""
    return round_up(price + 1)


def next_down(price: int) -> int:
    """The valid price one tick below a valid price (0 when there is none)."""
    return round_down(price - 1)


def nearest_valid(price: int) -> tuple[int, int]:
    """The valid prices on either side of an off-grid price (equal when it is on the grid)."""
    return round_down(price), round_up(price)


@dataclass(frozen=True, slots=True)
class DailyLimits:
    lower: int
    upper: int

    def contains(self, price: int) -> bool:
        return self.lower <= price <= self.upper


def daily_limits(base_price: int) -> DailyLimits:
    """KRX's ±30% band, computed the way KRX does it: 30% of the base price (normally the
    previous close) is cut down to the base price's tick; that width is added to and taken from
    the base, and each result is cut down to its own tick. KRX's example: base 9,750 -> 2,925 ->
    2,920 -> 12,670 / 6,830. (Rounding base x 0.7 up instead gives 15,930 for base 22,750,
    where KRX says 15,950.)"""
    # Integer arithmetic: float rounding must not move a limit by a tick.
    width = base_price * LIMIT_PCT // 100
    width -= width % tick_size(base_price)
    upper = round_down(base_price + width)
    lower = round_down(base_price - width)
    return DailyLimits(lower=max(lower, 1), upper=upper)


@dataclass(frozen=True, slots=True)
class PriceProblem:
    code: str  # outside_limit | off_tick (the codes exchanges and brokers reject with)
    message: str  # names the valid prices


def limit_price_problem(price: int, base_price: int) -> PriceProblem | None:
    """None when `price` may be sent as a limit price, else what is wrong and what is valid."""
    if price <= 0:
        return PriceProblem("outside_limit", f"price must be a positive number of KRW, got {price}")
    limits = daily_limits(base_price)
    if not limits.contains(price):
        return PriceProblem(
            "outside_limit",
            (
                f"price {price:,} is outside today's limits: valid prices are "
                f"{limits.lower:,} to {limits.upper:,} KRW"
            ),
        )
    if not is_on_tick(price):
        low, high = nearest_valid(price)
        return PriceProblem(
            "off_tick",
            (
                f"price {price:,} is off the tick grid (tick {tick_size(low):,} KRW here): "
                f"nearest valid prices are {low:,} and {high:,}"
            ),
        )
    return None


def check_limit_price(price: int, base_price: int) -> str | None:
    """The message of limit_price_problem(), for callers that only show it."""
    problem = limit_price_problem(price, base_price)
    return problem.message if problem else None
