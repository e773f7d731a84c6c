"""Intraday equity curve as PNG bytes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter

from engine.charts import _style as st

__all__ = ["render_equity_curve"]

_NS = 1_000_000_000


def render_equity_curve(points: Sequence[tuple[int, int]], title: str) -> bytes:
    """Equity over time from (ts_ns, equity KRW) points, against the first point's equity.

    Shows the starting level as a dashed line, the largest peak-to-trough drawdown shaded, and
    the final P&L (red gain, blue loss, the Korean convention) above the plot. With fewer than
    two points there is no curve to draw, so the PNG just says so.
    """
    if len(points) < 2:
        message = "no data yet"
        if points:
            message += f"\nequity {st.krw(points[0][1])} KRW"
        return st.empty_chart(title, message)

    pts = sorted(points) if any(a[0] > b[0] for a, b in itertools.pairwise(points)) else points
    ts = np.fromiter((p[0] for p in pts), dtype=np.int64, count=len(pts))
    eq = np.fromiter((p[1] for p in pts), dtype=np.float64, count=len(pts))
    # x in seconds relative to the first point: epoch nanoseconds as float64 would lose precision.
    x = (ts - ts[0]) / _NS

    start = float(eq[0])
    final = float(eq[-1])
    pnl = final - start

    fig = st.new_figure()
    st.set_title(fig, title)
    ax = fig.add_subplot()
    st.style_axes(ax)

    ax.axhline(start, color=st.FLAT, linestyle="--", linewidth=1.5, zorder=2)
    ax.fill_between(x, eq, start, where=eq >= start, interpolate=True, color=st.UP, alpha=0.12, linewidth=0)
    ax.fill_between(x, eq, start, where=eq <= start, interpolate=True, color=st.DOWN, alpha=0.12, linewidth=0)
    ax.plot(x, eq, color=st.INK, linewidth=2.2, zorder=3)
    ax.plot(x[-1:], eq[-1:], marker="o", markersize=8, color=st.pnl_colour(pnl), zorder=4)

    peak_i, trough_i, drawdown = _max_drawdown(eq)
    if drawdown > 0:
        ax.axvspan(x[peak_i], x[trough_i], color="#888888", alpha=0.18, linewidth=0, zorder=1)
        peak = float(eq[peak_i])
        # Above the plot rather than inside it, where it would cover part of the curve.
        ax.set_title(
            f"max drawdown {st.signed_krw(-drawdown)} ({-drawdown / peak:+.2%})",
            loc="left",
            fontsize=st.TEXT_SIZE - 2,
            color=st.FLAT,
            parse_math=False,
        )

    pct = f" ({pnl / start:+.2%})" if start else ""
    ax.set_title(
        f"{st.krw(final)}   P&L {st.signed_krw(pnl)}{pct}",
        loc="right",
        fontsize=st.TEXT_SIZE,
        color=st.pnl_colour(pnl),
        fontweight="bold",
        parse_math=False,
    )

    t0 = int(ts[0])
    ticks, fmt = st.time_ticks(t0, int(ts[-1]))
    ax.xaxis.set_major_locator(FixedLocator([(t - t0) / _NS for t in ticks]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: st.seoul(t0 + round(v * _NS)).strftime(fmt)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: st.krw(v)))
    ax.margins(x=0.01)
    return st.to_png(fig)


def _max_drawdown(eq: np.ndarray) -> tuple[int, int, float]:
    """(peak index, trough index, depth) of the largest fall from a running high."""
    running_max = np.maximum.accumulate(eq)
    depth = running_max - eq
    trough = int(np.argmax(depth))
    if depth[trough] <= 0:
        return 0, 0, 0.0
    # The last time the peak was touched before the trough: the tightest interval to shade.
    peak = int(np.flatnonzero(eq[: trough + 1] == running_max[trough])[-1])
    return peak, trough, float(depth[trough])
