"""The task dictionary: idempotent subscribe, cancel cleanup, caps, crashes."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from engine import events as ev
from engine.core import Engine
from engine.marketdata import Tick
from engine.sim.server import SimExchange
from engine.strategies.base import Book, Signal
from engine.strategies.exits import Watch
from engine.subscriptions import SubscriptionError
from tests.conftest import eventually, sim_get


async def _sim_subscribers(sim: SimExchange, symbol: str) -> int:
    stats = await sim_get(sim, "/admin/stats")
    assert isinstance(stats, dict)
    return int(stats["subscriptions"].get(symbol, 0))


async def test_subscribe_is_idempotent_and_cancel_leaves_nothing(engine: Engine, sim: SimExchange) -> None:
    first = await engine.subscriptions.subscribe("005930", "watch")
    again = await engine.subscriptions.subscribe("005930", "breakout")
    assert first.created and not again.created and again.record.strategy == "watch"
    task = engine.subscriptions.tasks["005930"]
    await eventually(lambda: engine.feed.last.get("005930") is not None, 5, "ticks for 005930")
    assert await _sim_subscribers(sim, "005930") == 1
    assert [s.symbol for s in await engine.journal.subscriptions()] == ["005930"]

    await engine.subscriptions.cancel("005930")

    assert task.done() and "005930" not in engine.subscriptions.tasks
    assert "005930" not in engine.feed.mailboxes
    assert await _sim_subscribers(sim, "005930") == 0
    assert await engine.journal.subscriptions() == []
    assert all(not t.get_name().startswith("symbol:") for t in asyncio.all_tasks())
    with pytest.raises(SubscriptionError, match="not subscribed"):
        await engine.subscriptions.cancel("005930")


async def test_registration_cap_is_refused_clearly(engine: Engine) -> None:
    engine.broker.capabilities = dataclasses.replace(engine.broker.capabilities, max_symbols=2)
    await engine.subscriptions.subscribe("005930", "watch")
    await engine.subscriptions.subscribe("000660", "watch")
    with pytest.raises(SubscriptionError, match=r"limit reached: 2 of 2.*Cancel one first"):
        await engine.subscriptions.subscribe("035720", "watch")
    assert sorted(engine.subscriptions.tasks) == ["000660", "005930"]


class Exploding(Watch):
    name = "exploding"

    def on_tick(self, tick: Tick, book: Book) -> Signal | None:
        raise RuntimeError("strategy bug")


async def test_a_crashing_task_alerts_and_is_removed(
    engine: Engine, sim: SimExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.strategies import registry

    monkeypatch.setitem(registry.STRATEGIES, "exploding", Exploding)
    events = engine.bus.subscribe()
    await engine.subscriptions.subscribe("005930", "exploding")
    await eventually(lambda: "005930" not in engine.subscriptions.tasks, 5, "the crash cleanup")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    alerts = [e for e in seen if isinstance(e, ev.AlertEvent) and e.kind == ev.AlertKind.TASK_CRASH]
    assert len(alerts) == 1 and "strategy bug" in alerts[0].message
    assert await engine.journal.subscriptions() == []
    assert await _sim_subscribers(sim, "005930") == 0
