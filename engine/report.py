"""The daily report, computed from the journal: fills are the truth, equity samples give the
curve and the drawdown, alerts and halts say what happened."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from engine.journal import FillRecord
from engine.krx.calendar import SEOUL
from engine.krx.costs import CostModel
from engine.ordertypes import Side
from engine.portfolio import Portfolio, seoul_date


@dataclass(frozen=True, slots=True)
class Trade:
    """A closing sell order's result: realized P&L net of its fees and tax."""

    symbol: str
    qty: int
    realized: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class DailyReport:
    day: date
    realized_gross: int
    commission: int
    tax: int
    realized_net: int
    unrealized: int
    fills: int
    trades: list[Trade]
    max_drawdown: int
    start_equity: int
    end_equity: int
    equity_points: list[tuple[int, int]]
    alerts: list[str] = field(default_factory=list)
    halts: list[str] = field(default_factory=list)

    @property
    def win_rate(self) -> float | None:
        if not self.trades:
            return None
        return sum(t.realized > 0 for t in self.trades) / len(self.trades)

    @property
    def best(self) -> Trade | None:
        return max(self.trades, key=lambda t: t.realized, default=None)

    @property
    def worst(self) -> Trade | None:
        return min(self.trades, key=lambda t: t.realized, default=None)


def day_bounds(day: date) -> tuple[int, int]:
    start = datetime.combine(day, time(0), SEOUL)
    return int(start.timestamp() * 1e9), int((start + timedelta(days=1)).timestamp() * 1e9)


def max_drawdown(points: list[tuple[int, int]]) -> int:
    peak, worst = None, 0
    for _, equity in points:
        peak = equity if peak is None else max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def build_report(
    day: date,
    fills: list[FillRecord],
    initial_cash: int,
    costs: CostModel,
    marks: dict[str, int],
    equity_points: list[tuple[int, int]],
    alerts: list[str],
    halts: list[str],
) -> DailyReport:
    """Replays every fill up to the end of `day` (positions and average prices depend on the
    days before), and reports what happened on `day`."""
    _, end_ns = day_bounds(day)
    book = Portfolio(initial_cash, costs)
    start_equity = initial_cash
    per_order: dict[str, list[int]] = defaultdict(list)
    first_ts: dict[str, tuple[str, int, int]] = {}
    count = 0
    for f in fills:
        if f.ts_ns >= end_ns:
            break
        if seoul_date(f.ts_ns) == day and count == 0:
            # Equity at the day's first fill, valued at cost: the day starts from here.
            start_equity = book.cash + sum(int(p.qty * p.avg_price) for p in book.positions.values())
        result = book.apply_fill(f.symbol, f.side, f.qty, f.price, f.commission, f.tax, f.ts_ns)
        if seoul_date(f.ts_ns) == day:
            count += 1
            if f.side == Side.SELL:
                per_order[f.client_order_id].append(result.realized_pnl)
                symbol, qty, ts = first_ts.get(f.client_order_id, (f.symbol, 0, f.ts_ns))
                first_ts[f.client_order_id] = (symbol, qty + f.qty, ts)
    today = book.today if book.today.day == day else None
    book.last = dict(marks)
    trades = [Trade(first_ts[o][0], first_ts[o][1], sum(r), first_ts[o][2]) for o, r in per_order.items()]
    points = list(equity_points)
    end_equity = points[-1][1] if points else book.equity()
    if points:
        start_equity = points[0][1]
    return DailyReport(
        day=day,
        realized_gross=today.realized_gross if today else 0,
        commission=today.commission if today else 0,
        tax=today.tax if today else 0,
        realized_net=today.realized_net if today else 0,
        unrealized=book.total_unrealized(),
        fills=count,
        trades=trades,
        max_drawdown=max_drawdown(points),
        start_equity=start_equity,
        end_equity=end_equity,
        equity_points=points,
        alerts=alerts,
        halts=halts,
    )
