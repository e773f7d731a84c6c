"""The kill switch always wins: during an outage, against a fill racing its cancel, and never
against a person's flattening sell."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.commands import CommandLayer
from bot.commands.context import CommandError, Invocation, Role
from bot.commands.results import AutoState
from engine.brokers.base import BrokerOrder, OrderRequest, OrderUpdate
from engine.core import Engine
from engine.orders import OrderIntent
from engine.sim.config import SimConfig
from engine.sim.server import SimExchange
from tests.conftest import engine_config, eventually, sim_get

ADMIN = Invocation("console", "console", Role.ADMIN, "inv-1")


@pytest.fixture
async def durable_sim(tmp_path: Path) -> AsyncIterator[SimExchange]:
    """A sim that keeps its book on disk, so it can be stopped (an outage) and come back."""
    exchange = SimExchange(
        SimConfig(
            tick_rate=50.0,
            seed=11,
            condition_threshold_pct=29.0,
            heartbeat_interval=1.0,
            state_path=tmp_path / "sim.db",
        )
    )
    await exchange.start()
    yield exchange
    if exchange._port is not None:
        await exchange.stop()


@pytest.fixture
async def fast_engine(tmp_path: Path, durable_sim: SimExchange) -> AsyncIterator[Engine]:
    eng = Engine(engine_config(tmp_path, durable_sim.url))
    eng.connect_backoff = (0.2,)
    await eng.start()
    eng.killswitch.retry_backoff = (0.2,)
    yield eng
    await eng.stop()


async def resting_buy(engine: Engine, key: str) -> Any:
    inst = engine.instruments["005930"]
    res = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, inst.lower_limit, "test", "rests", key, is_auto=False)
    )
    assert res.order is not None and res.order.broker_order_id, res
    return res.order


async def test_halt_during_an_outage_says_so_and_cancels_after_the_reconnect(
    fast_engine: Engine, durable_sim: SimExchange
) -> None:
    engine, sim = fast_engine, durable_sim
    first, second = await resting_buy(engine, "a"), await resting_buy(engine, "b")
    port = sim.port
    await sim.stop()  # the broker goes away under the agent

    outcome = await engine.halt("tester", "outage drill")
    assert outcome.cancelled == 0 and outcome.pending == 2
    assert "2 open orders could not be cancelled yet" in outcome.describe()
    assert "retrying" in outcome.describe()
    assert first.live and second.live

    await sim.start(port=port)  # back: the halt is enforced without anyone asking again
    await eventually(lambda: not first.live and not second.live, 20, "both cancelled")
    assert first.status == second.status == "cancelled"
    open_orders = await sim_get(sim, "/orders?status=open")
    assert open_orders == []


async def test_a_hand_sell_during_a_halt_is_not_taken_back(engine: Engine) -> None:
    bought = await engine.orders.submit(
        OrderIntent("005930", "buy", 2, None, "manual:x", "own", "own", is_auto=False)
    )
    assert bought.ok
    await eventually(lambda: engine.portfolio.qty("005930") == 2, 10, "the buy filled")
    await engine.halt("tester", "flatten drill")
    upper = engine.instruments["005930"].upper_limit
    sell = await engine.orders.submit(
        OrderIntent("005930", "sell", 2, upper, "manual:x", "flatten", "flatten", is_auto=False)
    )
    assert sell.ok and sell.order is not None
    # It rests at the upper limit: a halt that took it back would have cancelled it by now.
    # Prove the engine has moved on past the send (a later order round-trip), then look.
    probe = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "manual:x", "probe", "probe", is_auto=False)
    )
    assert probe.rejection is not None and probe.rejection.code == "halted"
    assert sell.order.status == "accepted"
    assert engine.orders.find(sell.order.client_order_id) is sell.order


async def test_an_order_that_fills_while_the_halt_cancels_it_is_reported_filled(
    engine: Engine, sim: SimExchange
) -> None:
    """The halt lands while a market buy is on its way; the exchange fills it before the
    take-back cancel arrives, and the fill notice reaches the engine only after the refused
    cancel. The fill stands, is reported as a fill, and nothing raises into the sender."""
    held: list[OrderUpdate] = []
    releasing = asyncio.Event()
    sink = engine.broker._sink  # type: ignore[attr-defined]

    class HoldFills:
        """The engine as the broker's sink, with account notices held until told."""

        def __getattr__(self, name: str) -> Any:
            return getattr(sink, name)

        def on_order_update(self, update: OrderUpdate) -> None:
            if releasing.is_set():
                engine.on_order_update(update)
            else:
                held.append(update)

    engine.broker._sink = HoldFills()  # type: ignore[attr-defined]
    real_place, real_cancel = engine.broker.place_order, engine.broker.cancel_order
    cancels: list[str] = []

    async def place_then_halt(request: OrderRequest) -> BrokerOrder:
        answer = await real_place(request)
        await eventually(lambda: any(u.event == "fill" for u in held), 10, "filled at the sim")
        engine.controls.halted, engine.controls.halted_ns = True, 0
        return answer

    async def cancel_then_deliver(broker_order_id: str) -> BrokerOrder:
        cancels.append(broker_order_id)
        try:
            return await real_cancel(broker_order_id)
        finally:
            releasing.set()
            for update in held:
                engine.on_order_update(update)

    engine.broker.place_order = place_then_halt  # type: ignore[method-assign]
    engine.broker.cancel_order = cancel_then_deliver  # type: ignore[method-assign]
    result = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "breakout", "race", "race", is_auto=True)
    )
    assert cancels, "the halt did not try to take the order back"
    assert result.order is not None
    await eventually(
        lambda: result.order is not None and result.order.status == "filled", 10, "reported filled"
    )
    assert engine.portfolio.qty("005930") == 1


async def test_auto_on_and_off_during_an_outage(fast_engine: Engine, durable_sim: SimExchange) -> None:
    engine, sim = fast_engine, durable_sim
    layer = CommandLayer(engine, None)
    await layer.execute(ADMIN, "auto", {"mode": "on", "condition": "momentum"})
    port = sim.port
    await sim.stop()
    off = await layer.execute(ADMIN, "auto", {"mode": "off"})
    assert isinstance(off, AutoState) and not off.watches
    assert not engine.auto.enabled  # off always takes effect, broker or not
    with pytest.raises(CommandError) as on:
        await layer.execute(ADMIN, "auto", {"mode": "on", "condition": "momentum"})
    assert "failed inside the engine" not in on.value.message
    assert "did not answer" in on.value.message and not engine.auto.enabled
    await sim.start(port=port)
    await eventually(lambda: engine.controls.broker_ready, 20, "the broker back")
    on_again = await layer.execute(ADMIN, "auto", {"mode": "on", "condition": "momentum"})
    assert isinstance(on_again, AutoState) and on_again.watches
