"""The broker does not answer at start-up: the agent starts anyway, says why, refuses orders
until it can reconcile, and catches up on its own once the broker answers."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from bot.commands import CommandLayer
from bot.commands.context import CommandError, Invocation, Role
from bot.commands.results import HaltState
from engine import events as ev
from engine.core import Engine
from engine.orders import OrderIntent
from engine.sim.config import SimConfig
from engine.sim.server import SimExchange
from tests.conftest import engine_config, eventually
from tests.engine.brokers.kis.test_kis_e2e import kis_config
from tests.fakekis import FakeKis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alerts(queue: asyncio.Queue[ev.Event]) -> list[ev.AlertEvent]:
    out = []
    while not queue.empty():
        e = queue.get_nowait()
        if isinstance(e, ev.AlertEvent):
            out.append(e)
    return out


async def test_unreachable_sim_then_it_comes_up(tmp_path: Path) -> None:
    port = free_port()
    engine = Engine(engine_config(tmp_path, f"http://127.0.0.1:{port}"))
    engine.connect_backoff = (0.2,)
    events = engine.bus.subscribe()
    await engine.start()  # returns: the console and Discord must come up
    sim = SimExchange(SimConfig(tick_rate=50.0, seed=11, condition_threshold_pct=29.0))
    try:
        status = engine.status()
        assert status.broker_state.startswith("broker unreachable"), status.broker_state
        (alert,) = [a for a in alerts(events) if a.title == "Broker not available"]
        assert "every order is refused" in alert.message
        refused = await engine.orders.submit(
            OrderIntent("005930", "buy", 1, None, "manual:t", "early", "early", is_auto=False)
        )
        assert refused.rejection is not None and refused.rejection.code == "broker_unavailable"
        assert "unreachable" in refused.rejection.message
        layer = CommandLayer(engine, None)
        admin = Invocation("console", "console", Role.ADMIN, "i")
        with pytest.raises(CommandError) as auto:
            await layer.execute(admin, "auto", {"mode": "on", "condition": "momentum"})
        assert "did not answer" in auto.value.message, auto.value.message
        halted = await layer.execute(admin, "halt", {"reason": "away"})
        assert isinstance(halted, HaltState) and halted.halted
        await layer.execute(admin, "resume", {})

        # Several retries later, still one alert: one per cause, not one per attempt.
        await eventually(lambda: engine._connect_attempts >= 3, 10, "three attempts")
        assert not [a for a in alerts(events) if a.title == "Broker not available"]
        await sim.start(port=port)
        await engine.wait_ready(20)
        assert engine.status().broker_state == "ready"
        assert engine.portfolio.initial_cash == sim.config.initial_cash
        bought = await engine.orders.submit(
            OrderIntent("005930", "buy", 1, None, "manual:t", "later", "later", is_auto=False)
        )
        assert bought.ok
        await eventually(lambda: engine.portfolio.qty("005930") == 1, 10, "the fill")
    finally:
        await engine.stop()
        await sim.stop()


async def test_kis_credentials_refused_are_named_not_printed(tmp_path: Path) -> None:
    fake = FakeKis(env="paper", rate_limit=None)
    await fake.start()
    config = replace(kis_config(fake), app_key="P" + "x" * 35, app_secret="s" * 180)
    base = engine_config(tmp_path, "http://unused")
    engine = Engine(replace(base, broker="kis", broker_settings=config))
    engine.connect_backoff = (30.0,)
    events = engine.bus.subscribe()
    try:
        await engine.start()
        state = engine.status().broker_state
        assert "credentials refused: check KIS_APP_KEY / KIS_APP_SECRET" in state, state
        texts = [a.message for a in alerts(events)]
        assert any("credentials refused" in t for t in texts)
        assert not any(config.app_key in t or config.app_secret in t for t in [*texts, state])
    finally:
        await engine.stop()
        await fake.stop()
