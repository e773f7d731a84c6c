"""Feed benchmarks: throughput at saturation, latency at a steady rate, command responsiveness.

Every measurement runs against a load generator in a separate process (engine.bench.blast:
same websocket protocol and HTTP as the sim exchange), so on a 2-core machine the generator and
the client under test each have a core. Each function returns one JSON-serialisable dict with a
"name" key; `python -m engine.bench.feed` runs them all and prints one JSON object per line.

1. throughput(symbols): ticks/s from the socket through decode, dispatch and the per-symbol
   pipeline (the real breakout strategy and the bars) of the real Engine + SimBroker, at
   saturation; then the same feed read by a bare client (the engine's websocket loop and codec,
   decoding only: the limit) and by the naive design (engine.bench.naive: websockets, stdlib
   json, an asyncio.Queue and a task per symbol, on the stock loop in its own process).
2. latency(rate): a steady feed; a benchmark strategy (the breakout, plus a signal every Nth
   tick) sends orders through the real path (risk -> journal -> SimBroker.place_order -> HTTP
   POST to the generator, which stamps the receive time). Send -> signal is measured in the
   pipeline, send -> order request at the generator (both use time.time_ns() on one machine).
   Also event-loop lag (see LoopLag) and process CPU per tick, with the feed alone and with
   the order flow on top.
3. command_responsiveness(): reply times of the real command layer's /status and
   /subscriptions while the feed runs at saturation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from engine.bench.blast import symbol_code
from engine.brokers.base import BrokerOrder, OrderRequest
from engine.brokers.sim import SimBroker, codec
from engine.brokers.sim.config import SimSettings
from engine.brokers.sim.websocket import SimStream
from engine.config import EngineConfig
from engine.core import Engine
from engine.krx.prices import next_up
from engine.marketdata import Tick
from engine.ordertypes import Side
from engine.risk import RiskLimits
from engine.strategies.base import Book, Signal
from engine.strategies.breakout import VolatilityBreakout
from engine.strategies.registry import STRATEGIES

log = logging.getLogger(__name__)

SATURATION_BATCH = 200  # rows per frame when blasting: the sim batches a 15 ms step per frame
WARMUP_S = 0.5


# ---- helpers ---------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summary_us(prefix: str, values_ns: list[int]) -> dict[str, float]:
    us = [v / 1000 for v in values_ns]
    return {
        f"{prefix}_n": len(us),
        f"{prefix}_p50_us": round(pct(us, 50), 1),
        f"{prefix}_p99_us": round(pct(us, 99), 1),
        f"{prefix}_max_us": round(max(us), 1) if us else 0.0,
    }


def prefixed(prefix: str, numbers: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{key}": value for key, value in numbers.items()}


def loop_kind() -> str:
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


@contextlib.asynccontextmanager
async def blast_server(
    symbols: int,
    rate: int | None,
    batch: int,
    seconds: float,
) -> AsyncIterator[str]:
    """Start `python -m engine.bench.blast` as a child process; yields its http:// base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine.bench.blast",
        "--port",
        "0",
        "--symbols",
        str(symbols),
        "--rate",
        "max" if rate is None else str(rate),
        "--batch",
        str(batch),
        "--seconds",
        str(seconds),
        "--lifetime",
        str(max(120.0, seconds * 4)),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        if not line.startswith("BLAST LISTENING "):
            raise RuntimeError(f"blast did not start: {line!r}")
        yield line.split()[-1]
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def http_get(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.json()


async def calibrate(symbols: int = 500, rounds: int = 100) -> float:
    """Microseconds per mailbox wake-up on this loop and machine right now: one tick put into
    each of `symbols` mailboxes, each drained by its own task, `rounds` times. A shared or
    throttled machine shows here first (it moved 0.7-2.1 us between runs on the 2-core VM the
    numbers in the report come from), so every result carries it to be read against."""
    from engine.mailbox import Mailbox

    boxes: list[Mailbox[int]] = [Mailbox() for _ in range(symbols)]

    async def drain(box: Mailbox[int]) -> None:
        while True:
            if not box.take():
                await box.wait()

    tasks = [asyncio.get_running_loop().create_task(drain(b)) for b in boxes]
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    for r in range(rounds):
        for box in boxes:
            box.put(r)
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - t0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return round(elapsed / (symbols * rounds) * 1e6, 3)


class LoopLag:
    """Event-loop lag, two ways, sampled every `interval`:

    lag: how late a task sleeping `interval` wakes (the usual probe; on the stock loop it also
    carries the selector's millisecond rounding, up to ~1 ms when other I/O wakes the loop);
    ready_lag: how long a callback made ready at that moment waits to run (what the loop's
    work in progress costs any ready callback, without timer rounding).
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples_ns: list[int] = []
        self.ready_ns: list[int] = []
        self.recording = False
        self._task: asyncio.Task[None] | None = None

    def _ready(self, t0: int) -> None:
        if self.recording:
            self.ready_ns.append(time.perf_counter_ns() - t0)

    async def _run(self) -> None:
        interval = self.interval
        interval_ns = int(interval * 1e9)
        clock = time.perf_counter_ns
        loop = asyncio.get_running_loop()
        while True:
            t0 = clock()
            await asyncio.sleep(interval)
            t1 = clock()
            if self.recording:
                self.samples_ns.append(max(0, t1 - t0 - interval_ns))
            loop.call_soon(self._ready, t1)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def clear(self) -> None:
        self.samples_ns.clear()
        self.ready_ns.clear()

    def summary(self) -> dict[str, float]:
        ms = [v / 1e6 for v in self.samples_ns]
        ready = [v / 1e6 for v in self.ready_ns]
        return {
            "lag_p50_ms": round(pct(ms, 50), 3),
            "lag_p99_ms": round(pct(ms, 99), 3),
            "lag_max_ms": round(max(ms), 3) if ms else 0.0,
            "lag_samples": len(ms),
            "ready_lag_p50_ms": round(pct(ready, 50), 3),
            "ready_lag_p99_ms": round(pct(ready, 99), 3),
            "ready_lag_max_ms": round(max(ready), 3) if ready else 0.0,
        }


@contextlib.asynccontextmanager
async def running_engine(
    url: str,
    symbols: int,
    strategy: str = "breakout",
    qty: int | None = None,
    params: dict[str, float] | None = None,
) -> AsyncIterator[Engine]:
    """The real Engine + SimBroker against the generator, with `symbols` subscriptions."""
    data_dir = Path(tempfile.mkdtemp(prefix="tradecord-bench-"))
    config = EngineConfig(
        data_dir=data_dir,
        broker_settings=SimSettings(url=url, max_subscriptions=symbols),
        # The benchmark sends many small orders: limits that never refuse one, so every
        # signal takes the whole path to the broker.
        risk=RiskLimits(
            max_order_value=10**12,
            max_position_value=10**12,
            max_open_positions=10**6,
            daily_loss_limit=10**12,
        ),
        equity_sample_seconds=3600.0,
    )
    engine = Engine(config, broker=SimBroker(SimSettings(url=url, max_subscriptions=None)))
    try:
        await engine.start()
        for i in range(symbols):
            await engine.subscriptions.subscribe(symbol_code(i), strategy, qty, params or {})
        yield engine
    finally:
        await engine.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def processed(engine: Engine) -> int:
    """Ticks the pipelines have taken: dispatched minus still waiting in mailboxes."""
    feed = engine.feed
    return feed.ticks - sum(len(box) for box in feed.mailboxes.values())


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Window:
    """Wall, process CPU and a counter at the start and end of a measurement window."""

    def __init__(self, count: Callable[[], int]) -> None:
        self.count = count
        self.t0 = self.c0 = 0.0
        self.n0 = 0
        self.wall = self.cpu = 0.0
        self.n = 0

    def start(self) -> None:
        self.t0, self.c0, self.n0 = time.perf_counter(), time.process_time(), self.count()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self.n = self.count() - self.n0

    def numbers(self) -> dict[str, float]:
        return {
            "ticks_per_s": round(self.n / self.wall),
            "window_s": round(self.wall, 3),
            "cpu_share": round(self.cpu / self.wall, 3),
            "cpu_per_tick_us": round(self.cpu / max(self.n, 1) * 1e6, 3),
        }


# ---- 1. throughput ---------------------------------------------------------------------------


async def engine_throughput(url: str, symbols: int, seconds: float) -> dict[str, Any]:
    async with running_engine(url, symbols) as engine:
        await wait_for(lambda: engine.feed.ticks > 0, 10, "the first ticks")
        lag = LoopLag()
        lag.start()
        await asyncio.sleep(WARMUP_S)
        window = Window(lambda: processed(engine))
        window.start()
        lag.recording = True
        await asyncio.sleep(seconds)
        lag.recording = False
        window.stop()
        await lag.stop()
        out: dict[str, Any] = {**window.numbers(), **lag.summary()}
        out["backlog_at_end"] = engine.feed.ticks - processed(engine)
        out["signals"] = engine.subscriptions.signals
        out["crashes"] = engine.subscriptions.crashes
        return out


async def bare_throughput(url: str, symbols: int, seconds: float) -> dict[str, Any]:
    """The engine's own websocket loop and codec, decoding every frame and nothing else."""
    count = 0

    def on_frame(frame: str | bytes) -> None:
        nonlocal count
        msg = codec.decode(frame)
        if isinstance(msg, codec.TicksFrame):
            count += len(msg.data)

    ws_url = url.replace("http://", "ws://", 1) + "/ws"
    stream = SimStream(ws_url, on_frame, lambda connected, detail: None)
    stream.registrations.update((("symbol", symbol_code(i)), None) for i in range(symbols))
    task = asyncio.get_running_loop().create_task(stream.run())
    try:
        await wait_for(lambda: count > 0, 10, "the first ticks")
        await asyncio.sleep(WARMUP_S)
        window = Window(lambda: count)
        window.start()
        await asyncio.sleep(seconds)
        window.stop()
        return window.numbers()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def naive_throughput(url: str, symbols: int, seconds: float) -> dict[str, Any]:
    ws_url = url.replace("http://", "ws://", 1) + "/ws"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine.bench.naive",
        "--url",
        ws_url,
        "--symbols",
        str(symbols),
        "--warmup",
        str(WARMUP_S),
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"naive client failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["ticks_per_s"] = round(result["ticks_per_s"])
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


async def throughput(symbols: int, seconds: float = 3.0, batch: int = SATURATION_BATCH) -> dict[str, Any]:
    """Measurement 1 for one symbol count: engine, bare limit and naive baseline, same feed."""
    per_client = WARMUP_S + seconds + 3.0  # each connection's stream outlasts its window
    wake_us = await calibrate()
    async with blast_server(symbols, None, batch, per_client) as url:
        engine = await engine_throughput(url, symbols, seconds)
        bare = await bare_throughput(url, symbols, seconds)
        naive = await naive_throughput(url, symbols, seconds)
    e, b, n = engine["ticks_per_s"], bare["ticks_per_s"], naive["ticks_per_s"]
    return {
        "name": f"throughput_{symbols}",
        "symbols": symbols,
        "batch": batch,
        "loop": loop_kind(),
        "calibration_wake_us": wake_us,
        "engine_ticks_per_s": e,
        "bare_ticks_per_s": b,
        "naive_ticks_per_s": n,
        "engine_vs_naive": round(e / n, 2) if n else 0.0,
        "engine_vs_bare": round(e / b, 3) if b else 0.0,
        **prefixed("engine", {k: v for k, v in engine.items() if k != "ticks_per_s"}),
        **prefixed("bare", {k: v for k, v in bare.items() if k != "ticks_per_s"}),
        **prefixed("naive", {k: v for k, v in naive.items() if k != "ticks_per_s"}),
        **(
            {
                "target_engine_ticks_per_s": 300_000,
                "target_engine_vs_naive": 2.0,
                "target_engine_vs_bare": 0.5,
            }
            if symbols == 500
            else {}
        ),
    }


# ---- 2. latency ------------------------------------------------------------------------------


class LatencyProbe:
    """Shared by every BenchSignal instance: the signal cadence and what was recorded."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.count = 0
        self.recording = False
        self.signal_ns: list[int] = []  # send -> signal, per signal inside the window


class BenchSignal(VolatilityBreakout):
    """The breakout (its whole per-tick check runs), plus a buy signal every Nth tick across all
    symbols, keyed by the tick's send time so each signal is a new intent and the order request
    can be matched to the tick that caused it."""

    name = "bench-signal"
    probe: ClassVar[LatencyProbe] = LatencyProbe(1000)

    def on_tick(self, tick: Tick, book: Book) -> Signal | None:
        signal = super().on_tick(tick, book)
        probe = self.probe
        probe.count += 1
        if signal is not None or probe.count % probe.every:
            return signal
        if probe.recording:
            probe.signal_ns.append(time.time_ns() - tick.ts_ns)
        limit = min(next_up(next_up(tick.price)), self.instrument.upper_limit)
        return Signal(
            Side.BUY, 1, limit, "latency benchmark", f"lat:{tick.ts_ns}:{probe.count}", is_entry=True
        )


def _send_ns_of(intent_key: str) -> int | None:
    parts = intent_key.split(":")
    if "lat" not in parts:
        return None
    return int(parts[parts.index("lat") + 1])


async def latency(
    rate: int,
    symbols: int = 500,
    seconds: float = 5.0,
    batch: int | None = None,
    signals_per_s: int = 100,
    feed_only_seconds: float = 3.0,
) -> dict[str, Any]:
    """Measurement 2 at a steady `rate` ticks/s (frames every ~1 ms unless `batch` is given).

    Two windows on one connection: first the feed alone (the strategy runs, no signal), for
    the loop lag and CPU per tick of the feed; then `signals_per_s` signals/s through the real
    order path, for the latencies, and the lag and CPU with that order flow on top.
    """
    batch = batch or max(1, rate // 1000)
    probe = LatencyProbe(1 << 62)  # no signal in the first window
    BenchSignal.probe = probe
    STRATEGIES[BenchSignal.name] = BenchSignal
    lag = LoopLag()
    per_client = 2 * WARMUP_S + feed_only_seconds + seconds + 5.0
    wake_us = await calibrate()
    try:
        async with (
            blast_server(symbols, rate, batch, per_client) as url,
            running_engine(url, symbols, BenchSignal.name, qty=1) as engine,
        ):
            await wait_for(lambda: engine.feed.ticks > 0, 10, "the first ticks")
            # Where the order path's time goes: the moment the order manager hands the request
            # to the broker (after risk and the journal), by client order id.
            handed: dict[str, int] = {}
            place_order = engine.broker.place_order

            async def timed_place_order(request: OrderRequest) -> BrokerOrder:
                handed[request.client_order_id] = time.time_ns()
                return await place_order(request)

            engine.broker.place_order = timed_place_order  # type: ignore[method-assign]
            lag.start()
            await asyncio.sleep(WARMUP_S)

            feed_window = Window(lambda: processed(engine))
            feed_window.start()
            lag.recording = True
            await asyncio.sleep(feed_only_seconds)
            lag.recording = False
            feed_window.stop()
            feed_lag = lag.summary()
            lag.clear()

            probe.every = max(1, rate // signals_per_s)
            await asyncio.sleep(WARMUP_S)
            window = Window(lambda: processed(engine))
            start_ns = time.time_ns()
            window.start()
            lag.recording = probe.recording = True
            await asyncio.sleep(seconds)
            lag.recording = probe.recording = False
            window.stop()
            end_ns = time.time_ns()
            await lag.stop()
            await asyncio.sleep(0.3)  # orders signalled at the very end reach the generator
            received = await http_get(url + "/admin/orders")
            order_ns, to_broker_ns, broker_to_request_ns = [], [], []
            for coid, recv_ns in received:
                rec = engine.orders.orders.get(coid)
                sent = _send_ns_of(rec.intent_key) if rec is not None else None
                if sent is not None and start_ns <= sent <= end_ns:
                    order_ns.append(recv_ns - sent)
                    if coid in handed:
                        to_broker_ns.append(handed[coid] - sent)
                        broker_to_request_ns.append(recv_ns - handed[coid])
            feed, orders = feed_window.numbers(), window.numbers()
            targets: dict[str, float] = (
                {"target_send_to_order_request_p99_us": 500, "target_lag_p99_ms": 1.0}
                if rate == 20_000
                else {"target_lag_p99_ms": 5.0, "target_cpu_share": 0.6}
                if rate == 100_000
                else {}
            )
            return {
                "name": f"latency_{rate}",
                "rate": rate,
                "symbols": symbols,
                "batch": batch,
                "loop": loop_kind(),
                "calibration_wake_us": wake_us,
                "signals_per_s": signals_per_s,
                **summary_us("send_to_signal", probe.signal_ns),
                **summary_us("send_to_order_request", order_ns),
                # the two legs of send -> order request: to the broker call (decode, dispatch,
                # strategy, risk, journal) and from there to the exchange (SimBroker + aiohttp
                # client, loopback, until the generator's socket has the request's first bytes)
                **summary_us("send_to_broker_call", to_broker_ns),
                **summary_us("broker_call_to_request", broker_to_request_ns),
                **prefixed(
                    "feed_only",
                    {
                        "ticks_per_s": feed["ticks_per_s"],
                        **feed_lag,
                        "cpu_share": feed["cpu_share"],
                        "cpu_per_tick_us": feed["cpu_per_tick_us"],
                    },
                ),
                **prefixed(
                    "with_orders",
                    {
                        "ticks_per_s": orders["ticks_per_s"],
                        **lag.summary(),
                        "cpu_share": orders["cpu_share"],
                        "cpu_per_tick_us": orders["cpu_per_tick_us"],
                    },
                ),
                "orders_sent": engine.orders.sent,
                "order_rejects": engine.orders.rejects,
                **targets,
            }
    finally:
        await lag.stop()
        STRATEGIES.pop(BenchSignal.name, None)


# ---- 3. command responsiveness ---------------------------------------------------------------


async def command_responsiveness(
    seconds: float = 5.0, symbols: int = 500, interval: float = 0.05
) -> dict[str, Any]:
    """Measurement 3: /status and /subscriptions reply times while the feed is saturated."""
    from bot.commands.context import Invocation, Role
    from bot.commands.layer import CommandLayer

    wake_us = await calibrate()
    async with (
        blast_server(symbols, None, SATURATION_BATCH, WARMUP_S + seconds + 5.0) as url,
        running_engine(url, symbols) as engine,
    ):
        layer = CommandLayer(engine)
        inv = Invocation("bench", "bench", Role.ADMIN, "id")
        await wait_for(lambda: engine.feed.ticks > 0, 10, "the first ticks")
        await asyncio.sleep(WARMUP_S)
        times: dict[str, list[int]] = {"status": [], "subscriptions": []}
        window = Window(lambda: processed(engine))
        window.start()
        deadline = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < deadline:
            name = "status" if i % 2 == 0 else "subscriptions"
            i += 1
            t0 = time.perf_counter_ns()
            await layer.execute(inv, name, {})
            times[name].append(time.perf_counter_ns() - t0)
            await asyncio.sleep(interval)
        window.stop()
        both = times["status"] + times["subscriptions"]

        def ms(prefix: str, values: list[int]) -> dict[str, float]:
            return {
                f"{prefix}_n": len(values),
                f"{prefix}_p50_ms": round(pct(values, 50) / 1e6, 3),
                f"{prefix}_p99_ms": round(pct(values, 99) / 1e6, 3),
                f"{prefix}_max_ms": round(max(values) / 1e6, 3) if values else 0.0,
            }

        return {
            "name": "command_responsiveness",
            "symbols": symbols,
            "loop": loop_kind(),
            "calibration_wake_us": wake_us,
            "feed_ticks_per_s": window.numbers()["ticks_per_s"],
            **ms("reply", both),
            **ms("status", times["status"]),
            **ms("subscriptions", times["subscriptions"]),
            "target_reply_p99_ms": 50,
        }


# ---- main ------------------------------------------------------------------------------------

Measure = Callable[[], Awaitable[dict[str, Any]]]

# For `python -m engine.bench` (medians over runs): every measurement of this module by name.
MEASURES: dict[str, Measure] = {
    "throughput_50": lambda: throughput(50),
    "throughput_500": lambda: throughput(500),
    "throughput_2500": lambda: throughput(2500),
    "latency_20000": lambda: latency(20_000),
    "latency_100000": lambda: latency(100_000),
    "command_responsiveness": lambda: command_responsiveness(),
}


async def run_all(args: argparse.Namespace) -> None:
    which = set(args.only.split(",")) if args.only else {"throughput", "latency", "commands"}
    results: list[dict[str, Any]] = []
    if "throughput" in which:
        for n in args.symbols:
            results.append(await throughput(n, args.seconds))
            print(json.dumps(results[-1]), flush=True)
    if "latency" in which:
        for rate in args.rates:
            results.append(await latency(rate, 500, args.latency_seconds))
            print(json.dumps(results[-1]), flush=True)
    if "commands" in which:
        results.append(await command_responsiveness(args.latency_seconds))
        print(json.dumps(results[-1]), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m engine.bench.feed", description=__doc__.split("\n")[0])
    p.add_argument("--only", default="", help="comma list of throughput,latency,commands")
    p.add_argument("--symbols", type=int, nargs="+", default=[50, 500, 2500])
    p.add_argument("--rates", type=int, nargs="+", default=[20_000, 100_000])
    p.add_argument("--seconds", type=float, default=3.0, help="throughput window per client")
    p.add_argument("--latency-seconds", type=float, default=5.0)
    p.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop of the engine under test (the agent runs on asyncio's)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(run_all(args))


if __name__ == "__main__":
    main()
