"""The start-up reconciliation's alert, raised inside Engine.start() before Discord attaches,
is posted to the alerts channel through the outbox: once, whether Discord is up at start or
comes up only at the next start. The real discord.py client against the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands import CommandLayer
from bot.discord.config import DiscordConfig
from bot.discord.transport import DiscordTransport
from engine.core import Engine
from engine.sim.server import SimExchange
from tests.bot.discord.test_e2e import discord_config
from tests.bot.test_startup_alerts import LOST, journal_an_interrupted_send
from tests.conftest import engine_config, eventually
from tests.fakediscord import FakeDiscord, free_port

TEXT = "never reached the broker: marked not sent"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


def reconcile_posts(fake: FakeDiscord) -> list[str]:
    return [
        e.get("description", "")
        for m in fake.messages.get(fake.channels["alerts"], [])
        for e in m["embeds"]
        if e.get("title") == "Reconciled at start-up"
    ]


async def start(tmp_path: Path, sim: SimExchange, config: DiscordConfig) -> tuple[Engine, DiscordTransport]:
    """As the agent does: the engine first (its start-up reconciles), then Discord."""
    engine = Engine(engine_config(tmp_path, sim.url))
    await engine.start()
    transport = DiscordTransport(
        engine, CommandLayer(engine), config, window=0.1, dashboard_interval=0.3, guild_ready_timeout=0.05
    )
    await transport.start()
    return engine, transport


async def outbox_empty(engine: Engine) -> bool:
    return await engine.journal.outbox_pending() == []


async def stop(engine: Engine, transport: DiscordTransport) -> None:
    await transport.close()
    await engine.stop()


async def test_start_up_reconcile_alert_is_posted_to_the_alerts_channel(
    tmp_path: Path, sim: SimExchange, fake: FakeDiscord
) -> None:
    await journal_an_interrupted_send(tmp_path / "data")
    engine, transport = await start(tmp_path, sim, discord_config(fake))
    try:
        await eventually(lambda: reconcile_posts(fake) != [], 20, "the reconcile alert posted")
        await eventually(lambda: outbox_empty(engine), 10, "an empty outbox")
    finally:
        await stop(engine, transport)
    (posted,) = reconcile_posts(fake)
    assert LOST in posted and TEXT in posted

    # The next start has nothing to reconcile and nothing left in the outbox: no second post.
    engine, transport = await start(tmp_path, sim, discord_config(fake))
    try:
        await asyncio.wait_for(transport.ready.wait(), 20)
        await asyncio.sleep(1.0)
        assert len(reconcile_posts(fake)) == 1
    finally:
        await stop(engine, transport)


async def test_start_up_reconcile_alert_waits_in_the_outbox_while_discord_is_down(
    tmp_path: Path, sim: SimExchange
) -> None:
    await journal_an_interrupted_send(tmp_path / "data")
    port = free_port()
    placeholder = FakeDiscord(port=port)
    config = discord_config(placeholder, port)
    engine, transport = await start(tmp_path, sim, config)  # Discord is down
    try:

        async def queued() -> bool:
            return any(
                TEXT in str(payload)
                for _, channel, payload, _ in await engine.journal.outbox_pending()
                if channel == "alerts"
            )

        await eventually(queued, 10, "the reconcile alert kept in the outbox")
    finally:
        await stop(engine, transport)

    await placeholder.start(port=port)
    try:
        engine, transport = await start(tmp_path, sim, config)
        try:
            await eventually(lambda: reconcile_posts(placeholder) != [], 20, "the kept alert posted")
            await eventually(lambda: outbox_empty(engine), 10, "an empty outbox")
            await asyncio.sleep(0.5)
        finally:
            await stop(engine, transport)
        (posted,) = reconcile_posts(placeholder)  # once: from the outbox, not replayed again
        assert LOST in posted and TEXT in posted
    finally:
        await placeholder.stop()
