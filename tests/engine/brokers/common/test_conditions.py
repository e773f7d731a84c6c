"""Condition members: repeats are not news; a snapshot or a poll becomes enters and leaves."""

from __future__ import annotations

import asyncio

from engine.brokers.base import BrokerError, ConditionChange
from engine.brokers.common.conditions import ConditionMembers, ConditionPoller
from engine.clock import Clock


def members() -> tuple[ConditionMembers, list[ConditionChange]]:
    got: list[ConditionChange] = []
    return ConditionMembers(got.append, Clock()), got


def test_repeats_and_unwatched_conditions_deliver_nothing() -> None:
    m, got = members()
    assert not m.change("0", "005930", True)  # not watched
    m.watch("0")
    assert m.change("0", "005930", True)
    assert not m.change("0", "005930", True)  # a repeated enter
    assert m.change("0", "005930", False)
    assert not m.change("0", "005930", False)  # a repeated leave
    assert [(c.symbol, c.event) for c in got] == [("005930", "enter"), ("005930", "leave")]
    assert got[0].seq < got[1].seq


def test_snapshot_diffs_against_the_members() -> None:
    m, got = members()
    m.watch("7")
    assert m.snapshot("7", {"005930", "000660"}) == 2
    assert m.snapshot("7", {"000660", "035720"}) == 2  # one left, one entered
    assert m.snapshot("7", {"000660", "035720"}) == 0
    assert [(c.symbol, c.event) for c in got] == [
        ("000660", "enter"),
        ("005930", "enter"),
        ("005930", "leave"),
        ("035720", "enter"),
    ]


async def test_poller_polls_each_watched_condition_and_survives_a_failed_poll() -> None:
    got: list[ConditionChange] = []
    three = asyncio.Event()

    def deliver(change: ConditionChange) -> None:
        got.append(change)
        if len(got) >= 3:
            three.set()

    m = ConditionMembers(deliver, Clock())
    answers = {"0": [{"005930"}, BrokerError("x", "down"), {"000660"}]}
    asked: list[str] = []

    async def fetch(condition_id: str) -> set[str]:
        asked.append(condition_id)
        queue = answers[condition_id]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BrokerError):
            raise answer
        return answer

    poller = ConditionPoller(m, fetch, interval=0.01)
    m.watch("0")
    task = asyncio.create_task(poller.run())
    try:
        async with asyncio.timeout(5):
            await three.wait()
    finally:
        task.cancel()
    # The failed poll invented no leave: 005930 left only when an answer said so.
    assert [(c.symbol, c.event) for c in got[:3]] == [
        ("005930", "enter"),
        ("005930", "leave"),
        ("000660", "enter"),
    ]
    assert poller.failures == 1 and set(asked) == {"0"}
