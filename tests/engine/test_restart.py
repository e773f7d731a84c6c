"""SIGKILL the agent and start it again: subscriptions, positions and halt state come back,
and no order is sent twice. Real processes: the sim exchange and the agent, over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.agent import Agent
from tests.conftest import subprocess_env


@pytest.fixture
async def sim_process(tmp_path: Path) -> AsyncIterator[str]:
    sim = await Agent.start(
        subprocess_env(tmp_path),
        "--port",
        "0",
        "--rate",
        "20",
        "--state",
        str(tmp_path / "sim.db"),
        module="engine.sim",
        stderr=False,
    )
    line = await sim.until("SIM LISTENING")
    yield line.split()[-1]
    sim.proc.send_signal(signal.SIGTERM)
    await sim.proc.wait()


async def test_sigkill_restart_restores_state_and_sends_nothing_twice(
    tmp_path: Path, sim_process: str
) -> None:
    env = subprocess_env(tmp_path / "data", SIM_URL=sim_process)
    agent = await Agent.start(env)
    await agent.until("[PAPER]")
    agent.send("/subscribe 005930 watch")
    await agent.until("subscribed 005930")
    agent.send("/subscribe 000660 exits tp=5")
    await agent.until("subscribed 000660")
    agent.send("/buy 005930 3")
    await agent.until("FILL   BUY 3 005930")
    agent.send("/auto on momentum watch")
    await agent.until("following momentum with watch")
    agent.send("/auto on 급등주 exits 2 tp=4")
    await agent.until("following 급등주 with exits")
    agent.send("/halt going home")
    await agent.until("HALTED: going home")

    agent.proc.kill()  # SIGKILL: no cleanup at all
    await agent.proc.wait()

    agent = await Agent.start(env)
    await agent.until("[PAPER]")
    agent.send("/status")
    status = await agent.until("HALTED")
    assert "HALTED (going home)" in status
    agent.send("/subscriptions")
    await agent.until(" of 40 subscriptions")  # the two below, and what auto mode added
    listed = [await agent.until("000660"), await agent.until("005930")]  # sorted by code
    assert "exits" in listed[0] and "watch" in listed[1]
    agent.send("/positions")
    position = await agent.until("005930 삼성전자")
    assert "      3 @" in position
    agent.send("/auto status")
    await agent.until("following 2 condition(s)")
    assert "momentum (id 0) -> watch" in await agent.until("momentum (id 0)")
    assert "-> exits qty 2 tp=4" in await agent.until("급등주 (id 1)")
    agent.send("/buy 005930 1")
    await agent.until("error: trading is halted")
    assert agent.proc.stdin is not None
    agent.proc.stdin.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await agent.proc.wait()
    assert agent.proc.returncode == 0

    async with aiohttp.ClientSession() as http:
        async with http.get(sim_process + "/admin/stats") as resp:
            stats = await resp.json()
        async with http.get(sim_process + "/account") as resp:
            account = await resp.json()
    assert stats["orders"] == 1 and stats["order_requests"] == 1
    assert {p["symbol"]: p["qty"] for p in account["positions"]} == {"005930": 3}


async def test_default_settings_in_a_krx_session_buy_then_sigkill_and_restart(tmp_path: Path) -> None:
    """The defaults (KRX hours, embedded sim), at 10:30 Seoul on a trading day whatever the
    machine's hour: a console /buy fills, and a SIGKILL loses neither it nor the subscription."""
    env = subprocess_env(tmp_path / "data", CLOCK_START="2026-12-02T10:30:00")
    del env["TRADING_HOURS"]  # the default: follow the KRX calendar
    agent = await Agent.start(env)
    await agent.until("[PAPER]")
    agent.send("/subscribe 005930 watch")
    await agent.until("subscribed 005930")
    agent.send("/buy 005930 2")
    await agent.until("FILL   BUY 2 005930")
    agent.proc.kill()
    await agent.proc.wait()

    env["CLOCK_START"] = "2026-12-02T10:31:00"
    agent = await Agent.start(env)
    await agent.until("[PAPER]")
    agent.send("/positions")
    assert "      2 @" in await agent.until("005930 삼성전자")
    agent.send("/subscriptions")
    await agent.until("of 40 subscriptions")  # auto mode adds its own at the open
    assert "watch" in await agent.until("005930 삼성전자")
    assert agent.proc.stdin is not None
    agent.proc.stdin.close()
    async with asyncio.timeout(20):
        assert await agent.proc.wait() == 0
