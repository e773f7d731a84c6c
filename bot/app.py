"""Running the agent: the engine owns the process; transports attach to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine, Iterator, Sequence
from typing import IO, Any

from bot.commands import CommandLayer
from bot.console.app import Console, readable
from bot.console.render import banner
from bot.discord.config import DiscordConfig
from engine.config import EngineConfig
from engine.core import Engine
from engine.heap import freeze_startup_heap
from engine.schedule import TradingSchedule

log = logging.getLogger(__name__)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_signals(stop: asyncio.Event, early_stops: Sequence[int] = ()) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` while the block runs; one in `early_stops` (caught before
    the loop ran, by bot.__main__.hold_stop_signals) sets it at once. On the way out the handlers
    in place before are put back (not the default action, which the loop would leave behind:
    a SIGTERM while the process winds down would then end it with no clean exit)."""
    loop = asyncio.get_running_loop()
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if early_stops:
        stop.set()
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            handler = before[sig]
            if handler is not None:
                signal.signal(sig, handler)


async def unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` until it is done (True) or `stop` is set first (False: it is cancelled, and
    the caller stops whatever it had started)."""
    if stop.is_set():
        work.close()
        return False
    loop = asyncio.get_running_loop()
    task = loop.create_task(work, name="start-up")
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


async def run_agent(config: EngineConfig, discord_config: DiscordConfig | None = None,
                    stdin: IO[str] = sys.stdin, headless: bool = False,
                    early_stops: Sequence[int] = ()) -> int:
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
                console.say(f"no trading now: {engine.controls.closed_reason}. "
                            "(TRADING_HOURS=always lets the sim trade around the clock.)")
            if engine.sim is not None:
                console.say(f"embedded sim exchange at {engine.sim.url}; data in {config.data_dir}")
            if not headless and not readable(stdin):
                headless = True
                console.say("no readable standard input (/dev/null or closed): running headless; "
                            "stop with SIGTERM or SIGINT")
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
