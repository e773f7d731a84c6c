"""The one feed connection drops mid-stream: it reconnects and every registration comes back."""

from __future__ import annotations

from engine import events as ev
from engine.core import Engine
from engine.sim.server import SimExchange
from tests.conftest import eventually, sim_get, sim_post


async def test_dropped_feed_reconnects_and_resubscribes(engine: Engine, sim: SimExchange) -> None:
    events = engine.bus.subscribe()
    for symbol in ("005930", "000660"):
        await engine.subscriptions.subscribe(symbol, "watch")
    await engine.auto.enable("momentum")
    await eventually(lambda: engine.feed.ticks > 0, 5, "ticks before the drop")

    await sim_post(sim, "/admin/drop_connections", {})

    changes: list[bool] = []

    def reconnected() -> bool:
        while not events.empty():
            e = events.get_nowait()
            if isinstance(e, ev.ConnectionChanged):
                changes.append(e.connected)
        return changes[-2:] == [False, True]

    await eventually(reconnected, 10, "disconnect then reconnect")
    stats = await sim_get(sim, "/admin/stats")
    assert isinstance(stats, dict)
    assert stats["subscriptions"].get("005930") == 1 and stats["subscriptions"].get("000660") == 1
    before = engine.feed.ticks
    box = engine.feed.mailboxes["005930"]
    await eventually(lambda: engine.feed.ticks > before + 20, 5, "ticks after the reconnect")
    assert len(box) >= 0 and "005930" in engine.subscriptions.tasks
    # The account channel came back too: an order placed now is acknowledged on the socket.
    from engine.orders import OrderIntent

    res = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "test", "after drop", "after-drop", is_auto=False)
    )
    assert res.order is not None
    await eventually(lambda: engine.portfolio.qty("005930") == 1, 10, "the fill after reconnect")
