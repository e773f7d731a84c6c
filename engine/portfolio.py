"""Cash, positions and P&L, derived only from fills, plus what open orders have reserved.

Positions are never set directly: they are the sum of fills, so the journal's fills can rebuild
them exactly after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.clock import SEOUL, seoul_date
from engine.krx.costs import CostModel
from engine.ordertypes import Side

__all__ = ["SEOUL", "Portfolio", "seoul_date"]


@dataclass(slots=True)
class Position:
    symbol: str
    qty: int = 0
    avg_price: float = 0.0  # fees excluded; they are reported separately


@dataclass(slots=True)
class Reservation:
    symbol: str
    side: Side
    remaining: int
    unit_cash: float  # cash held back per share for a buy (price plus commission)


@dataclass(slots=True)
class DayStats:
    day: date | None = None
    realized_gross: int = 0
    commission: int = 0
    tax: int = 0
    trades: int = 0

    @property
    def realized_net(self) -> int:
        return self.realized_gross - self.commission - self.tax


@dataclass(slots=True)
class FillResult:
    realized_pnl: int  # for a sell: (price - avg) * qty - commission - tax; for a buy: -commission
    position_qty: int


class Portfolio:
    def __init__(self, initial_cash: int, costs: CostModel) -> None:
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.costs = costs
        self.positions: dict[str, Position] = {}
        self.reservations: dict[str, Reservation] = {}  # by client order id
        self.last: dict[str, int] = {}
        self.today = DayStats()
        self.total_realized_net = 0

    def set_initial_cash(self, amount: int) -> None:
        """The account's starting cash, learnt once the broker first answers (fills already
        applied move from it, not from zero)."""
        self.cash += amount - self.initial_cash
        self.initial_cash = amount

    # ---- fills ---------------------------------------------------------------------------

    def apply_fill(
        self, symbol: str, side: Side, qty: int, price: int, commission: int, tax: int, ts_ns: int
    ) -> FillResult:
        day = seoul_date(ts_ns)
        if self.today.day != day:
            self.today = DayStats(day=day)
        pos = self.positions.setdefault(symbol, Position(symbol))
        amount = qty * price
        realized_gross = 0
        if side == Side.BUY:
            self.cash -= amount + commission
            pos.avg_price = (pos.avg_price * pos.qty + amount) / (pos.qty + qty)
            pos.qty += qty
        else:
            self.cash += amount - commission - tax
            realized_gross = round((price - pos.avg_price) * qty)
            pos.qty -= qty
            if pos.qty == 0:
                pos.avg_price = 0.0
        self.today.realized_gross += realized_gross
        self.today.commission += commission
        self.today.tax += tax
        self.today.trades += 1
        realized = realized_gross - commission - tax
        self.total_realized_net += realized
        if pos.qty == 0:
            del self.positions[symbol]
        return FillResult(realized_pnl=realized, position_qty=pos.qty)

    # ---- reservations for open orders ----------------------------------------------------

    def reserve(self, client_order_id: str, symbol: str, side: Side, qty: int, unit_price: int) -> None:
        unit_cash = self.costs.with_commission(unit_price) if side == Side.BUY else 0.0
        self.reservations[client_order_id] = Reservation(symbol, side, qty, unit_cash)

    def on_order_progress(self, client_order_id: str, remaining: int) -> None:
        res = self.reservations.get(client_order_id)
        if res is None:
            return
        if remaining <= 0:
            del self.reservations[client_order_id]
        else:
            res.remaining = remaining

    def release(self, client_order_id: str) -> None:
        self.reservations.pop(client_order_id, None)

    # ---- views ---------------------------------------------------------------------------

    def reserved_cash(self) -> int:
        return int(
            sum(r.remaining * r.unit_cash for r in self.reservations.values() if r.side == Side.BUY) + 0.999
        )

    def available_cash(self) -> int:
        return self.cash - self.reserved_cash()

    def qty(self, symbol: str) -> int:
        pos = self.positions.get(symbol)
        return pos.qty if pos else 0

    def sellable(self, symbol: str) -> int:
        in_orders = sum(
            r.remaining for r in self.reservations.values() if r.symbol == symbol and r.side == Side.SELL
        )
        return self.qty(symbol) - in_orders

    def open_order_qty(self, symbol: str, side: Side) -> int:
        return sum(r.remaining for r in self.reservations.values() if r.symbol == symbol and r.side == side)

    def open_buy_value(self, symbol: str) -> int:
        return int(
            sum(
                r.remaining * r.unit_cash
                for r in self.reservations.values()
                if r.symbol == symbol and r.side == Side.BUY
            )
        )

    def last_price(self, symbol: str) -> int | None:
        return self.last.get(symbol)

    def mark(self, symbol: str) -> float:
        pos = self.positions.get(symbol)
        last = self.last.get(symbol)
        if last is not None:
            return float(last)
        return pos.avg_price if pos else 0.0

    def position_value(self, symbol: str, price: int | None = None) -> int:
        qty = self.qty(symbol)
        return int(qty * (price if price is not None else self.mark(symbol)))

    def unrealized(self, symbol: str) -> int:
        pos = self.positions.get(symbol)
        if pos is None:
            return 0
        return round((self.mark(symbol) - pos.avg_price) * pos.qty)

    def total_unrealized(self) -> int:
        return sum(self.unrealized(s) for s in self.positions)

    def equity(self) -> int:
        return self.cash + sum(int(p.qty * self.mark(s)) for s, p in self.positions.items())

    def open_position_count(self) -> int:
        """Symbols held or being bought: a pending entry will become a position."""
        buying = {r.symbol for r in self.reservations.values() if r.side == Side.BUY}
        return len(buying | self.positions.keys())

    def holds_or_buying(self, symbol: str) -> bool:
        return self.qty(symbol) > 0 or self.open_order_qty(symbol, Side.BUY) > 0

    def day_stats(self, day: date) -> DayStats:
        """`day`'s figures: empty on a new day that has had no fill yet (not yesterday's)."""
        return self.today if self.today.day == day else DayStats(day=day)

    def realized_on(self, day: date) -> int:
        return self.day_stats(day).realized_net

    def day_pnl(self, on: date) -> int:
        """Net realized today plus unrealized now: what the daily loss limit watches."""
        realized = self.today.realized_net if self.today.day == on else 0
        return realized + self.total_unrealized()
