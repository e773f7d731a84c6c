"""Exit rules shared by strategies that hold positions: take-profit, stop-loss, trailing stop,
and flattening before the close."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from engine.marketdata import Tick
from engine.ordertypes import Side
from engine.strategies.base import Book, Param, Signal, Strategy

EXIT_PARAMS: Mapping[str, Param] = {
    "tp": Param(3.0, 0.0, 100.0, "take-profit, % above the average price; 0 = off"),
    "sl": Param(2.0, 0.0, 100.0, "stop-loss, % below the average price; 0 = off"),
    "trail": Param(1.5, 0.0, 100.0, "trailing stop, % below the highest price since entry; 0 = off"),
    "eod": Param(1.0, 0.0, 1.0, "1 = sell everything before the close, 0 = hold overnight"),
}


class ExitRules:
    def __init__(self, symbol: str, params: Mapping[str, float]) -> None:
        self.symbol = symbol
        self.tp = params["tp"] / 100
        self.sl = params["sl"] / 100
        self.trail = params["trail"] / 100
        self.exit_before_close = params["eod"] >= 0.5
        self._peak = 0

    def _sell_all(self, book: Book, reason: str) -> Signal | None:
        if not book.may_exit():
            return None
        held = book.qty(self.symbol)
        free = held - book.open_order_qty(self.symbol, Side.SELL)
        if held <= 0 or free <= 0:
            return None
        # Keyed by the position it closes: the same position never gets two exits, a new one can.
        key = f"exit:{held}@{book.avg_price(self.symbol):.2f}"
        return Signal(Side.SELL, free, None, reason, key, is_entry=False)

    def on_tick(self, tick: Tick, book: Book) -> Signal | None:
        held = book.qty(self.symbol)
        if held <= 0:
            self._peak = 0
            return None
        avg = book.avg_price(self.symbol)
        self._peak = max(self._peak, tick.price)
        price = tick.price
        if self.tp and price >= avg * (1 + self.tp):
            return self._sell_all(book, f"take-profit: {price:,} ≥ avg {avg:,.0f} +{self.tp:.1%}")
        if self.sl and price <= avg * (1 - self.sl):
            return self._sell_all(book, f"stop-loss: {price:,} ≤ avg {avg:,.0f} -{self.sl:.1%}")
        if self.trail and price <= self._peak * (1 - self.trail) and self._peak > avg:
            return self._sell_all(
                book, f"trailing stop: {price:,} is {self.trail:.1%} below the high {self._peak:,}"
            )
        return None

    def on_before_close(self, book: Book) -> Signal | None:
        if not self.exit_before_close:
            return None
        return self._sell_all(book, "exit before the close")


class ExitsOnly(Strategy):
    """Manages a position opened by hand: exits only, never buys."""

    name = "exits"
    description = "no entries; take-profit, stop-loss, trailing stop and exit before the close"
    params_spec: ClassVar[Mapping[str, Param]] = EXIT_PARAMS

    def setup(self) -> None:
        self.exits = ExitRules(self.symbol, self.params)

    def on_tick(self, tick: Tick, book: Book) -> Signal | None:
        return self.exits.on_tick(tick, book)

    def on_before_close(self, book: Book) -> Signal | None:
        return self.exits.on_before_close(book)


class Watch(Strategy):
    """Streams the symbol (for status and charts) without ever trading it."""

    name = "watch"
    description = "no orders: follow the symbol's trades only"

    def on_tick(self, tick: Tick, book: Book) -> Signal | None:
        return None
