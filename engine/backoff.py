"""Pauses between retries of something that talks to a broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

# Seconds between attempts; the last one repeats.
DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


class Backoff:
    """Each `wait()` sleeps the next delay of the schedule; past its end, the last one."""

    def __init__(self, delays: Sequence[float] = DELAYS) -> None:
        self.delays = delays
        self.attempt = 0

    def reset(self) -> None:
        """After a success: the next failure starts the schedule again."""
        self.attempt = 0

    async def wait(self) -> None:
        delay = self.delays[min(self.attempt, len(self.delays) - 1)]
        self.attempt += 1
        await asyncio.sleep(delay)
