from __future__ import annotations

import asyncio
import os
import time

import pytest

from engine.charts import ChartWorker, ChartWorkerError, Marker, render_candles, render_equity_curve

from .helpers import decode, equity_points, markers_for, random_bars


async def test_worker_renders_what_the_renderers_render_and_stops_its_child() -> None:
    bars = random_bars(100)
    points = equity_points(100)
    worker = ChartWorker()
    await worker.start()
    pid = worker.pid
    assert pid is not None and pid != os.getpid()
    assert await worker.render_candles(bars, markers_for(bars), "005930 1m") == \
        render_candles(bars, markers_for(bars), "005930 1m")
    assert await worker.render_equity_curve(points, "Equity") == render_equity_curve(points, "Equity")
    decode(await worker.render_candles([], [], "empty"))
    await worker.close()
    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_rendering_never_stalls_the_event_loop() -> None:
    bars = random_bars(400)
    markers = markers_for(bars)
    points = equity_points(390)
    lateness: list[float] = []
    done = False

    async def sampler() -> None:
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append(time.perf_counter() - start - 0.001)

    async with ChartWorker() as worker:
        task = asyncio.create_task(sampler())
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        pngs = []
        for _ in range(3):
            pngs.append(await worker.render_candles(bars, markers, "005930 삼성전자 1m"))
            pngs.append(await worker.render_equity_curve(points, "Equity"))
        elapsed = time.perf_counter() - started
        done = True
        await task
    for png in pngs:  # decoded only now: decoding on the loop would itself stall the sampler
        decode(png)
    assert len(lateness) > 50 * elapsed  # the sampler really ran alongside the renders
    assert max(lateness) < 0.010, f"loop stalled {max(lateness) * 1000:.1f} ms while rendering"


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
        await asyncio.sleep(0.05)
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
