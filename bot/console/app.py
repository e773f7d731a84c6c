"""The console: commands typed (or piped) in, replies and the live event stream out."""

from __future__ import annotations

import asyncio
import math
import os
import stat
import sys
import uuid
from collections.abc import AsyncIterator
from typing import IO, TextIO

from bot.commands import CommandError, CommandLayer, Invocation, Role
from bot.console.render import render_event, render_result
from engine.core import Engine

QUIT = ("quit", "exit", "/quit", "/exit")
MAX_LINE = 4096
# Yielded in place of a line longer than MAX_LINE, which is dropped unread.
TOO_LONG = "\x00too long"


def readable(stream: IO[str]) -> bool:
    """Whether stdin can carry commands: a terminal, a pipe or a file. /dev/null (nohup, cron,
    systemd) or a closed descriptor cannot, and the agent then runs headless; asking the event
    loop to watch /dev/null even aborts the process under uvloop."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stream.isatty() or not stat.S_ISCHR(mode)


async def read_lines(stream: IO[str]) -> AsyncIterator[str]:
    """Lines from stdin without blocking the loop; works for ttys, pipes and regular files.
    A line past MAX_LINE characters comes out as TOO_LONG."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stream)
    except (ValueError, OSError):
        # A regular file cannot be watched by the loop; it never blocks for long, so read it
        # once on a worker thread.
        for line in await asyncio.to_thread(stream.readlines):
            yield line if len(line) <= MAX_LINE else TOO_LONG
        return
    skipping = False  # inside a line already found too long: drop up to its newline
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:  # end of input, perhaps mid-line
            if end.partial and not skipping:
                yield end.partial.decode(errors="replace")
            return
        except asyncio.LimitOverrunError as over:
            await reader.readexactly(over.consumed)
            skipping = True
            continue
        if skipping:
            skipping = False
            yield TOO_LONG
            continue
        yield raw.decode(errors="replace")


class Console:
    def __init__(self, engine: Engine, layer: CommandLayer, out: TextIO = sys.stdout) -> None:
        self.engine = engine
        self.layer = layer
        self.out = out
        # Alerts raised before the console attached (the start-up reconciliation's above all)
        # are shown first.
        self._events = engine.bus.subscribe(replay_alerts=True)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def print_events(self) -> None:
        while True:
            self.say(render_event(await self._events.get()))

    async def handle(self, line: str) -> None:
        if line is TOO_LONG:
            self.say(f"error: that line is longer than {MAX_LINE:,} characters; it was ignored")
            return
        line = line.strip()
        if not line or line.startswith("#"):
            return
        if line.split()[0] in ("wait", "/wait"):  # for scripts: let fills arrive
            parts = line.split()
            try:
                seconds = float(parts[1]) if len(parts) > 1 else 1.0
            except ValueError:
                seconds = math.nan
            if not 0 <= seconds <= 3600:  # nan too: sleep(nan) would never return
                self.say("error: wait takes a number of seconds from 0 to 3600, e.g. wait 2")
                return
            await asyncio.sleep(seconds)
            return
        inv = Invocation("console", "console", Role.ADMIN, uuid.uuid4().hex)
        try:
            result = await self.layer.execute_text(inv, line)
        except CommandError as exc:
            self.say(f"error: {exc.message}")
            return
        self.say(render_result(result))

    async def run(self, stdin: IO[str]) -> None:
        """Until end of input or `quit`."""
        printer = asyncio.get_running_loop().create_task(self.print_events(), name="console-events")
        try:
            self.say("type /help for commands, quit to stop")
            async for line in read_lines(stdin):
                if line.strip().lower() in QUIT:
                    break
                await self.handle(line)
        finally:
            await asyncio.sleep(0)  # let events already published reach the screen
            while not self._events.empty():
                self.say(render_event(self._events.get_nowait()))
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)
            self.engine.bus.unsubscribe(self._events)
