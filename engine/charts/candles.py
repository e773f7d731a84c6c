"""Candlestick chart with volume and the bot's own fills, as PNG bytes."""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from numpy.typing import ArrayLike

from engine.charts import _style as st
from engine.charts.model import Bar, Marker

__all__ = ["Bar", "Marker", "render_candles", "time_labels"]

_BODY_WIDTH = 0.7
_LONG_GAP_NS = 3600 * 1_000_000_000


def render_candles(bars: Sequence[Bar], markers: Sequence[Marker], title: str) -> bytes:
    """Candles (rising red, falling blue) over a volume panel, with buy/sell markers.

    Bars are drawn one slot each in time order, so gaps between them (halts, overnight) take no
    room. A marker goes on the bar whose interval holds its time; markers outside the bars are
    left out.
    """
    if not bars:
        return st.empty_chart(title, "no trades recorded yet")

    ordered = sorted(bars, key=lambda b: b.start_ns)
    n = len(ordered)
    data = np.array([(b.open, b.high, b.low, b.close, b.volume) for b in ordered], dtype=np.float64)
    o, h, lo, c, vol = data.T
    x = np.arange(n, dtype=np.float64)
    colours = np.where(c > o, st.UP, np.where(c < o, st.DOWN, st.FLAT))

    fig = st.new_figure()
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
    ax = fig.add_subplot(grid[0])
    ax_vol = fig.add_subplot(grid[1], sharex=ax)
    st.style_axes(ax)
    st.style_axes(ax_vol)

    # Collections rather than one patch per bar: one artist each keeps a 400-bar chart fast.
    # They take 3-D arrays directly (their fast path); the stubs only admit sequences, hence casts.
    wicks = np.stack([np.column_stack([x, lo]), np.column_stack([x, h])], axis=1)
    ax.add_collection(
        LineCollection(cast("Sequence[ArrayLike]", wicks), colors=colours, linewidths=1.0, zorder=2)
    )
    half = _BODY_WIDTH / 2
    # A doji has a zero-height body: only its edge shows, which is why edges carry the colour too.
    bodies = _rects(x, half, np.minimum(o, c), np.maximum(o, c))
    ax.add_collection(
        PolyCollection(
            cast("Sequence[ArrayLike]", bodies),
            facecolors=colours,
            edgecolors=colours,
            linewidths=0.8,
            zorder=3,
        )
    )
    volumes = _rects(x, half, np.zeros(n), vol)
    ax_vol.add_collection(
        PolyCollection(cast("Sequence[ArrayLike]", volumes), facecolors=colours, edgecolors="none", alpha=0.6)
    )

    _draw_markers(ax, ordered, markers)

    # Room past the end bars so a marker on the first or last bar is not cut in half.
    pad = max(1.0, n * 0.015)
    ax.set_xlim(-pad, n - 1 + pad)
    ax.autoscale_view(scalex=False)
    ax_vol.set_ylim(0, max(float(vol.max()), 1.0) * 1.1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: st.krw(v)))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax_vol.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: st.compact(v)))
    ax_vol.yaxis.set_major_locator(MaxNLocator(nbins=2))
    ax.tick_params(labelbottom=False)

    labels = time_labels([b.start_ns for b in ordered])
    ax_vol.xaxis.set_major_locator(FixedLocator(list(labels)))
    ax_vol.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: labels.get(round(v), "")))

    first, last = ordered[0], ordered[-1]
    change = last.close - first.open
    st.set_title(fig, title)
    pct = f" ({change / first.open:+.2%})" if first.open else ""
    ax.set_title(
        f"{st.krw(last.close)}  {st.signed_krw(change)}{pct}",
        loc="right",
        fontsize=st.TEXT_SIZE,
        color=st.pnl_colour(change),
        parse_math=False,
    )
    return st.to_png(fig)


def time_labels(starts: Sequence[int]) -> dict[int, str]:
    """Bar index -> Seoul time label for the x axis of bars starting at starts (ascending).

    Most telling first: where trading resumes after a long gap (next day, a halt), then round
    times (each on the first bar at or after it), then the first bar if no label is near it.
    A label too close to one already chosen would overlap it and is dropped.
    """
    n = len(starts)
    if not n:
        return {}
    interval_ns = _bar_interval(starts)
    shown_s = n * interval_ns // 1_000_000_000 if interval_ns else None
    ticks, fmt = st.time_ticks(starts[0], starts[-1], shown_s=shown_s)
    resumes = [i for i in range(1, n) if starts[i] - starts[i - 1] > _LONG_GAP_NS]
    rounds = sorted({i for i in (bisect_left(starts, t) for t in ticks) if i < n})
    min_gap = max(n // 10, 1)
    chosen: list[int] = []
    for i in itertools.chain(resumes, rounds, [0]):
        if all(abs(i - p) >= min_gap for p in chosen):
            chosen.append(i)
    return {i: st.seoul(starts[i]).strftime(fmt) for i in sorted(chosen)}


def _bar_interval(starts: Sequence[int]) -> int:
    """Bars carry no interval; the smallest spacing between them is the best guess (0 if unknown)."""
    return min((b - a for a, b in itertools.pairwise(starts) if b > a), default=0)


def _rects(x: np.ndarray, half: float, bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    left = x - half
    right = x + half
    return np.stack(
        [np.column_stack(p) for p in ((left, bottom), (left, top), (right, top), (right, bottom))], axis=1
    )


def _draw_markers(ax: Axes, bars: Sequence[Bar], markers: Sequence[Marker]) -> None:
    if not markers:
        return
    starts = [b.start_ns for b in bars]
    interval_ns = _bar_interval(starts)
    last_end = starts[-1] + interval_ns if interval_ns else None
    points: dict[str, tuple[list[int], list[int]]] = {"buy": ([], []), "sell": ([], [])}
    for m in markers:
        i = bisect_right(starts, m.ts_ns) - 1
        if i < 0 or (last_end is not None and m.ts_ns >= last_end):
            continue
        xs, ys = points[m.side]
        xs.append(i)
        ys.append(m.price)
    for side, marker, colour in (("buy", "^", st.UP), ("sell", "v", st.DOWN)):
        xs, ys = points[side]
        if xs:
            # Black edges keep the markers distinct from candles of the same colour.
            ax.scatter(xs, ys, marker=marker, s=170, c=colour, edgecolors=st.INK, linewidths=1.4, zorder=5)
