"""The request budget: orders go ahead of queries, and polls never use it all."""

from __future__ import annotations

import asyncio

from engine.brokers.common.pacing import Pacer, Priority


async def test_queries_leave_room_for_orders() -> None:
    pacer = Pacer(rate=10.0)  # 10 a second: queries may take 7 of them
    for _ in range(pacer.query_capacity):
        await pacer.wait(Priority.QUERY)
    blocked = asyncio.create_task(pacer.wait(Priority.QUERY))
    await asyncio.sleep(0)
    assert not blocked.done() and pacer.waiting == 1  # the queries' share is used up
    # An order still goes at once (no slot to wait for), ahead of the waiting query.
    order = asyncio.create_task(pacer.wait(Priority.ORDER))
    await asyncio.sleep(0)
    assert order.done() and not blocked.done()
    await blocked  # once the window moves on
    assert pacer.granted == {Priority.ORDER: 1, Priority.QUERY: pacer.query_capacity + 1}


async def test_an_order_goes_ahead_of_waiting_queries_when_the_budget_is_full() -> None:
    pacer = Pacer(rate=20.0)
    for _ in range(pacer.query_capacity):
        await pacer.wait(Priority.QUERY)
    for _ in range(pacer.capacity - pacer.query_capacity):
        await pacer.wait(Priority.ORDER)
    assert pacer.waiting == 0  # all twenty went at once: the window is full now
    granted: list[str] = []

    async def ask(name: str, priority: Priority) -> None:
        await pacer.wait(priority)
        granted.append(name)

    queries = [asyncio.create_task(ask(f"q{i}", Priority.QUERY)) for i in range(3)]
    await asyncio.sleep(0)
    order = asyncio.create_task(ask("order", Priority.ORDER))
    await asyncio.gather(order, *queries)
    assert granted[0] == "order", granted
    assert granted[1:] == ["q0", "q1", "q2"]  # queries keep their own order


async def test_a_slow_budget_still_lets_one_request_through() -> None:
    pacer = Pacer(rate=0.5)  # one every two seconds
    assert (pacer.capacity, pacer.query_capacity, pacer.window) == (1, 1, 2.0)
    await pacer.wait(Priority.QUERY)
    order = asyncio.create_task(pacer.wait(Priority.ORDER))
    await asyncio.sleep(0)
    assert not order.done()
    order.cancel()


async def test_a_cancelled_waiter_gives_its_slot_on() -> None:
    pacer = Pacer(rate=1.0)
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
