"""The naive feed design, the benchmarks' baseline: what one writes first.

The `websockets` client with its defaults, stdlib `json`, a Tick built per row, one
asyncio.Queue and one task per symbol, each task taking one tick per wake-up. The per-tick work
is the engine's: the real breakout strategy against a real book, and the one-minute bars.

    python -m engine.bench.naive --url ws://127.0.0.1:PORT/ws --symbols 500 --seconds 5

runs on the stock asyncio loop in its own process and prints one JSON object (ticks/s, CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import websockets

from engine.charts.bars import BarSeries
from engine.instruments import Instrument
from engine.krx.costs import CostModel, Market
from engine.marketdata import Tick
from engine.portfolio import Portfolio
from engine.risk import TradingControls
from engine.strategies.breakout import VolatilityBreakout
from engine.subscriptions import EngineBook


def instrument(code: str, info: dict[str, Any] | None = None) -> Instrument:
    from engine.bench.blast import PREV_CLOSE, PREV_HIGH, PREV_LOW
    from engine.krx.prices import daily_limits

    limits = daily_limits(PREV_CLOSE)
    return Instrument(
        code=code,
        name=code,
        market=Market.KOSPI,
        prev_close=PREV_CLOSE,
        prev_high=PREV_HIGH,
        prev_low=PREV_LOW,
        open=PREV_CLOSE,
        upper_limit=limits.upper,
        lower_limit=limits.lower,
    )


class NaiveClient:
    def __init__(self, url: str, codes: list[str]) -> None:
        self.url = url
        self.codes = codes
        self.book = EngineBook(Portfolio(10**15, CostModel(0.00015)), TradingControls())
        self.queues: dict[str, asyncio.Queue[Tick]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.processed = 0
        self.received = 0
        self.signals = 0

    async def _symbol(self, code: str, queue: asyncio.Queue[Tick]) -> None:
        strategy = VolatilityBreakout(instrument(code), {}, None, 1_000_000)
        bars = BarSeries()
        while True:
            tick = await queue.get()
            bars.add(tick.ts_ns, tick.price, tick.qty)
            if strategy.on_tick(tick, self.book) is not None:
                self.signals += 1
            self.processed += 1

    async def run(self, warmup: float, seconds: float) -> dict[str, Any]:
        for code in self.codes:
            queue: asyncio.Queue[Tick] = asyncio.Queue()
            self.queues[code] = queue
            self.tasks.append(asyncio.create_task(self._symbol(code, queue)))
        window: dict[str, float] = {}
        try:
            async with websockets.connect(self.url, max_size=None) as ws:
                await ws.send(json.dumps({"op": "subscribe", "symbols": self.codes}))
                sampler = asyncio.create_task(self._sample(warmup, seconds, window))
                async for frame in ws:
                    msg = json.loads(frame)
                    if msg.get("type") != "ticks":
                        continue
                    for row in msg["data"]:
                        box = self.queues.get(row[0])
                        if box is not None:
                            box.put_nowait(Tick(*row))
                    self.received += len(msg["data"])
                    if sampler.done():
                        break
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        elapsed = window["t1"] - window["t0"]
        return {
            "ticks_per_s": (window["n1"] - window["n0"]) / elapsed,
            "cpu_per_tick_us": (window["c1"] - window["c0"]) / max(window["n1"] - window["n0"], 1) * 1e6,
            "cpu_share": (window["c1"] - window["c0"]) / elapsed,
            "backlog_at_end": window["backlog"],
            "window_s": elapsed,
        }

    async def _sample(self, warmup: float, seconds: float, out: dict[str, float]) -> None:
        while self.processed == 0:  # noqa: ASYNC110 (a counter, not an event)
            await asyncio.sleep(0.01)
        await asyncio.sleep(warmup)
        out["t0"], out["c0"], out["n0"] = time.perf_counter(), time.process_time(), self.processed
        await asyncio.sleep(seconds)
        out["t1"], out["c1"], out["n1"] = time.perf_counter(), time.process_time(), self.processed
        out["backlog"] = sum(q.qsize() for q in self.queues.values())


def main(argv: list[str] | None = None) -> None:
    from engine.bench.blast import symbol_code

    p = argparse.ArgumentParser(prog="python -m engine.bench.naive")
    p.add_argument("--url", required=True, help="ws://host:port/ws of a blast server")
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    client = NaiveClient(args.url, [symbol_code(i) for i in range(args.symbols)])
    result = asyncio.run(client.run(args.warmup, args.seconds))  # the stock loop, on purpose
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
