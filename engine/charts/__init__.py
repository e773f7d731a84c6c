"""PNG charts for Discord (equity curve, candles) and the tick-to-bar aggregator feeding them.

In the engine process, render through ChartWorker: it renders in a child process, so the event
loop keeps its latency (see engine/charts/worker.py for why a thread does not). The renderers
themselves are pure and use no pyplot state, so they are also safe in worker threads and tests.

They are loaded lazily: importing this package for BarSeries or ChartWorker does not import
matplotlib (about 0.4 s and 55 MB), which only the child process needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.charts.bars import BarSeries, resample
from engine.charts.model import Bar, Marker
from engine.charts.worker import ChartWorker, ChartWorkerError

if TYPE_CHECKING:
    from engine.charts.candles import render_candles
    from engine.charts.equity import render_equity_curve

__all__ = [
    "Bar",
    "BarSeries",
    "ChartWorker",
    "ChartWorkerError",
    "Marker",
    "render_candles",
    "render_equity_curve",
    "resample",
]


def __getattr__(name: str) -> object:
    if name == "render_candles":
        from engine.charts.candles import render_candles

        return render_candles
    if name == "render_equity_curve":
        from engine.charts.equity import render_equity_curve

        return render_equity_curve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
