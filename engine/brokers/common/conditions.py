"""Which symbols match each watched condition, and the enters and leaves that follow from a
broker's snapshot, its pushes or a poll. Shared so every adapter dedups and diffs alike: an
enter for a member or a leave for a non-member is a repeat, never news."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from engine.brokers.base import BrokerError, ConditionChange
from engine.clock import Clock

log = logging.getLogger(__name__)

Deliver = Callable[[ConditionChange], None]


class ConditionMembers:
    def __init__(self, deliver: Deliver, clock: Clock) -> None:
        self._deliver = deliver
        self._clock = clock
        self.members: dict[str, set[str]] = {}  # condition id -> symbols matching now
        self._seq = 0

    def watching(self, condition_id: str) -> bool:
        return condition_id in self.members

    def watch(self, condition_id: str) -> None:
        self.members.setdefault(condition_id, set())

    def unwatch(self, condition_id: str) -> None:
        self.members.pop(condition_id, None)

    def change(self, condition_id: str, symbol: str, entered: bool) -> bool:
        """One pushed change; False (nothing delivered) for a repeat or an unwatched one."""
        members = self.members.get(condition_id)
        if members is None or (symbol in members) == entered:
            return False
        if entered:
            members.add(symbol)
        else:
            members.discard(symbol)
        self._seq += 1
        self._deliver(
            ConditionChange(
                condition_id, symbol, "enter" if entered else "leave", self._seq, self._clock.time_ns()
            )
        )
        return True

    def snapshot(self, condition_id: str, symbols: Iterable[str]) -> int:
        """Everything matching now (a snapshot answer, a poll): enters for the new, leaves for
        those gone, e.g. while the connection was down. Returns the changes delivered."""
        if condition_id not in self.members:
            return 0
        now = set(symbols)
        before = set(self.members[condition_id])
        changed = 0
        for symbol in sorted(before - now):
            changed += self.change(condition_id, symbol, False)
        for symbol in sorted(now - before):
            changed += self.change(condition_id, symbol, True)
        return changed


class ConditionPoller:
    """Condition search for brokers that only answer "what matches now" (KIS psearch): each
    watched condition is asked every `interval` seconds and the answers are diffed. The first
    poll after watching starts delivers the current matches as enters."""

    def __init__(
        self, members: ConditionMembers, fetch: Callable[[str], Awaitable[set[str]]], interval: float
    ) -> None:
        self.members = members
        self._fetch = fetch
        self.interval = interval
        self.polls = 0
        self.failures = 0
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Poll now (a condition was just added): its current matches should not wait."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            for condition_id in list(self.members.members):
                try:
                    symbols = await self._fetch(condition_id)
                except BrokerError as exc:
                    # A failed poll changes nothing: no leave is invented from a missing answer.
                    self.failures += 1
                    log.warning("condition %s poll failed: %s", condition_id, exc.message)
                    continue
                self.polls += 1
                self.members.snapshot(condition_id, symbols)
            self._wake.clear()
            try:
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
