"""The request budget: orders go ahead of queries already waiting."""

from __future__ import annotations

import asyncio

from engine.brokers.common.pacing import Pacer, Priority


async def test_an_order_takes_the_next_slot_ahead_of_waiting_queries() -> None:
    pacer = Pacer(rate=50.0)  # one slot every 20 ms
    granted: list[str] = []

    async def ask(name: str, priority: Priority) -> None:
        await pacer.wait(priority)
        granted.append(name)

    await pacer.wait()  # the first slot is used: everything below has to queue
    queries = [asyncio.create_task(ask(f"q{i}", Priority.QUERY)) for i in range(5)]
    await asyncio.sleep(0)  # the queries are queued before the order arrives
    order = asyncio.create_task(ask("order", Priority.ORDER))
    await asyncio.gather(order, *queries)
    assert granted[0] == "order", granted
    assert granted[1:] == [f"q{i}" for i in range(5)]  # queries keep their own order
    assert pacer.granted == {Priority.ORDER: 1, Priority.QUERY: 6}


async def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    pacer = Pacer(rate=50.0)
    await pacer.wait()
    gone = asyncio.create_task(pacer.wait())
    kept = asyncio.create_task(pacer.wait())
    await asyncio.sleep(0)
    gone.cancel()
    await kept
    assert gone.cancelled() and pacer.waiting == 0


async def test_no_rate_means_no_wait() -> None:
    pacer = Pacer(rate=0)
    for _ in range(1000):
        await pacer.wait(Priority.ORDER)
    assert pacer.granted[Priority.ORDER] == 1000
