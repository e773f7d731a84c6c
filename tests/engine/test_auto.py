"""Auto mode follows condition streams: several at once, each with its own strategy; a burst
loses nothing; flapping costs nothing; entries beyond the cap wait their turn; the state
survives a restart."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.auto import AutoModeError
from engine.brokers.base import ConditionSearch
from engine.config import EngineConfig
from engine.core import Engine
from engine.events import AlertEvent, SubscriptionChanged
from engine.sim.server import SimExchange
from tests.conftest import engine_config, eventually, sim_post

SYMBOLS = ["005930", "000660", "035720", "035420", "005380", "000270", "068270", "105560", "055550", "066570"]


def quick(tmp_path: Path, sim: SimExchange, grace: float = 0.05) -> EngineConfig:
    cfg = engine_config(tmp_path, sim.url)
    return dataclasses.replace(cfg, defaults=dataclasses.replace(cfg.defaults, leave_grace=grace))


@pytest.fixture
async def auto_engine(tmp_path: Path, sim: SimExchange) -> AsyncIterator[Engine]:
    eng = Engine(quick(tmp_path, sim))
    await eng.start()
    yield eng
    await eng.stop()


async def inject(sim: SimExchange, name: str, *events: tuple[str, str]) -> None:
    await sim_post(
        sim,
        "/admin/condition_events",
        {"name": name, "events": [{"symbol": s, "event": e} for s, e in events]},
    )


async def test_burst_of_1000_condition_events_loses_none(auto_engine: Engine, sim: SimExchange) -> None:
    engine = auto_engine
    await engine.auto.enable("momentum", "watch")  # no trades: a held symbol would stay
    # 998 events of symbols entering and leaving, then two that end inside the condition.
    events = [(SYMBOLS[i % len(SYMBOLS)], kind) for i in range(499) for kind in ("enter", "leave")]
    events += [("005930", "enter"), ("000660", "enter")]
    assert len(events) == 1000
    await inject(sim, "momentum", *events)

    await eventually(lambda: engine.auto.processed == 1000, 60, "all 1,000 events processed")
    assert engine.auto.received == 1000 and engine.auto.skipped == 0
    await eventually(
        lambda: set(engine.subscriptions.tasks) == {"005930", "000660"}, 10, "the final symbol set"
    )
    assert {r.source for r in engine.subscriptions.records.values()} == {"auto:0"}


async def test_flapping_symbol_is_subscribed_once_and_ordered_once(tmp_path: Path, sim: SimExchange) -> None:
    engine = Engine(quick(tmp_path, sim, grace=10.0))
    await engine.start()
    changes = engine.bus.subscribe()
    try:
        # The lowest breakout factor: it buys on the first prints above the open.
        await engine.auto.enable("momentum", "breakout", 1, {"k": 0.05})
        await inject(
            sim,
            "momentum",
            *[("005930", e) for _ in range(10) for e in ("enter", "leave")],
            ("005930", "enter"),
        )
        await eventually(lambda: engine.auto.processed == 21, 10, "the 21 events")
        await eventually(
            lambda: engine.subscriptions.signals >= 1 or engine.feed.ticks > 200,
            20,
            "prints for the strategy",
        )
        added = [e for e in drain(changes) if isinstance(e, SubscriptionChanged)]
        assert [(e.symbol, e.action) for e in added] == [("005930", "added")]
        orders = [o for o in engine.orders.orders.values() if o.symbol == "005930"]
        assert len(orders) <= 1, orders
        assert "005930" in engine.subscriptions
    finally:
        await engine.stop()


def drain(queue: object) -> list[object]:
    import asyncio

    assert isinstance(queue, asyncio.Queue)
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_two_conditions_each_with_its_own_strategy(auto_engine: Engine, sim: SimExchange) -> None:
    engine = auto_engine
    await engine.auto.enable("momentum", "watch")
    await engine.auto.enable("1", "breakout", 3, {"k": 0.3})  # by id: 급등주
    await inject(sim, "momentum", ("005930", "enter"))
    await inject(sim, "급등주", ("000660", "enter"))
    await eventually(
        lambda: {"005930", "000660"} <= set(engine.subscriptions.records), 10, "both conditions' symbols"
    )
    first, second = (engine.subscriptions.records[s] for s in ("005930", "000660"))
    assert (first.strategy, first.source, first.qty) == ("watch", "auto:0", None)
    assert (second.strategy, second.source, second.qty) == ("breakout", "auto:1", 3)
    assert second.params["k"] == 0.3
    # Off for one: its symbols stay, the other condition goes on.
    await engine.auto.disable("급등주")
    assert list(engine.auto.watches) == ["0"]
    await inject(sim, "momentum", ("035720", "enter"))
    await eventually(lambda: "035720" in engine.subscriptions, 10, "the remaining condition")
    assert "000660" in engine.subscriptions


async def test_current_matches_are_entries(auto_engine: Engine, sim: SimExchange) -> None:
    await inject(sim, "momentum", ("005930", "enter"), ("035720", "enter"))
    await auto_engine.auto.enable("momentum", "watch")
    await eventually(
        lambda: {"005930", "035720"} <= set(auto_engine.subscriptions.records), 10, "the snapshot's symbols"
    )


async def test_auto_leaves_manual_and_held_symbols_alone(auto_engine: Engine, sim: SimExchange) -> None:
    engine = auto_engine
    await engine.auto.enable("momentum", "watch")
    await engine.subscriptions.subscribe("005930", "watch")  # by a person
    await inject(sim, "momentum", ("005930", "enter"), ("005930", "leave"), ("000660", "enter"))
    await eventually(lambda: engine.auto.processed == 3, 10, "3 events")
    await eventually(lambda: "000660" in engine.subscriptions, 10, "the entry")
    assert engine.subscriptions.records["005930"].source == "manual"
    assert engine.subscriptions.records["000660"].source == "auto:0"


async def test_entries_beyond_the_cap_wait_in_order(auto_engine: Engine, sim: SimExchange) -> None:
    engine = auto_engine
    engine.broker.capabilities = dataclasses.replace(engine.broker.capabilities, max_symbols=3)
    alerts = engine.bus.subscribe()
    await engine.subscriptions.subscribe("005930", "watch")  # a person's comes first
    await engine.auto.enable("momentum", "watch")
    await inject(sim, "momentum", *[(s, "enter") for s in SYMBOLS[1:6]])
    await eventually(lambda: engine.auto.processed == 5, 10, "the five entries")
    assert set(engine.subscriptions.records) == {"005930", "000660", "035720"}
    assert list(engine.auto.waiting) == SYMBOLS[3:6]
    waiting = [e for e in drain(alerts) if isinstance(e, AlertEvent) and "waiting" in e.title]
    assert len(waiting) == 1 and "3 symbols" in waiting[0].message
    await engine.subscriptions.cancel("005930")  # a slot frees: the first waiting takes it
    await eventually(lambda: SYMBOLS[3] in engine.subscriptions, 10, "the first in line")
    assert list(engine.auto.waiting) == SYMBOLS[4:6]
    await inject(sim, "momentum", (SYMBOLS[4], "leave"))  # it left while waiting
    await eventually(lambda: list(engine.auto.waiting) == [SYMBOLS[5]], 10, "the leave applied")


async def test_auto_state_survives_a_restart(tmp_path: Path, sim: SimExchange) -> None:
    cfg = quick(tmp_path, sim)
    engine = Engine(cfg)
    await engine.start()
    await engine.auto.enable("momentum", "breakout", 2, {"k": 0.4})
    await engine.auto.enable("급등주", "watch")
    await engine.stop()
    await inject(sim, "momentum", ("005930", "enter"))  # while Tradecord was down

    engine = Engine(cfg)
    await engine.start()
    try:
        watches = {
            w.condition.name: (w.strategy, w.qty, w.params.get("k")) for w in engine.auto.watches.values()
        }
        assert watches == {"momentum": ("breakout", 2, 0.4), "급등주": ("watch", None, None)}
        await eventually(
            lambda: "005930" in engine.subscriptions, 10, "the entry made while down, from the snapshot"
        )
    finally:
        await engine.stop()


async def test_refusals_say_why(auto_engine: Engine) -> None:
    auto = auto_engine.auto
    with pytest.raises(
        AutoModeError,
        match=r"unknown condition 'nope'; saved conditions: "
        r"momentum \(id 0\), 급등주 \(id 1\)",
    ):
        await auto.enable("nope")
    with pytest.raises(AutoModeError, match="unknown strategy"):
        await auto.enable("momentum", "bogus")
    with pytest.raises(AutoModeError, match="k"):
        await auto.enable("momentum", "breakout", params={"k": 99.0})
    assert not auto.watches
    caps = auto_engine.broker.capabilities
    auto_engine.broker.capabilities = dataclasses.replace(caps, max_conditions=1)
    await auto.enable("momentum", "watch")
    with pytest.raises(AutoModeError, match=r"at most 1 conditions at once.*momentum"):
        await auto.enable("급등주")
    auto_engine.broker.capabilities = dataclasses.replace(caps, conditions_on_paper=False)
    with pytest.raises(AutoModeError, match="real accounts only"):
        await auto.enable("급등주")
    auto_engine.broker.capabilities = dataclasses.replace(caps, condition_search=ConditionSearch.NONE)
    with pytest.raises(AutoModeError, match="offers no condition search"):
        await auto.available()
    assert list(auto.watches) == ["0"]


async def test_the_one_condition_layout_of_earlier_versions_is_restored(
    tmp_path: Path, sim: SimExchange
) -> None:
    cfg = quick(tmp_path, sim)
    engine = Engine(cfg)
    await engine.start()
    await engine.journal.set_state("auto", {"enabled": True, "condition": "momentum"})
    await engine.stop()
    engine = Engine(cfg)
    await engine.start()
    try:
        assert [(w.condition.id, w.condition.name) for w in engine.auto.watches.values()] == [
            ("0", "momentum")
        ]
        await inject(sim, "momentum", ("035420", "enter"))
        await eventually(lambda: "035420" in engine.subscriptions, 10, "its entries followed")
    finally:
        await engine.stop()


async def test_paused_at_the_close_and_resumed_at_the_open(auto_engine: Engine, sim: SimExchange) -> None:
    auto = auto_engine.auto
    await auto.enable("momentum", "watch")
    await auto.pause()
    assert auto.paused and not auto.enabled and list(auto.watches) == ["0"]
    await inject(sim, "momentum", ("005380", "enter"))
    assert await auto.resume()
    # Resumed: the entry made while paused is a current match, so it is an entry now.
    await eventually(lambda: "005380" in auto_engine.subscriptions, 10, "the entry")
    assert auto.enabled and (await auto_engine.journal.get_state("auto"))["paused"] is False
