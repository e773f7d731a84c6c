"""The fake exchange's own trade tape: a seeded random walk on the KRX tick grid per symbol.

Each trade is both published as an H0STCNT0 record and used to match the account's orders, so
what the client sees on the feed is what its orders fill against.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests import fakekrx as krx
from tests.faketape import Side, next_print


@dataclass(slots=True)
class Trade:
    code: str
    price: int
    qty: int
    side: Side  # aggressor: "buy" -> CCLD_DVSN 1, "sell" -> 5
    hhmmss: str


def prdy_sign(diff: int, price: int, lower: int, upper: int) -> str:
    # PRDY_VRSS_SIGN: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down.
    if price >= upper:
        return "1"
    if price <= lower:
        return "4"
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def _cmp_sign(diff: int) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


@dataclass(slots=True)
class SymbolTape:
    code: str
    base: int  # previous close: the base of PRDY_* fields and of the +-30% limits
    price: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    open_hour: str = ""
    high_hour: str = ""
    low_hour: str = ""
    acml_vol: int = 0
    acml_pbmn: int = 0
    seln_csnu: int = 0
    shnu_csnu: int = 0
    seln_smtn: int = 0
    shnu_smtn: int = 0
    prdy_vol: int = 15_000_000
    listed_shares: int = 5_969_782_550
    trades: int = 0
    last: Trade | None = field(default=None)

    @property
    def limits(self) -> tuple[int, int]:
        return krx.price_limits(self.base)

    def apply(self, trade: Trade) -> None:
        price, qty = trade.price, trade.qty
        if self.trades == 0:
            self.open = self.high = self.low = price
            self.open_hour = self.high_hour = self.low_hour = trade.hhmmss
        if price > self.high:
            self.high, self.high_hour = price, trade.hhmmss
        if price < self.low:
            self.low, self.low_hour = price, trade.hhmmss
        self.price = price
        self.trades += 1
        self.acml_vol += qty
        self.acml_pbmn += price * qty
        if trade.side == "buy":
            self.shnu_csnu += 1
            self.shnu_smtn += qty
        else:
            self.seln_csnu += 1
            self.seln_smtn += qty
        self.last = trade

    def record(self, trade: Trade, bsop_date: str, rng: random.Random) -> list[str]:
        """The 46 H0STCNT0 fields after `trade` has been applied."""
        lower, upper = self.limits
        price = trade.price
        diff = price - self.base
        tick = krx.tick_size(price)
        # A buy-initiated trade lifts the offer (ask1 == price), a sell hits the bid, as in the
        # captured frame (62700 traded at ask 62700, bid 62600).
        if trade.side == "buy":
            ask, bid = price, price - krx.tick_below(price)
        else:
            ask, bid = price + tick, price
        cttr = self.shnu_smtn / self.seln_smtn * 100 if self.seln_smtn else 0.0
        total = self.shnu_smtn + self.seln_smtn
        wavg = self.acml_pbmn / self.acml_vol if self.acml_vol else float(price)
        prdy_same_hour = max(self.acml_vol * 9 // 10, 1)  # yesterday's volume by this time: a stand-in
        fields = [
            self.code, trade.hhmmss, str(price), prdy_sign(diff, price, lower, upper), str(diff),
            f"{diff / self.base * 100:.2f}", f"{wavg:.2f}", str(self.open), str(self.high),
            str(self.low), str(ask), str(bid), str(trade.qty), str(self.acml_vol),
            str(self.acml_pbmn), str(self.seln_csnu), str(self.shnu_csnu),
            str(self.shnu_csnu - self.seln_csnu), f"{cttr:.2f}", str(self.seln_smtn),
            str(self.shnu_smtn), "1" if trade.side == "buy" else "5",
            f"{self.shnu_smtn / total:.2f}" if total else "0.00",
            f"{self.acml_vol / self.prdy_vol * 100:.2f}", self.open_hour,
            _cmp_sign(price - self.open), str(price - self.open), self.high_hour,
            _cmp_sign(price - self.high), str(price - self.high), self.low_hour,
            _cmp_sign(price - self.low), str(price - self.low), bsop_date, "20", "N",
            str(rng.randint(1, 90_000)), str(rng.randint(1, 250_000)), str(rng.randint(500_000, 3_000_000)),
            str(rng.randint(500_000, 3_000_000)), f"{self.acml_vol / self.listed_shares * 100:.2f}",
            str(prdy_same_hour), f"{self.acml_vol / prdy_same_hour * 100:.2f}", "0", "", str(self.base),
        ]  # fmt: skip
        return fields


class Tape:
    """All symbols' walks, driven by one seeded RNG so a seed reproduces the price path."""

    def __init__(self, symbols: dict[str, int], seed: int) -> None:
        self.rng = random.Random(seed)
        self.symbols: dict[str, SymbolTape] = {}
        for code, start in symbols.items():
            self.add(code, start)

    def add(self, code: str, start: int) -> SymbolTape:
        if not krx.on_grid(start):
            raise ValueError(f"start price {start} of {code} is not on the tick grid")
        tape = SymbolTape(code=code, base=start, price=start)
        self.symbols[code] = tape
        return tape

    def next_trade(self, code: str, hhmmss: str) -> Trade:
        sym = self.symbols[code]
        price, side, qty = next_print(self.rng, sym.price, sym.limits, not sym.trades, mean_qty=60)
        return Trade(code=code, price=price, qty=qty, side=side, hhmmss=hhmmss)

    def batch_size(self) -> int:
        """How many records the next frame of a symbol carries; several are common on KIS."""
        return 1 if self.rng.random() < 0.6 else self.rng.randint(2, 4)
