from __future__ import annotations

import itertools
import math

import pytest

from engine.krx.prices import daily_limits, is_on_tick
from engine.krx.universe import BY_CODE
from engine.sim.config import SimConfig
from engine.sim.market import Market
from engine.sim.protocol import TickRow


def _run(market: Market, steps: int, dt: float = 0.05) -> list[TickRow]:
    rows: list[TickRow] = []
    for _ in range(steps):
        rows.extend(market.advance(dt, now_ns=0))
    return rows


def test_walk_stays_on_grid_and_inside_limits() -> None:
    market = Market.from_config(SimConfig(tick_rate=50.0))
    rows = _run(market, 2_000)  # 100 s of tape, ~150,000 trades
    assert len(rows) > 100_000
    for code in market.codes:
        st = market.state(code)
        limits = daily_limits(BY_CODE[code].prev_close)
        assert limits.lower <= st.low <= st.open <= st.high <= limits.upper
    volume: dict[str, int] = {}
    for row in rows:
        assert is_on_tick(row.price), row
        assert daily_limits(BY_CODE[row.symbol].prev_close).contains(row.price), row
        assert row.qty >= 1
        assert row.side in (1, -1)
        volume[row.symbol] = volume.get(row.symbol, 0) + row.qty
        assert row.volume == volume[row.symbol]


def test_extreme_volatility_is_clamped_to_the_limits() -> None:
    market = Market(("005930", "001510"), seed=1, trade_rate=100.0, volatility_bp=500.0)
    rows = _run(market, 400)
    for code in market.codes:
        limits = daily_limits(BY_CODE[code].prev_close)
        prices = [r.price for r in rows if r.symbol == code]
        assert all(limits.lower <= p <= limits.upper and is_on_tick(p) for p in prices)
        # At 5% per trade the walk reaches both limits.
        assert max(prices) == limits.upper and min(prices) == limits.lower


def test_same_seed_same_tape_different_seed_different_tape() -> None:
    def prices(seed: int, dt: float) -> list[tuple[str, int, int, int]]:
        market = Market.from_config(SimConfig(seed=seed, tick_rate=20.0))
        steps = round(20.0 / dt)
        return sorted((r.symbol, r.volume, r.price, r.qty) for r in _run(market, steps, dt))

    a = prices(7, 0.05)
    assert a == prices(7, 0.05)
    # The tape is a function of the seed, not of how the caller slices time.
    assert a == prices(7, 0.01)
    assert a != prices(8, 0.05)


def test_open_gap_and_side_follow_the_price() -> None:
    market = Market.from_config(SimConfig())
    for code in market.codes:
        prev = BY_CODE[code].prev_close
        gap = market.state(code).open / prev - 1
        # The gap is drawn in -2%..+3%, then rounded to a tick.
        assert -0.021 - 1 / prev <= gap <= 0.031, (code, gap)
    last = {code: market.state(code).last for code in market.codes}
    for row in _run(market, 200, 0.5):
        if row.price > last[row.symbol]:
            assert row.side == 1
        elif row.price < last[row.symbol]:
            assert row.side == -1
        last[row.symbol] = row.price


def test_per_trade_volatility_and_mean_reversion() -> None:
    market = Market.from_config(SimConfig(tick_rate=50.0, symbols=("005930", "068270")))
    rows = _run(market, 4_000, 0.5)  # ~200,000 trades per symbol: hours at a normal rate
    for code in market.codes:
        prices = [r.price for r in rows if r.symbol == code]
        rets = [math.log(b / a) for a, b in itertools.pairwise(prices)]
        std_bp = math.sqrt(sum(r * r for r in rets) / len(rets)) * 10_000
        # Rounding to ticks adds some noise on top of the 8 bp of the walk.
        assert 6.0 < std_bp < 14.0, (code, std_bp)
        prev = BY_CODE[code].prev_close
        assert max(abs(p / prev - 1) for p in prices) < 0.2


def test_advance_rejects_negative_time() -> None:
    with pytest.raises(ValueError, match="dt"):
        Market.from_config(SimConfig()).advance(-1.0)


def test_volume_surges_change_trade_sizes_only() -> None:
    def tape(surge_s: float) -> list[TickRow]:
        market = Market(("005930", "000660"), seed=3, trade_rate=50.0, volatility_bp=8.0, surge_s=surge_s)
        return _run(market, 400)  # 20 s

    calm, surging = tape(3_600.0), tape(1.0)
    # Same trades at the same prices: a surge draws from its own stream.
    assert [(r.symbol, r.price, r.side) for r in calm] == [(r.symbol, r.price, r.side) for r in surging]
    # With 1 s surges every ~6 s, some trades are several times their calm size.
    ratios = sorted(b.qty / a.qty for a, b in zip(calm, surging, strict=True) if a.qty >= 20)
    assert ratios[0] == 1.0 and ratios[-1] >= 4.0
    assert sum(b.qty for b in surging) > 1.2 * sum(a.qty for a in calm)
