from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from engine.sim import SimConfig, SimExchange

SimFactory = Callable[..., Awaitable[SimExchange]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Start real sims on free ports; every one still running is stopped after the test."""
    sims: list[SimExchange] = []

    async def factory(**overrides: Any) -> SimExchange:
        settings: dict[str, Any] = {"tick_rate": 100.0, "symbols": ("005930", "000660")}
        settings.update(overrides)
        sim = SimExchange(SimConfig(**settings))
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
