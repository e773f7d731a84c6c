from __future__ import annotations

import pytest

from engine.charts import Bar, BarSeries, resample

from .helpers import NS, OPEN_NS

MIN = 60 * NS


def test_ticks_become_per_minute_ohlcv_bars() -> None:
    s = BarSeries(60)
    assert s.bars() == [] and len(s) == 0
    for offset_s, price, qty in [
        (0, 100, 1),
        (10, 105, 2),
        (20, 98, 3),
        (59, 101, 4),
        (60, 102, 5),
        (61, 99, 1),
        (119, 104, 2),
    ]:
        s.add(OPEN_NS + offset_s * NS, price, qty)
    assert s.bars() == [Bar(OPEN_NS, 100, 105, 98, 101, 10), Bar(OPEN_NS + MIN, 102, 104, 99, 104, 8)]


def test_the_forming_bar_is_included_and_keeps_updating() -> None:
    s = BarSeries(60)
    s.add(OPEN_NS + 5 * NS, 100, 1)
    assert s.bars() == [Bar(OPEN_NS, 100, 100, 100, 100, 1)]
    s.add(OPEN_NS + 6 * NS, 90, 2)
    assert s.bars() == [Bar(OPEN_NS, 100, 100, 90, 90, 3)]


def test_bars_start_on_interval_boundaries() -> None:
    s = BarSeries(300)
    s.add(OPEN_NS + 7 * MIN + 3 * NS, 100, 1)  # 09:07:03 belongs to the 09:05 bar
    assert s.bars()[0].start_ns == OPEN_NS + 5 * MIN


def test_minutes_without_trades_make_no_bars() -> None:
    s = BarSeries(60)
    s.add(OPEN_NS, 100, 1)
    s.add(OPEN_NS + 5 * MIN + NS, 110, 2)  # 09:05:01, after four silent minutes
    assert s.bars() == [Bar(OPEN_NS, 100, 100, 100, 100, 1), Bar(OPEN_NS + 5 * MIN, 110, 110, 110, 110, 2)]


def test_maxlen_keeps_the_newest_bars_including_the_forming_one() -> None:
    s = BarSeries(60, maxlen=3)
    for i in range(10):
        s.add(OPEN_NS + i * MIN, 100 + i, 1)
    assert [b.open for b in s.bars()] == [107, 108, 109]
    assert len(s) == 3
    one = BarSeries(60, maxlen=1)
    one.add(OPEN_NS, 1, 1)
    one.add(OPEN_NS + MIN, 2, 1)
    assert one.bars() == [Bar(OPEN_NS + MIN, 2, 2, 2, 2, 1)]


def test_a_late_tick_counts_in_the_current_bar_without_moving_its_close() -> None:
    s = BarSeries(60)
    s.add(OPEN_NS + 30 * NS, 100, 1)
    s.add(OPEN_NS + MIN + NS, 101, 1)
    s.add(OPEN_NS + 59 * NS, 95, 4)  # delivered after the rollover
    assert s.bars() == [Bar(OPEN_NS, 100, 100, 100, 100, 1), Bar(OPEN_NS + MIN, 101, 101, 95, 101, 5)]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        BarSeries(0)
    with pytest.raises(ValueError):
        BarSeries(60, maxlen=0)
    with pytest.raises(ValueError):
        resample([], 0)


def test_resample_one_minute_into_five_minute_bars() -> None:
    ones = [Bar(OPEN_NS + i * MIN, 100 + i, 110 + i, 90 - i, 101 + i, 10 * (i + 1)) for i in range(12)]
    fives = resample(ones, 300)
    assert fives == [
        Bar(OPEN_NS, 100, 114, 86, 105, 10 + 20 + 30 + 40 + 50),
        Bar(OPEN_NS + 5 * MIN, 105, 119, 81, 110, 60 + 70 + 80 + 90 + 100),
        Bar(OPEN_NS + 10 * MIN, 110, 121, 79, 112, 110 + 120),
    ]
    assert resample(ones, 60) == ones
    assert resample([], 300) == []


def test_resample_skips_gaps_and_aligns_to_the_interval() -> None:
    ones = [
        Bar(OPEN_NS + 3 * MIN, 1, 2, 1, 2, 1),
        Bar(OPEN_NS + 4 * MIN, 2, 3, 2, 3, 1),
        Bar(OPEN_NS + 21 * MIN, 5, 5, 4, 4, 7),
    ]
    assert resample(ones, 300) == [Bar(OPEN_NS, 1, 3, 1, 3, 2), Bar(OPEN_NS + 20 * MIN, 5, 5, 4, 4, 7)]


def test_resample_refuses_bars_out_of_order() -> None:
    with pytest.raises(ValueError):
        resample([Bar(OPEN_NS + 10 * MIN, 1, 1, 1, 1, 1), Bar(OPEN_NS, 1, 1, 1, 1, 1)], 300)


def test_resample_matches_aggregating_the_ticks_directly() -> None:
    ones, fives = BarSeries(60), BarSeries(300)
    price = 50_000
    for i in range(2_000):
        price += (i * 7919) % 11 * 10 - 50
        ts = OPEN_NS + i * 3 * NS + (i % 3) * 100
        ones.add(ts, price, 1 + i % 4)
        fives.add(ts, price, 1 + i % 4)
    assert resample(ones.bars(), 300) == fives.bars()
