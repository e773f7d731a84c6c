"""Running the agent: the engine owns the process; transports attach to it."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import IO

from bot.commands import CommandLayer
from bot.console.app import Console
from bot.console.render import banner
from bot.discord.config import DiscordConfig
from engine.config import EngineConfig
from engine.core import Engine
from engine.heap import freeze_startup_heap
from engine.schedule import TradingSchedule

log = logging.getLogger(__name__)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_agent(config: EngineConfig, discord_config: DiscordConfig | None = None,
                    stdin: IO[str] = sys.stdin, headless: bool = False) -> int:
    """Start the engine (and Discord when configured), serve the console until end of input or
    a signal, then stop in order: Discord's publisher flushed, the engine, the journal.

    Headless (a container with no terminal): events are printed, and only a signal stops it.
    """
    engine = Engine(config)
    stop = asyncio.Event()
    install_stop_signals(stop)
    await engine.start()
    schedule = None
    transport = None
    try:
        if config.schedule.trading_hours == "krx" or config.schedule.compressed:
            schedule = TradingSchedule(engine, config.schedule)
            await schedule.start()
        layer = CommandLayer(engine, schedule)
        if discord_config is not None:
            from bot.discord.transport import DiscordTransport

            transport = DiscordTransport(engine, layer, discord_config)
            await transport.start()
        freeze_startup_heap()
        console = Console(engine, layer)
        console.say(banner(engine.broker.paper, engine.broker.name))
        if not engine.controls.session_open:
            console.say(f"no trading now: {engine.controls.closed_reason}. "
                        "(TRADING_HOURS=always lets the sim trade around the clock.)")
        if engine.sim is not None:
            console.say(f"embedded sim exchange at {engine.sim.url}; data in {config.data_dir}")
        session = asyncio.get_running_loop().create_task(
            console.print_events() if headless else console.run(stdin), name="console")
        stopper = asyncio.get_running_loop().create_task(stop.wait(), name="stop-signal")
        done, _ = await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (session, stopper):
            task.cancel()
        await asyncio.gather(session, stopper, return_exceptions=True)
        error = session.exception() if session in done and not session.cancelled() else None
        if error is not None:
            raise error
    finally:
        if schedule is not None:
            await schedule.stop()
        if transport is not None:
            await transport.close()
        await engine.stop()
    return 0
