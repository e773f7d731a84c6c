from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from engine.charts import Bar, Marker, render_candles, render_equity_curve
from engine.charts._style import time_ticks
from engine.charts.candles import time_labels

from .helpers import (
    BLUE,
    NS,
    OPEN_NS,
    RED,
    count_near,
    decode,
    distinct_colours,
    equity_points,
    markers_for,
    random_bars,
)


def assert_phone_sized_and_drawn(png: bytes) -> None:
    pixels = decode(png)
    height, width, _ = pixels.shape
    assert width >= 800 and height >= 480
    assert distinct_colours(pixels) > 50  # anti-aliased text and lines, not a blank canvas


def test_candles_show_rising_red_and_falling_blue() -> None:
    bars = random_bars(120)
    assert any(b.close > b.open for b in bars) and any(b.close < b.open for b in bars)
    pixels = decode(render_candles(bars, markers_for(bars), "005930 1m"))
    assert pixels.shape[1] >= 800 and pixels.shape[0] >= 480
    assert distinct_colours(pixels) > 50
    assert count_near(pixels, RED) > 500 and count_near(pixels, BLUE) > 500


def test_only_rising_candles_draw_no_blue() -> None:
    bars = [Bar(OPEN_NS + i * 60 * NS, 100 + i, 102 + i, 99 + i, 101 + i, 10) for i in range(30)]
    pixels = decode(render_candles(bars, [], "up only"))
    assert count_near(pixels, RED) > 500 and count_near(pixels, BLUE) == 0


def test_buy_and_sell_markers_are_drawn() -> None:
    bars = [Bar(OPEN_NS + i * 60 * NS, 100, 102, 98, 100, 10) for i in range(30)]  # flat: grey only
    plain = decode(render_candles(bars, [], "flat"))
    assert count_near(plain, RED) == 0 and count_near(plain, BLUE) == 0
    marked = decode(
        render_candles(
            bars,
            [Marker(bars[5].start_ns, 101, "buy"), Marker(bars[20].start_ns + 30 * NS, 99, "sell")],
            "flat",
        )
    )
    assert count_near(marked, RED) > 50 and count_near(marked, BLUE) > 50


def test_markers_outside_the_bars_are_left_out() -> None:
    bars = random_bars(30)
    outside = [
        Marker(bars[0].start_ns - 60 * NS, 71_000, "buy"),
        Marker(bars[-1].start_ns + 3600 * NS, 71_000, "sell"),
    ]
    assert render_candles(bars, outside, "t") == render_candles(bars, [], "t")


def test_a_marker_side_must_be_buy_or_sell() -> None:
    with pytest.raises(ValueError):
        Marker(OPEN_NS, 100, "short")


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # no Korean font on this machine
def test_single_bar_multi_day_and_hangul_titles_render() -> None:
    assert_phone_sized_and_drawn(render_candles(random_bars(1), [], "one bar"))
    two_days = random_bars(50) + random_bars(50, start_ns=OPEN_NS + 86_400 * NS)
    assert_phone_sized_and_drawn(render_candles(two_days, markers_for(two_days), "005930 삼성전자 $5m"))


def test_empty_inputs_still_give_valid_pngs() -> None:
    assert_phone_sized_and_drawn(render_candles([], [], "005930 1m"))
    assert_phone_sized_and_drawn(render_equity_curve([], "equity"))
    assert_phone_sized_and_drawn(render_equity_curve([(OPEN_NS, 10_000_000)], "equity"))


def test_equity_curve_is_drawn_and_coloured_by_result() -> None:
    gain = equity_points(390)
    pixels = decode(render_equity_curve(gain, "Equity 2024-05-13"))
    assert pixels.shape[1] >= 800 and pixels.shape[0] >= 480
    assert distinct_colours(pixels) > 50
    assert count_near(pixels, RED, 20) > 100  # a day ending up: red P&L text and shading
    loss = [(t, 20_000_000 - e) for t, e in gain]
    assert count_near(decode(render_equity_curve(loss, "Equity")), BLUE, 20) > 100


def test_equity_points_out_of_order_and_flat_days_render() -> None:
    points = equity_points(50)
    assert render_equity_curve(points[::-1], "e") == render_equity_curve(points, "e")
    flat = [(OPEN_NS + i * NS, 5_000_000) for i in range(10)]
    assert_phone_sized_and_drawn(render_equity_curve(flat, "flat"))
    assert_phone_sized_and_drawn(render_equity_curve([(OPEN_NS, 1), (OPEN_NS, 2)], "same instant"))


def test_concurrent_renders_in_threads_match_sequential_ones() -> None:
    # No pyplot or rcParams state: four charts drawn at once must not disturb one another.
    jobs: list[Callable[[], bytes]] = [
        partial(render_candles, random_bars(200, seed=s), [], f"c{s}") for s in (1, 2)
    ]
    jobs += [partial(render_equity_curve, equity_points(300, seed=s), f"e{s}") for s in (1, 2)]
    expected = [job() for job in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = [f.result() for f in [pool.submit(job) for job in jobs]]
    assert got == expected


async def test_renderers_run_in_asyncio_to_thread() -> None:
    png = await asyncio.to_thread(render_candles, random_bars(50), [], "t")
    assert_phone_sized_and_drawn(png)


def test_candle_time_labels_fall_on_round_times_and_where_trading_resumes() -> None:
    day = [b.start_ns for b in random_bars(390)]
    assert time_labels(day) == {i * 60: f"{9 + i:02d}:00" for i in range(7)}
    late_start = [b.start_ns for b in random_bars(400, start_ns=OPEN_NS + 7 * 60 * NS)]
    assert list(time_labels(late_start).items())[:2] == [(0, "09:07"), (53, "10:00")]
    two_days = [b.start_ns for b in random_bars(50) + random_bars(50, start_ns=OPEN_NS + 86_400 * NS)]
    labels = time_labels(two_days)
    assert labels[0] == "05-13 09:00" and labels[50] == "05-14 09:00"
    assert all(b - a >= 10 for a, b in itertools.pairwise(labels))  # no overlapping labels
    assert time_labels([]) == {} and time_labels([OPEN_NS]) == {0: "09:00"}


def test_equity_time_ticks_are_round_seoul_hours_over_a_session() -> None:
    ticks, fmt = time_ticks(OPEN_NS, OPEN_NS + 390 * 60 * NS)
    assert fmt == "%H:%M"
    assert ticks == [OPEN_NS + h * 3600 * NS for h in range(7)]
