"""PNG charts for Discord (equity curve, candles) and the tick-to-bar aggregator feeding them.

The renderers are pure and use no pyplot state, so they can run concurrently in worker threads:
call them through asyncio.to_thread, never on the event loop.
"""

from engine.charts.bars import Bar, BarSeries, resample
from engine.charts.candles import Marker, render_candles
from engine.charts.equity import render_equity_curve

__all__ = ["Bar", "BarSeries", "Marker", "render_candles", "render_equity_curve", "resample"]
