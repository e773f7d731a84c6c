"""Auto mode follows the condition stream; a burst loses nothing."""

from __future__ import annotations

from engine.core import Engine
from engine.sim.server import SimExchange
from tests.conftest import eventually, sim_post

SYMBOLS = ["005930", "000660", "035720", "035420", "005380", "000270", "068270", "105560",
           "055550", "066570"]


async def test_burst_of_1000_condition_events_loses_none(engine: Engine, sim: SimExchange) -> None:
    engine.auto.strategy = "watch"  # no trades: a held symbol would rightly stay subscribed
    await engine.auto.enable("momentum")
    # 998 events of symbols entering and leaving, then two that end inside the condition.
    events = [{"symbol": SYMBOLS[i % len(SYMBOLS)], "event": kind}
              for i in range(499) for kind in ("enter", "leave")]
    events += [{"symbol": "005930", "event": "enter"}, {"symbol": "000660", "event": "enter"}]
    assert len(events) == 1000
    await sim_post(sim, "/admin/condition_events", {"name": "momentum", "events": events})

    await eventually(lambda: engine.auto.processed == 1000, 60, "all 1,000 events processed")
    assert engine.auto.received == 1000 and engine.auto.skipped == 0
    expected = {"005930", "000660"}
    await eventually(lambda: set(engine.subscriptions.tasks) == expected, 5, "final symbol set")
    assert {r.source for r in engine.subscriptions.records.values()} == {"auto"}


async def test_auto_leaves_manual_and_held_symbols_alone(engine: Engine, sim: SimExchange) -> None:
    await engine.auto.enable("momentum")
    await engine.subscriptions.subscribe("005930", "watch")  # by a person
    await sim_post(sim, "/admin/condition_events", {"name": "momentum", "events": [
        {"symbol": "005930", "event": "enter"}, {"symbol": "005930", "event": "leave"},
        {"symbol": "000660", "event": "enter"}]})
    await eventually(lambda: engine.auto.processed == 3, 10, "3 events")
    assert engine.subscriptions.records["005930"].source == "manual"
    assert engine.subscriptions.records["000660"].source == "auto"


async def test_unknown_condition_is_refused(engine: Engine) -> None:
    import pytest

    from engine.auto import AutoModeError

    with pytest.raises(AutoModeError, match="unknown condition 'nope'; valid: momentum"):
        await engine.auto.enable("nope")
    assert not engine.auto.enabled
