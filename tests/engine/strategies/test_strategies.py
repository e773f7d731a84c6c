from __future__ import annotations

import pytest

from engine.instruments import Instrument
from engine.krx.costs import Market
from engine.marketdata import Tick
from engine.strategies.base import ParamError
from engine.strategies.breakout import VolatilityBreakout
from engine.strategies.exits import ExitsOnly

INST = Instrument(
    "005930",
    "삼성전자",
    Market.KOSPI,
    prev_close=97_600,
    prev_high=99_300,
    prev_low=96_400,
    open=97_000,
    upper_limit=126_800,
    lower_limit=68_400,
)


class FakeBook:
    """A plain in-memory account; strategies only read it."""

    def __init__(self) -> None:
        self.held = 0
        self.avg = 0.0
        self.open: dict[str, int] = {"buy": 0, "sell": 0}
        self.entries = True

    def qty(self, symbol: str) -> int:
        return self.held

    def avg_price(self, symbol: str) -> float:
        return self.avg

    def open_order_qty(self, symbol: str, side: str) -> int:
        return self.open[side]

    def may_enter(self) -> bool:
        return self.entries

    def may_exit(self) -> bool:
        return True


def tick(price: int) -> Tick:
    return Tick("005930", 0, price, 10, 1, 1000)


def test_breakout_enters_once_at_the_target() -> None:
    s = VolatilityBreakout(INST, {"k": 0.5}, None, 1_000_000)
    assert s.target == 97_000 + round(0.5 * 2_900)  # 98,450
    book = FakeBook()
    assert s.on_tick(tick(98_400), book) is None
    book.entries = False  # e.g. before the open: the day's entry is not used up
    assert s.on_tick(tick(98_500), book) is None
    book.entries = True
    sig = s.on_tick(tick(98_500), book)
    assert sig is not None and sig.side == "buy" and sig.is_entry
    assert sig.price == 98_700  # two ticks above the trade
    assert sig.qty == 1_000_000 // 98_700
    assert s.on_tick(tick(98_600), book) is None  # one entry a day


def test_exits_take_profit_stop_loss_trailing_and_close() -> None:
    book = FakeBook()
    book.held, book.avg = 10, 100_000.0
    s = ExitsOnly(INST, {"tp": 3, "sl": 2, "trail": 1}, None, 0)
    assert s.on_tick(tick(100_500), book) is None
    tp = s.on_tick(tick(103_000), book)
    assert tp is not None and tp.side == "sell" and tp.qty == 10 and "take-profit" in tp.reason
    s = ExitsOnly(INST, {"tp": 0, "sl": 2, "trail": 0}, None, 0)
    sl = s.on_tick(tick(98_000), book)
    assert sl is not None and "stop-loss" in sl.reason
    s = ExitsOnly(INST, {"tp": 0, "sl": 0, "trail": 1}, None, 0)
    assert s.on_tick(tick(102_000), book) is None
    trail = s.on_tick(tick(100_900), book)
    assert trail is not None and "trailing" in trail.reason
    book.open["sell"] = 10  # already exiting: no second exit
    assert s.on_tick(tick(100_000), book) is None
    book.open["sell"] = 0
    eod = ExitsOnly(INST, {}, None, 0).on_before_close(book)
    assert eod is not None and eod.qty == 10
    assert ExitsOnly(INST, {"eod": 0}, None, 0).on_before_close(book) is None


def test_params_are_validated_with_their_ranges() -> None:
    with pytest.raises(ParamError, match="breakout has no parameter zz; valid: k, tp, sl, trail, eod"):
        VolatilityBreakout(INST, {"zz": 1}, None, 0)
    with pytest.raises(ParamError, match=r"k=5 is out of range: 0.05 to 2"):
        VolatilityBreakout(INST, {"k": 5}, None, 0)
