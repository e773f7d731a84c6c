"""The fake exchange's trade tape: a seeded random walk on the KRX tick grid per symbol.

Each print is published as a 0B tick, matched against the account's working orders and rolled
into one-minute bars (ka10080), so the feed, the fills and the charts all tell the same story.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tests import fakekrx as krx
from tests.fakekiwoom import codec
from tests.faketape import Side, name_of, next_print


@dataclass(slots=True)
class Trade:
    code: str
    price: int
    qty: int
    side: Side  # the aggressor: FID 15 is "+qty" for buy, "-qty" for sell
    at: datetime  # Seoul time of the print

    @property
    def hhmmss(self) -> str:
        return self.at.strftime("%H%M%S")


@dataclass(slots=True)
class Bar:
    start: datetime  # Seoul minute the bar covers
    open: int
    high: int
    low: int
    close: int
    volume: int
    acc_volume: int  # cumulative day volume at the bar's close


@dataclass(slots=True)
class DayBar:
    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(slots=True)
class SymbolTape:
    code: str
    base: int  # previous close
    price: int = 0
    ask: int = 0
    bid: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    acml_vol: int = 0
    acml_amt: int = 0
    buy_vol: int = 0
    sell_vol: int = 0
    prev_vol: int = 15_000_000
    listed_shares: int = 5_969_782_550
    trades: int = 0
    bars: list[Bar] = field(default_factory=list)
    history: list[DayBar] = field(default_factory=list)  # previous days, newest first

    @property
    def limits(self) -> tuple[int, int]:
        return krx.price_limits(self.base)

    @property
    def name(self) -> str:
        return name_of(self.code)

    @property
    def yesterday(self) -> DayBar | None:
        return self.history[0] if self.history else None

    def apply(self, trade: Trade) -> None:
        price, qty = trade.price, trade.qty
        if self.trades == 0:
            self.open = self.high = self.low = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.price = price
        self.trades += 1
        self.acml_vol += qty
        self.acml_amt += price * qty
        if trade.side == "buy":
            self.buy_vol += qty
            # A buy lifts the offer: the print is at the ask, the bid sits one tick under.
            self.ask, self.bid = price, max(price - krx.tick_below(price), self.limits[0])
        else:
            self.sell_vol += qty
            self.ask, self.bid = min(price + krx.tick_size(price), self.limits[1]), price
        minute = trade.at.replace(second=0, microsecond=0)
        bar = self.bars[-1] if self.bars else None
        if bar is None or bar.start != minute:
            self.bars.append(Bar(minute, price, price, price, price, qty, self.acml_vol))
        else:
            bar.high, bar.low = max(bar.high, price), min(bar.low, price)
            bar.close = price
            bar.volume += qty
            bar.acc_volume = self.acml_vol

    def tick_values(self, trade: Trade) -> dict[str, str]:
        """0B 주식체결 values after `trade` was applied: the official example's FID set
        (brokers.md 3.3). Prices carry their direction against the previous close. The derived
        FIDs (26 전일거래량대비, 29, 30, 31, 32, 228 체결강도, 311 시가총액) are plausible stand-ins:
        their exact definitions are UNCONFIRMED and no client should trade on them."""
        base = self.base
        lower, upper = self.limits
        diff = trade.price - base
        strength = self.buy_vol / self.sell_vol * 100 if self.sell_vol else 0.0
        mcap_eok = self.price * self.listed_shares // 100_000_000
        return {
            "20": trade.hhmmss,
            "10": codec.signed(trade.price, base),
            "11": codec.signed_num(diff),
            "12": codec.signed_rate(diff, base),
            "27": codec.signed(self.ask, base),
            "28": codec.signed(self.bid, base),
            "15": f"+{trade.qty}" if trade.side == "buy" else f"-{trade.qty}",
            "13": str(self.acml_vol),
            "14": str(self.acml_amt // 1_000_000),
            "16": codec.signed(self.open, base),
            "17": codec.signed(self.high, base),
            "18": codec.signed(self.low, base),
            "25": codec.sign_code(trade.price, base, lower, upper),
            "26": codec.signed_num(self.acml_vol - self.prev_vol),
            "29": codec.signed_num(self.acml_amt - self.prev_vol * base),
            "30": codec.signed_rate(self.acml_vol, self.prev_vol) if self.prev_vol else "0.00",
            "31": f"{self.acml_vol / self.listed_shares * 100:.2f}",
            "32": "44",
            "228": f"{strength:.2f}",
            "311": str(mcap_eok),
            "290": "2",  # 장중
            "691": "0",
            "567": "000000",
            "568": "000000",
            "9081": "1",  # KRX
        }


class Tape:
    """All symbols' walks, driven by one seeded RNG so a seed reproduces the price path."""

    def __init__(self, symbols: dict[str, int], seed: int) -> None:
        self.rng = random.Random(seed)
        self.symbols: dict[str, SymbolTape] = {}
        for code, base in symbols.items():
            self.add(code, base)

    def add(self, code: str, base: int) -> SymbolTape:
        if not krx.on_grid(base):
            raise ValueError(f"base price {base} of {code} is not on the tick grid")
        sym = SymbolTape(code=code, base=base, price=base)
        upper = sym.limits[1]
        sym.ask, sym.bid = min(base + krx.tick_size(base), upper), base
        self.symbols[code] = sym
        return sym

    def seed_history(self, sym: SymbolTape, today: date, days: int) -> None:
        """Previous trading days (weekdays; holidays ignored), yesterday closing at the base."""
        sym.history.clear()
        close = sym.base
        day = today
        for _ in range(days):
            day -= timedelta(days=1)
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            spread = max(close // 50, krx.tick_size(close))
            high = krx.round_down(close + self.rng.randint(0, spread))
            low = krx.round_up(max(close - self.rng.randint(0, spread), 1))
            open_ = krx.round_down(self.rng.randint(low, high)) if high > low else close
            open_ = min(max(open_, low), high)
            sym.history.append(
                DayBar(
                    day,
                    open_,
                    max(high, close),
                    min(low, close),
                    close,
                    self.rng.randint(5_000_000, 20_000_000),
                )
            )
            # The previous day's close: a step away from this day's open.
            close = max(krx.round_down(open_ + self.rng.randint(-spread, spread)), krx.tick_size(1))
        if sym.history:
            sym.prev_vol = sym.history[0].volume

    def backfill(self, sym: SymbolTape, now: datetime, minutes: int) -> None:
        """Print a few trades in each of the `minutes` minutes before `now`, so ka10080 has
        history at start. The prints are silent (nobody is subscribed yet)."""
        start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes)
        for i in range(minutes):
            at = start + timedelta(minutes=i)
            for j in range(self.rng.randint(1, 4)):
                self.step(sym.code, at + timedelta(seconds=10 * j), apply=True)

    def step(self, code: str, at: datetime, *, apply: bool = False) -> Trade:
        """The next random print of `code` (a tick up, down or unchanged)."""
        sym = self.symbols[code]
        price, side, qty = next_print(self.rng, sym.price, sym.limits, not sym.trades, mean_qty=60)
        trade = Trade(code=code, price=price, qty=qty, side=side, at=at)
        if apply:
            sym.apply(trade)
        return trade
