"""Benchmarks of the engine's own machinery: subscription churn and memory, the order path, and
a burst of fills through the Discord publisher. Each returns a dict of numbers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.bench.loopback import LoopbackBroker, synthetic_code
from engine.brokers.base import BrokerOrder, OrderRequest
from engine.brokers.sim.config import SimSettings
from engine.config import EngineConfig
from engine.core import Engine
from engine.orders import OrderIntent
from engine.ordertypes import Side


class StallMeter:
    """The longest time the loop failed to wake a 1 ms sleeper (a stall)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.lags.append(time.perf_counter() - start - 0.001)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def worst_ms(self) -> float:
        return max(self.lags, default=0.0) * 1000

    def p99_ms(self) -> float:
        return percentile(self.lags, 99) * 1000


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def loopback_engine(symbols: int) -> AsyncIterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="tradecord-bench-") as tmp:
        engine = Engine(replace(EngineConfig(), data_dir=Path(tmp)), broker=LoopbackBroker(symbols))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.stop()


async def churn(cycles: int = 10_000) -> dict[str, Any]:
    """Subscribe-then-cancel cycles through the real task dictionary and the SQLite journal
    (broker round trips excluded: the loopback broker acks at once)."""
    async with loopback_engine(10_000) as engine:
        subs = engine.subscriptions
        meter = StallMeter()
        meter.start()
        start = time.perf_counter()
        for i in range(cycles):
            code = synthetic_code(i % 100)
            await subs.subscribe(code, "watch")
            await subs.cancel(code)
        await engine.journal.flush_subscriptions()  # counted until every change is on disk
        elapsed = time.perf_counter() - start
        await meter.stop()
        assert len(subs.tasks) == 0 and not engine.feed.mailboxes
        return {
            "name": "subscription_churn",
            "cycles": cycles,
            "seconds": round(elapsed, 3),
            "cycles_per_s": round(cycles / elapsed),
            "longest_stall_ms": round(meter.worst_ms(), 2),
            "target_seconds": 0.3,
            "target_stall_ms": 20,
        }


async def _idle(engine: Engine, count: int) -> None:
    for i in range(count):
        await engine.subscriptions.subscribe(synthetic_code(i), "watch")


async def _cancel_all(engine: Engine) -> None:
    for code in list(engine.subscriptions.tasks):
        await engine.subscriptions.cancel(code)
    await engine.journal.flush_subscriptions()


async def subscription_memory() -> dict[str, Any]:
    """Python heap per idle subscription (task, mailbox, strategy, record, bars), and whether
    the heap grows over repeated subscribe/cancel rounds."""
    out: dict[str, Any] = {"name": "subscription_memory"}
    async with loopback_engine(10_000) as engine:
        for count in (1_000, 10_000):
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            await _idle(engine, count)
            await engine.journal.flush_subscriptions()
            await asyncio.sleep(0.05)  # every task has run its first step
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            out[f"bytes_per_idle_subscription_{count}"] = round((after - before) / count)
            await _cancel_all(engine)
        rounds: list[int] = []
        tracemalloc.start()
        for _ in range(20):
            await _idle(engine, 1_000)
            await _cancel_all(engine)
            gc.collect()
            rounds.append(tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
        # The first rounds warm caches (interned strings, sqlite statement cache); growth is
        # what the last ten rounds add.
        out["heap_growth_last_10_rounds_bytes"] = rounds[-1] - rounds[9]
        out["heap_after_rounds"] = rounds
        out["target_bytes_per_subscription"] = 2048
    return out


async def _sim_process(extra: list[str]) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine.sim",
        "--port",
        "0",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    if "SIM LISTENING" not in line:
        proc.kill()
        raise RuntimeError(f"sim did not start: {line!r}")
    return proc, line.split()[-1]


async def order_path(orders: int = 2_000, concurrency: int = 32) -> dict[str, Any]:
    """Intents through risk checks, the SQLite journal (on disk) and HTTP to the sim exchange in
    another process; signal -> request leaving the process, per order."""
    proc, url = await _sim_process(["--rate", "1", "--cash", "100000000"])
    try:
        with tempfile.TemporaryDirectory(prefix="tradecord-bench-") as tmp:
            base = EngineConfig()
            cfg = replace(
                base,
                data_dir=Path(tmp),
                broker_settings=SimSettings(url=url, cash=100_000_000),
                risk=replace(base.risk, max_order_value=10**12, max_position_value=10**12),
            )
            engine = Engine(cfg)
            await engine.start()
            sent: dict[str, int] = {}
            place = engine.broker.place_order

            async def timed(request: OrderRequest) -> BrokerOrder:
                sent.setdefault(request.client_order_id, time.perf_counter_ns())
                return await place(request)

            engine.broker.place_order = timed  # type: ignore[method-assign]
            price = engine.instruments["001510"].lower_limit  # rests: no fills, no cash churn
            signal_at: dict[str, int] = {}
            gate = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with gate:
                    t = time.perf_counter_ns()
                    res = await engine.orders.submit(
                        OrderIntent(
                            "001510", Side.BUY, 1, price, "bench", "order path", f"bench-{i}", is_auto=True
                        )
                    )
                    assert res.order is not None and res.rejection is None, res.rejection
                    signal_at[res.order.client_order_id] = t

            # One signal at a time: the path's own latency (risk, journal commit, send).
            for i in range(200):
                await one(-1 - i)
            single = [(sent[c] - t) / 1e3 for c, t in signal_at.items()]
            signal_at.clear()
            # A burst: throughput, with the wait behind other orders included in the latency.
            meter = StallMeter()
            meter.start()
            start = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(orders)))
            elapsed = time.perf_counter() - start
            await meter.stop()
            waits = [(sent[c] - t) / 1e3 for c, t in signal_at.items()]
            journaled = len(await engine.journal.orders())
            await engine.stop()
    finally:
        proc.terminate()
        await proc.wait()
    return {
        "name": "order_path",
        "orders": orders,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "orders_per_s": round(orders / elapsed),
        "signal_to_sent_us_p50": round(statistics.median(single)),
        "signal_to_sent_us_p99": round(percentile(single, 99)),
        "signal_to_sent_us_max": round(max(single)),
        "burst_signal_to_sent_us_p50": round(statistics.median(waits)),
        "burst_signal_to_sent_us_p99": round(percentile(waits, 99)),
        "journaled": journaled,
        "loop_lag_ms_p99": round(meter.p99_ms(), 2),
        "target_orders_per_s": 2000,
        "target_p99_us": 2000,
    }


async def alert_burst(fills: int = 1_000) -> dict[str, Any]:
    """1,000 fills in one second through the channel publisher into the project's fake Discord
    (5 messages per 5 s per channel): messages, time to the last fill visible, none lost."""
    from bot.commands import CommandLayer
    from bot.discord.transport import DiscordTransport
    from tests.bot.discord.test_e2e import discord_config
    from tests.fakediscord import FakeDiscord

    fake = FakeDiscord(rate_limit=(5, 5.0))
    await fake.start()
    try:
        async with loopback_engine(10) as engine:
            transport = DiscordTransport(
                engine, CommandLayer(engine), discord_config(fake), guild_ready_timeout=0.05
            )
            await transport.start()
            await asyncio.wait_for(transport.ready.wait(), 15)
            channel = fake.channels["fills"]

            def visible() -> int:
                total = 0
                for m in fake.messages.get(channel, []):
                    for e in m["embeds"]:
                        title = e.get("title", "")
                        total += len(e["description"].splitlines()) if title.startswith("Fills") else 1
                return total

            meter = StallMeter()
            meter.start()
            start = time.perf_counter()
            for burst in range(10):
                for i in range(burst * fills // 10, (burst + 1) * fills // 10):
                    engine.bus.publish(
                        ev.FillEvent(f"B{i}", f"F{i}", "005930", Side.BUY, 1, 97_600, 15, 0, 0, 1, 1, 1)
                    )
                await asyncio.sleep(0.1)
            # Polling the fake's record is the measurement: Discord offers no event to await.
            while visible() < fills and time.perf_counter() - start < 120:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            last_visible = time.perf_counter() - start
            await asyncio.sleep(1.0)
            await meter.stop()
            delivered = visible()
            messages = len(fake.messages.get(channel, []))
            await transport.close()
    finally:
        await fake.stop()
    return {
        "name": "alert_burst",
        "fills": fills,
        "delivered": delivered,
        "lost": fills - delivered if delivered <= fills else 0,
        "duplicates": max(delivered - fills, 0),
        "messages": messages,
        "last_visible_s": round(last_visible, 2),
        "http_429s": fake.rate_limited_429s,
        "loop_lag_ms_max": round(meter.worst_ms(), 2),
        "target_messages": 20,
        "target_last_visible_s": 30,
    }
