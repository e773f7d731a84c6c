"""The real discord.py client against the project's fake Discord, with the real engine on the sim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bot.commands import CommandLayer
from bot.discord.config import DiscordConfig
from bot.discord.transport import DiscordTransport
from engine import events as ev
from engine.core import Engine
from engine.heap import freeze_startup_heap, unfreeze_heap
from engine.ordertypes import Side
from tests.conftest import eventually
from tests.fakediscord import FakeDiscord, free_port

TRADER, VIEWER, OTHER_TRADER, ADMIN = 101, 102, 103, 104


def discord_config(fake: FakeDiscord, port: int | None = None) -> DiscordConfig:
    base = f"http://127.0.0.1:{port}" if port else fake.url
    return DiscordConfig(
        token=fake.token,
        guild_id=fake.guild_id,
        signals_channel_id=fake.channels["signals"],
        fills_channel_id=fake.channels["fills"],
        alerts_channel_id=fake.channels["alerts"],
        dashboard_channel_id=fake.channels["dashboard"],
        viewer_role_ids=frozenset({fake.roles["viewer"]}),
        trader_role_ids=frozenset({fake.roles["trader"]}),
        admin_user_ids=frozenset({ADMIN}),
        alert_role_id=fake.roles["admin"],
        api_base=base + "/api/v10",
        gateway_url=base.replace("http", "ws") + "/gateway",
    )


async def start_transport(engine: Engine, config: DiscordConfig) -> DiscordTransport:
    transport = DiscordTransport(
        engine, CommandLayer(engine), config, window=0.1, dashboard_interval=0.3, guild_ready_timeout=0.05
    )
    await transport.start()
    return transport


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(rate_limit=(5, 5.0))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(engine: Engine, fake: FakeDiscord) -> AsyncIterator[DiscordTransport]:
    transport = await start_transport(engine, discord_config(fake))
    await asyncio.wait_for(transport.ready.wait(), 10)
    await transport.bot.tree.sync(guild=transport.bot.guild)  # once, as `python -m bot sync` does
    freeze_startup_heap()  # as the agent does once started
    yield transport
    await transport.close()
    unfreeze_heap()


def embeds_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list((response.get("data") or {}).get("embeds") or [])


def text_of(response: dict[str, Any]) -> str:
    return " ".join(
        f"{e.get('title', '')} {e.get('description', '')} "
        + " ".join(f"{f['name']} {f['value']}" for f in e.get("fields", []))
        for e in embeds_of(response)
    )


async def test_subscribe_status_cancel(engine: Engine, fake: FakeDiscord, bot: DiscordTransport) -> None:
    trader = [fake.roles["trader"]]
    itx = await fake.slash("subscribe", {"symbol": "005930"}, user_id=TRADER, roles=trader)
    defer, answer = await fake.wait_response(itx, count=2)
    assert defer["kind"] == "callback" and defer["type"] == 5
    assert defer["data"]["flags"] & 64 and defer["elapsed"] < 3.0
    assert "subscribed 005930" in text_of(answer)
    assert "005930" in engine.subscriptions.tasks

    itx = await fake.slash("status", user_id=VIEWER, roles=[fake.roles["viewer"]])
    (status,) = await fake.wait_response(itx)
    assert status["type"] == 4 and status["data"]["flags"] & 64
    fields = {f["name"]: f["value"] for f in embeds_of(status)[0]["fields"]}
    assert fields["Subs"] == "1/40" and fields["Broker"] == "connected"

    itx = await fake.slash("cancel", {"symbol": "005930"}, user_id=TRADER, roles=trader)
    _, answer = await fake.wait_response(itx, count=2)
    assert "cancelled 005930" in text_of(answer)
    assert engine.subscriptions.tasks == {}


async def test_buy_needs_a_trader_and_the_invokers_confirmation(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    itx = await fake.slash(
        "buy", {"symbol": "005930", "qty": 2}, user_id=VIEWER, roles=[fake.roles["viewer"]]
    )
    (refused,) = await fake.wait_response(itx)
    assert refused["data"]["flags"] & 64 and "needs the trader role" in text_of(refused)

    itx = await fake.slash(
        "buy", {"symbol": "005930", "qty": 2}, user_id=TRADER, roles=[fake.roles["trader"]]
    )
    (ask,) = await fake.wait_response(itx)
    assert ask["data"]["flags"] & 64 and "Buy 2 005930?" in text_of(ask)
    message = fake.response_message(itx)
    buttons = {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}
    assert set(buttons) == {"Confirm", "Cancel"}

    other = await fake.click(
        message, buttons["Confirm"], user_id=OTHER_TRADER, roles=[fake.roles["trader"]], strict=False
    )
    (no,) = await fake.wait_response(other)
    assert "Only the person who asked" in text_of(no)
    assert engine.orders.orders == {}

    mine = await fake.click(message, buttons["Confirm"], user_id=TRADER, roles=[fake.roles["trader"]])
    update, placed = await fake.wait_response(mine, count=2)
    assert update["type"] == 7 and update["data"]["components"] == []
    assert "Sent: buy 2 005930" in text_of(placed)
    (fill_message, *_) = await fake.wait_messages("fills", 1)
    assert fill_message["embeds"][0]["title"] == "Bought 005930"

    audit = await engine.journal.audit_log()
    refusals = [(a.command, a.result) for a in audit if not a.ok]
    assert ("buy?", "/buy needs the trader role; you have viewer") in refusals
    assert any(c == "buy" and "clicked" in why for c, why in refusals)
    assert [o.status for o in engine.orders.orders.values()] in (["accepted"], ["filled"])


async def test_bad_options_get_ephemeral_errors_and_change_nothing(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    engine.orders.limits = replace(engine.orders.limits, max_order_value=10**12, max_position_value=10**12)
    trader = [fake.roles["trader"]]
    cases: list[tuple[str, dict[str, object], str]] = [
        ("subscribe", {"symbol": "00593"}, "is not a KRX code"),
        ("buy", {"symbol": "005930", "qty": 0}, "quantity must be between 1"),
        ("buy", {"symbol": "005930", "qty": 200}, "KRW is available"),
        ("buy", {"symbol": "005930", "qty": 1, "price": 97650}, "nearest valid prices are 97,600"),
    ]
    for name, options, expected in cases:
        itx = await fake.slash(name, options, user_id=TRADER, roles=trader)
        answer = (await fake.wait_response(itx, count=2 if name == "subscribe" else 1))[-1]
        assert answer["data"]["flags"] & 64
        assert expected in text_of(answer), (name, options, text_of(answer))
    assert engine.orders.orders == {} and engine.subscriptions.tasks == {}


async def test_dm_and_other_guilds_are_refused(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    itx = await fake.slash("status", user_id=ADMIN, guild=False, strict=False)
    (refused,) = await fake.wait_response(itx)
    assert "only takes commands in its own server" in text_of(refused)


async def outbox_drained(engine: Engine) -> bool:
    """Every message Discord accepted is marked sent and nothing waits for a retry: from here on
    the publisher has nothing left that it could send again."""
    return await engine.journal.outbox_pending() == []


async def test_1000_fill_burst_is_delivered_whole(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    # The loop lag during this burst is a benchmark figure: `python -m engine.bench --only
    # alert_burst` (loop_lag_ms_max).
    def lines() -> int:
        total = 0
        for m in fake.messages.get(fake.channels["fills"], []):
            for e in m["embeds"]:
                total += len(e["description"].splitlines()) if e.get("title", "").startswith("Fills") else 1
        return total

    for burst in range(10):  # 1,000 fills within one second, as the broker would deliver them
        for i in range(burst * 100, burst * 100 + 100):
            engine.bus.publish(
                ev.FillEvent(
                    f"TC{i}",
                    f"F{i}",
                    "005930",
                    Side.BUY,
                    1 + i % 5,
                    97_600 + 100 * (i % 9),
                    15,
                    0,
                    0,
                    5,
                    1,
                    1,
                )
            )
        await asyncio.sleep(0.1)

    async def delivered() -> bool:
        return lines() >= 1000 and await outbox_drained(engine)

    await eventually(delivered, 60, "1,000 fills in the fills channel and an empty outbox")
    messages = fake.messages[fake.channels["fills"]]
    assert lines() == 1000  # none lost, none twice
    assert len(messages) <= 100


async def test_discord_down_at_start_trading_goes_on_and_fills_arrive_later(engine: Engine) -> None:
    port = free_port()
    placeholder = FakeDiscord(port=port)
    transport = await start_transport(engine, discord_config(placeholder, port))
    try:
        from engine.orders import OrderIntent

        res = await engine.orders.submit(
            OrderIntent("005930", Side.BUY, 3, None, "test", "offline", "offline-1", is_auto=False)
        )
        assert res.order is not None
        await eventually(lambda: engine.portfolio.qty("005930") == 3, 10, "the fill while offline")
        assert not transport.ready.is_set() and transport.login_failures >= 1
        fills = await engine.journal.fills()
        await placeholder.start(port=port)
        await asyncio.wait_for(transport.ready.wait(), 20)

        def fill_lines() -> list[str]:
            return [
                e["title"]
                for m in placeholder.messages.get(placeholder.channels["fills"], [])
                for e in m["embeds"]
            ]

        async def delivered() -> bool:
            return len(fill_lines()) >= len(fills) and await outbox_drained(engine)

        await eventually(delivered, 15, "queued fills delivered and the outbox empty")
        assert fill_lines() == ["Bought 005930"] * len(fills)  # none lost, none twice
    finally:
        await transport.close()
        await placeholder.stop()


async def test_gateway_reconnect_resumes_without_resyncing(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    syncs = fake.sync_calls
    await fake.send_reconnect()
    await fake.wait_until(lambda: fake.resumes == 1, 10, "a RESUME")
    itx = await fake.slash("status", user_id=VIEWER, roles=[fake.roles["viewer"]])
    (status,) = await fake.wait_response(itx)
    assert status["type"] == 4
    assert fake.sync_calls == syncs and fake.identifies == 1


async def test_sync_publishes_to_the_guild_only(engine: Engine, fake: FakeDiscord) -> None:
    from bot.discord.transport import sync_commands

    count = await sync_commands(engine, CommandLayer(engine), discord_config(fake))
    names = {c["name"] for c in fake.synced_commands[fake.guild_id]}
    assert count == len(names) == 20
    assert {"subscribe", "buy", "sell", "halt", "resume", "settings"} <= names
    assert not fake.synced_commands.get(None)  # nothing global


async def test_dashboard_is_one_message_edited_in_place(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    await fake.wait_messages("dashboard", 1)
    await engine.halt("test", "dashboard check")
    await eventually(lambda: bot.dashboard.edits >= 1, 5, "a dashboard edit")
    (message,) = fake.messages[fake.channels["dashboard"]]
    assert message["embeds"][0]["title"] == "PAPER · HALTED: dashboard check"


async def test_halt_alert_mentions_the_alert_role(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    itx = await fake.slash("halt", {"reason": "too volatile"}, user_id=TRADER, roles=[fake.roles["trader"]])
    await fake.wait_response(itx, count=2)
    (alert, *_) = await fake.wait_messages("alerts", 1)
    assert alert["content"] == f"<@&{fake.roles['admin']}>"
    assert alert["embeds"][0]["title"] == "Trading halted"
    assert "too volatile" in alert["embeds"][0]["description"]


async def test_a_refused_token_never_stops_trading(engine: Engine, fake: FakeDiscord) -> None:
    config = replace(discord_config(fake), token="not-the-right-token")
    transport = await start_transport(engine, config)
    try:
        await eventually(lambda: transport.login_failures >= 2, 10, "two refused logins")
        from engine.orders import OrderIntent

        await engine.orders.submit(
            OrderIntent("005930", Side.BUY, 1, None, "test", "no discord", "nd-1", is_auto=False)
        )
        await eventually(lambda: engine.portfolio.qty("005930") == 1, 10, "a fill without Discord")
        assert not transport.ready.is_set()
    finally:
        await transport.close()


async def test_chart_is_a_png_rendered_off_the_loop(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    # The loop lag while /chart renders is a benchmark figure: `python -m engine.bench --only
    # chart_command` (loop_lag_ms_max).
    import io
    import os

    from PIL import Image

    await engine.subscriptions.subscribe("005930", "watch")
    await eventually(
        lambda: "005930" in engine.bars and bool(engine.bars["005930"].bars()), 10, "recorded ticks"
    )
    itx = await fake.slash(
        "chart", {"symbol": "005930", "interval": 1}, user_id=VIEWER, roles=[fake.roles["viewer"]]
    )
    _, answer = await fake.wait_response(itx, count=2, timeout=20)
    assert "005930" in text_of(answer)
    (message,) = fake.followups(itx) or [fake.response_message(itx)]
    (attachment,) = message["attachments"]
    png = fake.attachments_data[(int(message["id"]), attachment["filename"])]
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width >= 800 and image.height >= 480
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 20  # not blank
    worker = engine._charts  # rendered by the chart worker's child process, not on this loop
    assert worker is not None and worker.pid not in (None, os.getpid())
