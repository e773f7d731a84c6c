"""The fake exchange's own market: instruments, a seeded random-walk trade tape, minute bars.

Every print is both published (S3_/K3_) and matched against the account's resting orders, so what a
client sees on the feed is what its orders fill against. Times come from the fake's Clock (Seoul).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tests import fakekrx as krx
from tests.faketape import Side, next_print

Market = Literal["KOSPI", "KOSDAQ"]


@dataclass(frozen=True, slots=True)
class Listing:
    name: str
    market: Market
    base: int  # 기준가: the previous close, the base of change/sign and of the +-30% limits


# Names from krx.md "Codes" and the LS examples (078150 is the AFR example's HB테크놀러지,
# 122870 the K3_ example's). Prices are illustrative and on the tick grid.
DEFAULT_LISTINGS: dict[str, Listing] = {
    "005930": Listing("삼성전자", "KOSPI", 62_700),
    "000660": Listing("SK하이닉스", "KOSPI", 187_000),
    "035420": Listing("NAVER", "KOSPI", 201_500),
    "005380": Listing("현대차", "KOSPI", 187_500),
    "247540": Listing("에코프로비엠", "KOSDAQ", 171_000),
    "196170": Listing("알테오젠", "KOSDAQ", 312_000),
    "078150": Listing("HB테크놀러지", "KOSDAQ", 2_390),
    "122870": Listing("와이지엔터테인먼트", "KOSDAQ", 63_000),
}


@dataclass(slots=True)
class Trade:
    code: str
    price: int
    qty: int
    side: Side  # the aggressor: "buy" -> cgubun "+", "sell" -> "-"
    at: datetime  # Seoul


@dataclass(slots=True)
class Bar:
    date: str  # YYYYMMDD
    minute: str  # HHMM of the minute's start
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    value: int = 0  # KRW

    def add(self, price: int, qty: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.value += price * qty


@dataclass(slots=True)
class Instrument:
    code: str
    name: str
    market: Market
    base: int
    prev_open: int
    prev_high: int
    prev_low: int
    prev_volume: int
    price: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    opentime: str = ""
    hightime: str = ""
    lowtime: str = ""
    volume: int = 0
    value: int = 0  # KRW
    md_volume: int = 0  # sell-initiated
    md_count: int = 0
    ms_volume: int = 0  # buy-initiated
    ms_count: int = 0
    trades: int = 0
    bars: dict[str, Bar] = field(default_factory=dict)  # "YYYYMMDDHHMM" -> bar

    @property
    def limits(self) -> tuple[int, int]:
        return krx.price_limits(self.base)

    @property
    def change(self) -> int:
        return self.price - self.base

    def sign(self, price: int | None = None) -> str:
        """전일대비구분: 1 상한, 2 상승, 3 보합, 4 하한, 5 하락 (t8410/t8412 field tables)."""
        p = self.price if price is None else price
        lower, upper = self.limits
        if p >= upper:
            return "1"
        if p <= lower:
            return "4"
        return "2" if p > self.base else "5" if p < self.base else "3"

    def rate(self, price: int | None = None) -> float:
        p = self.price if price is None else price
        return (p - self.base) / self.base * 100

    def apply(self, trade: Trade) -> None:
        hhmmss = trade.at.strftime("%H%M%S")
        price, qty = trade.price, trade.qty
        if self.trades == 0:
            self.open = self.high = self.low = price
            self.opentime = self.hightime = self.lowtime = hhmmss
        if price > self.high:
            self.high, self.hightime = price, hhmmss
        if price < self.low:
            self.low, self.lowtime = price, hhmmss
        self.price = price
        self.trades += 1
        self.volume += qty
        self.value += price * qty
        if trade.side == "buy":
            self.ms_volume += qty
            self.ms_count += 1
        else:
            self.md_volume += qty
            self.md_count += 1
        key = trade.at.strftime("%Y%m%d%H%M")
        bar = self.bars.get(key)
        if bar is None:
            self.bars[key] = Bar(key[:8], key[8:], price, price, price, price, qty, price * qty)
        else:
            bar.add(price, qty)


class Tape:
    """All symbols' walks, driven by one seeded RNG so a seed reproduces the price path."""

    def __init__(self, listings: dict[str, Listing], seed: int) -> None:
        self.rng = random.Random(seed)
        self.instruments: dict[str, Instrument] = {}
        for code, listing in listings.items():
            self.add(code, listing)

    def add(self, code: str, listing: Listing) -> Instrument:
        if not krx.CODE_RE.match(code):
            raise ValueError(f"{code!r} is not a KRX short code")
        base = listing.base
        if not krx.on_grid(base):
            raise ValueError(f"base price {base} of {code} is not on the tick grid")
        # Yesterday: a 2% range around the close, opened one tick below it (illustrative only).
        inst = Instrument(code=code, name=listing.name, market=listing.market, base=base,
                          prev_open=krx.round_down(base - krx.tick_below(base)),
                          prev_high=krx.round_down(base * 102 // 100),
                          prev_low=krx.round_up(base * 98 // 100),
                          prev_volume=2_500_000, price=base)  # fmt: skip
        self.instruments[code] = inst
        return inst

    def next_trade(self, code: str, at: datetime) -> Trade:
        inst = self.instruments[code]
        price, side, qty = next_print(self.rng, inst.price, inst.limits, not inst.trades, mean_qty=40)
        return Trade(code=code, price=price, qty=qty, side=side, at=at)
