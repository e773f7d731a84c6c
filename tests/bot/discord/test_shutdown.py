"""The real agent process with Discord configured: SIGTERM closes everything in order, with
nothing left in flight, and the token never appears in any output."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT, subprocess_env
from tests.fakediscord import FakeDiscord

TOKEN = "MTA0OTk5.fake.token-for-tests-0123456789"
TRADER = 101


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    yield server
    await server.stop()


async def test_sigterm_shuts_down_cleanly_with_nothing_in_flight(tmp_path: Path, fake: FakeDiscord) -> None:
    data = tmp_path / "data"
    env = subprocess_env(
        data,
        DISCORD_TOKEN=TOKEN,
        DISCORD_GUILD_ID=str(fake.guild_id),
        DISCORD_SIGNALS_CHANNEL_ID=str(fake.channels["signals"]),
        DISCORD_FILLS_CHANNEL_ID=str(fake.channels["fills"]),
        DISCORD_ALERTS_CHANNEL_ID=str(fake.channels["alerts"]),
        DISCORD_DASHBOARD_CHANNEL_ID=str(fake.channels["dashboard"]),
        DISCORD_TRADER_ROLE_IDS=str(fake.roles["trader"]),
        DISCORD_ADMIN_USER_IDS="104",
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DISCORD_SKIP_CONFIRM_IN_PAPER="yes",
        SIM_TICK_RATE="20",
    )
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bot",
        "run",
        "--headless",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_connected(20)
        await fake.wait_messages("dashboard", 1, 20)
        # The process never synced: the command reaches it as Discord would deliver it.
        itx = await fake.slash(
            "buy", {"symbol": "005930", "qty": 1}, user_id=TRADER, roles=[fake.roles["trader"]], strict=False
        )
        await fake.wait_response(itx, count=2, timeout=10)
        await fake.wait_messages("fills", 1, 15)
        assert fake.sync_calls == 0  # never synced at start
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode() + err.decode()
    assert "Traceback" not in text and "Task was destroyed" not in text
    assert "Unclosed" not in text
    assert TOKEN not in text
    db = sqlite3.connect(data / "journal.db")
    assert db.execute("SELECT count(*) FROM outbox WHERE sent_ns IS NULL").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (1,)
