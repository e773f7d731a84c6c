from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from engine.clock import Clock
from engine.sim import SimConfig, SimExchange

SimFactory = Callable[..., Awaitable[SimExchange]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Start real sims on free ports; every one still running is stopped after the test."""
    sims: list[SimExchange] = []

    async def factory(clock: Clock | None = None, **overrides: Any) -> SimExchange:
        settings: dict[str, Any] = {"tick_rate": 100.0, "symbols": ("005930", "000660")}
        settings.update(overrides)
        sim = SimExchange(SimConfig(**settings), clock)
        await sim.start()
        sims.append(sim)
        return sim

    yield factory
    for sim in sims:
        await sim.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
