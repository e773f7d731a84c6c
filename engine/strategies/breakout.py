"""Larry Williams' volatility breakout: buy once a day when the price crosses
open + k × (previous high − previous low), then manage the position with the exit rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from engine.krx.prices import next_up
from engine.marketdata import Tick
from engine.ordertypes import Side
from engine.strategies.base import Book, Param, Signal, Strategy
from engine.strategies.exits import EXIT_PARAMS, ExitRules


class VolatilityBreakout(Strategy):
    name = "breakout"
    description = "buy when price ≥ open + k×(prev high − prev low); exits: tp, sl, trail, eod"
    params_spec: ClassVar[Mapping[str, Param]] = {
        "k": Param(0.5, 0.05, 2.0, "breakout factor of yesterday's range"),
        **EXIT_PARAMS,
    }

    def setup(self) -> None:
        inst = self.instrument
        self.target = inst.open + round(self.params["k"] * (inst.prev_high - inst.prev_low))
        self.exits = ExitRules(self.symbol, self.params)
        self._entered = False

    def on_tick(self, tick: Tick, book: Book) -> Signal | None:
        if book.qty(self.symbol) > 0:
            return self.exits.on_tick(tick, book)
        if self._entered or tick.price < self.target or book.open_order_qty(self.symbol, Side.BUY):
            return None
        if not book.may_enter():
            return None  # the day's one entry is kept for when entries are allowed
        # Marketable limit two ticks above the trade: fills like a market order without
        # reserving cash at the upper limit, and never pays more than a bounded slippage.
        limit = min(next_up(next_up(tick.price)), self.instrument.upper_limit)
        qty = self.entry_qty(limit)
        if qty <= 0:
            return None
        self._entered = True  # one entry a day: the classic rule, and no re-entry after a stop
        return Signal(
            Side.BUY,
            qty,
            limit,
            f"breakout: {tick.price:,} ≥ target {self.target:,} (k={self.params['k']:g})",
            "entry",
            is_entry=True,
        )

    def on_before_close(self, book: Book) -> Signal | None:
        return self.exits.on_before_close(book)
