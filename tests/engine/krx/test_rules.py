from __future__ import annotations

from datetime import date

import pytest

from engine.krx.codes import InvalidSymbol, normalize_symbol
from engine.krx.costs import CostModel, Market, sell_tax_rate
from engine.krx.prices import (
    DailyLimits,
    check_limit_price,
    daily_limits,
    is_on_tick,
    nearest_valid,
    next_down,
    next_up,
    tick_size,
)


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (1, 1),
        (1_999, 1),
        (2_000, 5),
        (4_995, 5),
        (5_000, 10),
        (19_990, 10),
        (20_000, 50),
        (49_950, 50),
        (50_000, 100),
        (199_900, 100),
        (200_000, 500),
        (499_500, 500),
        (500_000, 1_000),
        (1_052_000, 1_000),
    ],
)
def test_tick_table(price: int, tick: int) -> None:
    assert tick_size(price) == tick
    assert is_on_tick(price)


def test_steps_cross_band_boundaries() -> None:
    assert next_up(1_999) == 2_000 and next_up(2_000) == 2_005
    assert next_down(2_000) == 1_999 and next_down(50_000) == 49_950
    assert nearest_valid(97_650) == (97_600, 97_700)
    assert nearest_valid(2_003) == (2_000, 2_005)


def test_daily_limits_round_inward_to_the_grid() -> None:
    assert daily_limits(97_600) == daily_limits(97_600)
    limits = daily_limits(97_600)
    assert (limits.lower, limits.upper) == (68_400, 126_800)  # 68,320 up, 126,880 down
    assert is_on_tick(limits.lower) and is_on_tick(limits.upper)
    assert daily_limits(612).upper == 795 and daily_limits(612).lower == 429


def test_daily_limits_follow_krx_three_steps() -> None:
    # KRX's worked example: 9,750 x 0.3 = 2,925, cut to the base's tick (10) = 2,920.
    assert daily_limits(9_750) == DailyLimits(6_830, 12_670)
    # Rounding base x 0.7 up to the grid gave 15,930 and 28,050 here.
    assert daily_limits(22_750).lower == 15_950
    assert daily_limits(40_030).lower == 28_000
    assert daily_limits(40_030).upper == 52_000


def test_orders_at_the_true_limit_pass_and_beyond_it_fail() -> None:
    assert check_limit_price(15_950, 22_750) is None
    beyond = check_limit_price(15_940, 22_750)
    assert beyond is not None and "15,950 to 29,550" in beyond


def test_fake_kis_limits_agree_with_the_engine() -> None:
    from tests.fakekrx import price_limits

    for base in range(1_000, 600_000, 37):
        limits = daily_limits(base)
        assert price_limits(base) == (limits.lower, limits.upper), base


def test_limit_price_messages_name_valid_prices() -> None:
    assert check_limit_price(97_700, 97_600) is None
    off = check_limit_price(97_650, 97_600)
    assert off is not None and "nearest valid prices are 97,600 and 97,700" in off
    out = check_limit_price(130_000, 97_600)
    assert out is not None and "valid prices are 68,400 to 126,800 KRW" in out


@pytest.mark.parametrize("raw", ["005930", "A005930", " 005930 ", "00088K0", "0088K0"])
def test_codes_accept_new_letter_codes(raw: str) -> None:
    if raw == "00088K0":
        with pytest.raises(InvalidSymbol):
            normalize_symbol(raw)
        return
    assert len(normalize_symbol(raw)) == 6


@pytest.mark.parametrize("raw", ["00593", "0059300", "00593I", "abcdef", ""])
def test_codes_refuse_with_the_format(raw: str) -> None:
    with pytest.raises(InvalidSymbol, match="expected 6 characters"):
        normalize_symbol(raw)


def test_costs() -> None:
    assert sell_tax_rate(Market.KOSPI, date(2025, 12, 31)) == 0.0015
    assert sell_tax_rate(Market.KOSPI, date(2026, 1, 2)) == 0.0020
    assert sell_tax_rate(Market.KOSDAQ, date(2026, 11, 20)) == 0.0020
    costs = CostModel(0.00015)
    assert costs.commission(1_000_000) == 150
    assert costs.sell_tax(1_000_000, Market.KOSPI, date(2026, 11, 20)) == 2_000
