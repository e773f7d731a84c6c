from __future__ import annotations

import asyncio
import os

import pytest

from engine.charts import ChartWorker, ChartWorkerError, Marker, render_candles, render_equity_curve
from tests.conftest import eventually

from .helpers import decode, equity_points, markers_for, random_bars


async def test_worker_renders_what_the_renderers_render_and_stops_its_child() -> None:
    bars = random_bars(100)
    points = equity_points(100)
    worker = ChartWorker()
    await worker.start()
    pid = worker.pid
    assert pid is not None and pid != os.getpid()
    assert await worker.render_candles(bars, markers_for(bars), "005930 1m") == render_candles(
        bars, markers_for(bars), "005930 1m"
    )
    assert await worker.render_equity_curve(points, "Equity") == render_equity_curve(points, "Equity")
    decode(await worker.render_candles([], [], "empty"))
    await worker.close()
    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_renders_are_awaited_while_the_loop_runs_other_work() -> None:
    # How late the loop runs while charts render is a benchmark figure, not a test:
    # `python -m engine.bench --only chart_render` (loop_lag_ms_max, loop_lag_ms_p99).
    bars = random_bars(400)
    markers = markers_for(bars)
    points = equity_points(390)
    pngs = []
    async with ChartWorker() as worker:
        for _ in range(3):
            for render in (
                lambda: worker.render_candles(bars, markers, "005930 삼성전자 1m"),
                lambda: worker.render_equity_curve(points, "Equity"),
            ):
                task = asyncio.create_task(render())
                turns = 0
                while not task.done():
                    await asyncio.sleep(0)
                    turns += 1
                # A render done on the loop would finish within the task's first step.
                assert turns > 1, "the render never gave the loop back"
                pngs.append(await task)
    for png in pngs:
        decode(png)


async def test_a_render_error_is_reported_and_the_worker_carries_on() -> None:
    bad = Marker(random_bars(1)[0].start_ns, 71_000, "buy")
    object.__setattr__(bad, "side", "short")  # past the parent's check, so the child refuses it
    async with ChartWorker() as worker:
        pid = worker.pid
        with pytest.raises(ChartWorkerError, match="ValueError"):
            await worker.render_candles(random_bars(5), [bad], "t")
        assert worker.pid == pid
        decode(await worker.render_candles(random_bars(5), [], "t"))


async def test_a_dead_timed_out_or_cancelled_child_is_replaced() -> None:
    async with ChartWorker() as worker:
        first = worker.pid
        assert first is not None
        os.kill(first, 9)
        await eventually(lambda: worker.pid is None, 10, "the killed child reaped")
        decode(await worker.render_equity_curve(equity_points(10), "after a kill"))
        second = worker.pid
        assert second not in (None, first)

        worker.render_timeout = 0.001
        with pytest.raises(ChartWorkerError, match="took over"):
            await worker.render_candles(random_bars(400), [], "too slow")
        assert worker.pid is None
        worker.render_timeout = 30.0

        task = asyncio.create_task(worker.render_candles(random_bars(400), [], "cancelled"))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert worker.pid is None
        decode(await worker.render_candles(random_bars(20), [], "fresh child"))
        assert worker.pid not in (None, first, second)
