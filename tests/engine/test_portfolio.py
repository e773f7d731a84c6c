from __future__ import annotations

import time

from engine.krx.costs import CostModel
from engine.portfolio import Portfolio


def test_round_trip_cash_and_pnl() -> None:
    p = Portfolio(10_000_000, CostModel(0.00015))
    now = time.time_ns()
    p.apply_fill("005930", "buy", 10, 97_600, 146, 0, now)
    p.apply_fill("005930", "buy", 10, 97_800, 146, 0, now)
    assert p.qty("005930") == 20 and p.positions["005930"].avg_price == 97_700
    result = p.apply_fill("005930", "sell", 20, 98_700, 296, 3_948, now)
    assert result.position_qty == 0 and "005930" not in p.positions
    assert result.realized_pnl == 20 * 1_000 - 296 - 3_948
    assert p.cash == 10_000_000 - 976_000 - 146 - 978_000 - 146 + 1_974_000 - 296 - 3_948
    assert p.today.realized_net == 20_000 - 146 - 146 - 296 - 3_948
    assert p.today.trades == 3


def test_reservations_hold_cash_and_shares() -> None:
    p = Portfolio(1_000_000, CostModel(0.0))
    p.reserve("a", "005930", "buy", 5, 100_000)
    assert p.available_cash() == 500_000
    assert p.open_position_count() == 1 and p.holds_or_buying("005930")
    p.on_order_progress("a", 2)
    assert p.available_cash() == 800_000
    p.release("a")
    assert p.available_cash() == 1_000_000
    p.apply_fill("000660", "buy", 1, 500_000, 0, 0, time.time_ns())
    p.reserve("b", "000660", "sell", 1, 0)
    assert p.sellable("000660") == 0
