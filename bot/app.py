"""Running the agent: the engine owns the process; transports attach to it."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from typing import IO, Any

from bot.commands import CommandLayer
from bot.console.app import Console, readable
from bot.console.render import banner
from bot.discord.config import DiscordConfig
from bot.signals import stop_signals
from engine.config import EngineConfig
from engine.core import Engine
from engine.heap import freeze_startup_heap
from engine.schedule import TradingSchedule

log = logging.getLogger(__name__)


async def unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` until it is done (True) or `stop` is set first (False: it is cancelled, and
    the caller stops whatever it had started)."""
    if stop.is_set():
        work.close()
        return False
    loop = asyncio.get_running_loop()
    task = loop.create_task(work, name="until-stopped")
    stopper = loop.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        stopper.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
    if task.cancelled():
        return False
    task.result()  # its error, if it failed
    return True


async def run_agent(
    config: EngineConfig,
    discord_config: DiscordConfig | None = None,
    stdin: IO[str] = sys.stdin,
    headless: bool = False,
    early_stops: Sequence[int] = (),
) -> int:
    """Start the engine (and Discord when configured), serve the console until end of input or
    a signal, then stop in order: Discord's publisher flushed, the engine, the journal.

    Headless (a container with no terminal): events are printed, and only a signal stops it.
    A signal during start-up (the engine may wait for a broker that does not answer) cuts it
    short and stops what had started.
    """
    engine = Engine(config)
    stop = asyncio.Event()
    schedule = None
    transport = None
    with stop_signals(stop, early_stops):
        try:
            if not await unless_stopped(engine.start(), stop):
                return 0
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
                console.say(
                    f"no trading now: {engine.controls.closed_reason}. "
                    "(TRADING_HOURS=always lets the sim trade around the clock.)"
                )
            if engine.broker.endpoint:
                console.say(
                    f"{engine.broker.name} broker at {engine.broker.endpoint}; data in {config.data_dir}"
                )
            if not headless and not readable(stdin):
                headless = True
                console.say(
                    "no readable standard input (/dev/null or closed): running headless; "
                    "stop with SIGTERM or SIGINT"
                )
            # Until end of input (or forever, headless) or a stop signal; its error is raised.
            await unless_stopped(console.print_events() if headless else console.run(stdin), stop)
        finally:
            if schedule is not None:
                await schedule.stop()
            if transport is not None:
                await transport.close()
            await engine.stop()
    return 0
