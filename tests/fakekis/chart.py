"""One-minute bars for 주식당일분봉조회 (inquire-time-itemchartprice, FHKST03010200).

Two sources make up a symbol's day: the trades the fake printed itself (aggregated per Seoul
minute as they print) and, for the part of the regular session that passed before the fake
started, a seeded history that ends at the price the live tape starts from. The history is
drawn backwards from that price, so the two join without a gap whatever the start time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tests import fakekrx as krx
from tests.fakekis.tape import Trade

OPEN = "0900"
# krx.md: continuous trading 09:00-15:20, then the closing call auction prints once at 15:30.
# First-trading-day and 수능 shifts are not modelled: the fake's day always opens at 09:00.
CONTINUOUS_END = "1520"
CLOSE = "1530"
MAX_ROWS = 30  # official sample docstring: "한 번의 호출에 최대 30건까지"


@dataclass(slots=True)
class MinuteBar:
    hhmm: str
    open: int
    high: int
    low: int
    close: int
    volume: int
    amount: int  # this minute's 거래대금 (price x qty summed)

    @classmethod
    def first(cls, hhmm: str, price: int, qty: int) -> MinuteBar:
        return cls(hhmm, price, price, price, price, qty, price * qty)

    def add(self, price: int, qty: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.amount += price * qty

    def then(self, later: MinuteBar) -> MinuteBar:
        """This minute followed by `later` of the same minute (history, then live prints)."""
        return MinuteBar(
            self.hhmm,
            self.open,
            max(self.high, later.high),
            min(self.low, later.low),
            later.close,
            self.volume + later.volume,
            self.amount + later.amount,
        )


def _minute_range(start: str, stop: str) -> list[str]:
    """HHMM minutes from `start` up to but excluding `stop`."""
    out = []
    h, m = int(start[:2]), int(start[2:])
    while f"{h:02d}{m:02d}" < stop:
        out.append(f"{h:02d}{m:02d}")
        h, m = (h + 1, 0) if m == 59 else (h, m + 1)
    return out


def history_minutes(began_hhmm: str) -> list[str]:
    """The session minutes that traded before the fake's tape began at `began_hhmm`."""
    minutes = _minute_range(OPEN, min(began_hhmm, CONTINUOUS_END))
    if began_hhmm > CLOSE:
        minutes.append(CLOSE)
    return minutes


def _step(price: int, ticks: int, limits: tuple[int, int]) -> int:
    lower, upper = limits
    for _ in range(abs(ticks)):
        price = price + krx.tick_size(price) if ticks > 0 else price - krx.tick_below(price)
    return min(max(price, lower), upper)


def seeded_history(
    rng: random.Random, end_price: int, limits: tuple[int, int], minutes: list[str]
) -> list[MinuteBar]:
    """Bars for `minutes` (ascending) whose last close is `end_price`. Walked backwards: each bar's
    open is the previous bar's close, as in a continuous market with a print every minute."""
    # Shares a minute: about 300 million won of turnover, busier in the opening minutes.
    mean_qty = max(30, 300_000_000 // end_price)
    bars: list[MinuteBar] = []
    close = end_price
    for hhmm in reversed(minutes):
        busy = 3 if hhmm < "0910" else 1
        qty = busy * (int(rng.expovariate(1 / mean_qty)) + 1)
        if hhmm == CLOSE:
            # The closing auction is a single price: one print, a big one.
            qty *= 8
            bars.append(MinuteBar(hhmm, close, close, close, close, qty, close * qty))
            continue
        open_ = _step(close, rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2)), limits)
        high = _step(max(open_, close), rng.choice((0, 0, 1, 1, 2)), limits)
        low = _step(min(open_, close), -rng.choice((0, 0, 1, 1, 2)), limits)
        typical = (open_ + high + low + close) / 4
        bars.append(MinuteBar(hhmm, open_, high, low, close, qty, round(typical * qty)))
        close = open_
    bars.reverse()
    return bars


class MinuteBook:
    """The fake's own prints per (symbol, Seoul date), aggregated into minutes as they print."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, str], dict[str, MinuteBar]] = {}

    def add(self, date: str, trade: Trade) -> None:
        day = self._days.setdefault((trade.code, date), {})
        hhmm = trade.hhmmss[:4]
        bar = day.get(hhmm)
        if bar is None:
            day[hhmm] = MinuteBar.first(hhmm, trade.price, trade.qty)
        else:
            bar.add(trade.price, trade.qty)

    def day(self, code: str, date: str) -> dict[str, MinuteBar]:
        return self._days.get((code, date), {})


def combine(history: list[MinuteBar], live: dict[str, MinuteBar]) -> list[MinuteBar]:
    """One ascending list; a minute present in both (a clock moved backwards) is merged."""
    by_minute = {b.hhmm: b for b in history}
    for hhmm, bar in live.items():
        before = by_minute.get(hhmm)
        by_minute[hhmm] = bar if before is None else before.then(bar)
    return [by_minute[k] for k in sorted(by_minute)]
