"""`python -m bot demo`: a non-interactive run on the sim with auto mode on, for newcomers and CI.

Prints the live transcript, then one JSON line with the run's counts; exits 0 only when ticks,
orders and fills happened and nothing went wrong.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from bot.console.render import banner, render_event
from engine import events as ev
from engine.brokers.sim.config import SimSettings
from engine.config import EngineConfig, StrategyDefaults
from engine.core import Engine

# Faster tape and tighter exits than the defaults, so a short run shows entries and exits.
DEMO_SIM = SimSettings(tick_rate=20.0)
DEMO_DEFAULTS = StrategyDefaults(params={"k": 0.2, "tp": 1.0, "sl": 1.0, "trail": 0.6})
DEMO_WATCH = ("005930", "000660", "035720", "247540")


async def run_demo(seconds: float, config: EngineConfig | None = None) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="tradecord-demo-") as tmp:
        base = config or EngineConfig()
        # The demo always runs on the sim: an external one (SIM_URL) if set, else embedded.
        url = base.adapter.url if isinstance(base.adapter, SimSettings) else None
        cfg = replace(
            base,
            data_dir=Path(tmp),
            broker="sim",
            broker_settings=replace(DEMO_SIM, url=url),
            defaults=DEMO_DEFAULTS,
        )
        engine = Engine(cfg)
        counts = {"signals": 0, "orders": 0, "fills": 0, "rejects": 0, "errors": 0}
        events = engine.bus.subscribe()

        async def transcript() -> None:
            while True:
                event = await events.get()
                print(render_event(event), flush=True)
                if isinstance(event, ev.SignalEvent):
                    counts["signals"] += 1
                elif isinstance(event, ev.OrderAccepted):
                    counts["orders"] += 1
                elif isinstance(event, ev.FillEvent):
                    counts["fills"] += 1
                elif isinstance(event, ev.OrderRejected):
                    counts["rejects"] += 1
                elif isinstance(event, ev.AlertEvent) and event.level == ev.AlertLevel.ERROR:
                    counts["errors"] += 1

        await engine.start()
        printer = asyncio.get_running_loop().create_task(transcript(), name="demo-transcript")
        try:
            print(banner(engine.broker.paper, engine.broker.name), flush=True)
            print(f"demo: auto mode on, {seconds:g} s of trading on the simulated exchange", flush=True)
            for symbol in DEMO_WATCH:
                await engine.subscriptions.subscribe(symbol, "breakout", params=DEMO_DEFAULTS.params)
            await engine.auto.enable(cfg.defaults.condition)
            await asyncio.sleep(seconds)
            await asyncio.sleep(0.2)  # let in-flight fills land in the transcript
            summary = {
                "ticks": engine.feed.ticks,
                "signals": counts["signals"],
                "orders": counts["orders"],
                "fills": counts["fills"],
                "rejects": counts["rejects"],
                "errors": counts["errors"] + engine.subscriptions.crashes,
                "realized_pnl": engine.portfolio.total_realized_net,
                "open_positions": len(engine.portfolio.positions),
            }
        finally:
            await engine.stop()
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)
        return summary


def demo_ok(summary: dict[str, int]) -> bool:
    return summary["ticks"] > 0 and summary["orders"] > 0 and summary["fills"] > 0 and summary["errors"] == 0


def print_summary(summary: dict[str, int]) -> None:
    print(json.dumps(summary), flush=True)
