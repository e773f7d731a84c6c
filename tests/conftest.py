"""Shared fixtures: a real sim exchange on 127.0.0.1 and an engine wired to it."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine.brokers.sim.config import SimSettings
from engine.config import EngineConfig
from engine.core import Engine
from engine.sim.config import SimConfig
from engine.sim.server import SimExchange

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll until check() is true; fail with `what` after timeout seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def read_until(stream: asyncio.StreamReader | None, marker: str, timeout: float = 60.0) -> list[str]:
    """The lines a child process writes, up to the first that holds `marker`; fails with what
    it wrote if it ends first."""
    assert stream is not None
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while not lines or marker not in lines[-1]:
            raw = await stream.readline()
            assert raw, "".join(lines)
            lines.append(raw.decode())
    return lines


@pytest.fixture
async def sim() -> AsyncIterator[SimExchange]:
    # A high tick rate keeps tests short; a threshold no symbol reaches keeps the real condition
    # stream quiet so tests control it.
    exchange = SimExchange(
        SimConfig(
            tick_rate=50.0,
            seed=11,
            condition_threshold_pct=29.0,
            riser_threshold_pct=29.0,
            surge_ratio=1000.0,
            heartbeat_interval=1.0,
        )
    )
    await exchange.start()
    yield exchange
    await exchange.stop()


def engine_config(tmp_path: Path, sim_url: str, **sim_overrides: Any) -> EngineConfig:
    base = EngineConfig()
    sim = replace(SimSettings(url=sim_url), **sim_overrides)
    return replace(base, data_dir=tmp_path / "data", broker_settings=sim)


@pytest.fixture
async def engine(tmp_path: Path, sim: SimExchange) -> AsyncIterator[Engine]:
    eng = Engine(engine_config(tmp_path, sim.url))
    await eng.start()
    yield eng
    await eng.stop()


async def sim_get(sim: SimExchange, path: str) -> object:
    async with aiohttp.ClientSession() as http, http.get(sim.url + path) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def sim_post(sim: SimExchange, path: str, body: object) -> object:
    async with aiohttp.ClientSession() as http, http.post(sim.url + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def subprocess_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIM_", "DISCORD_", "RISK_", "TRADING_", "SESSION_"))
    }
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            # Tests that are not about the calendar must not depend on the hour they run.
            "TRADING_HOURS": "always",
        }
    )
    env.update(extra)
    return env
