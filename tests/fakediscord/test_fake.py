"""The fake Discord against the real discord.py client: a tiny bot, every flow the project needs."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakediscord import CommandRejected, FakeDiscord, free_port

GUILD_ID = 9001
GUILD = discord.Object(GUILD_ID)
ALICE = 111
BOB = 222
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
SYMBOLS = ["005930", "000660", "035420", "035720", "051910"]


class Confirm(discord.ui.View):
    def __init__(self, invoker_id: int) -> None:
        super().__init__(timeout=30)
        self.invoker_id = invoker_id
        self.value: bool | None = None

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.invoker_id:
            await interaction.response.send_message("Not yours.", ephemeral=True)
            return False
        return True

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button[Confirm]) -> None:
        self.value = True
        await interaction.response.edit_message(content="Submitting…", view=None)
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button[Confirm]) -> None:
        self.value = False
        await interaction.response.edit_message(content="Cancelled", view=None)
        self.stop()


class GuildOnlyTree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.guild is None:
            await interaction.response.send_message("Use me in the server.", ephemeral=True)
            return False
        return True


class TestBot(discord.Client):
    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = GuildOnlyTree(self)
        self.late_errors: list[discord.HTTPException] = []
        self.confirm_results: list[bool | None] = []
        self.seen: list[tuple[str, object]] = []
        self.resumed_events = 0
        self.ready_events = 0
        self.user_messages: list[str] = []
        self._register()

    async def on_resumed(self) -> None:
        self.resumed_events += 1

    async def on_ready(self) -> None:
        self.ready_events += 1

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # The default sleeps 5 s before every non-initial IDENTIFY (after op 9 or an unknown session).
        pass

    async def on_message(self, message: discord.Message) -> None:
        self.user_messages.append(message.content)

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=GUILD)

    def _register(self) -> None:
        tree = self.tree

        @tree.command(guild=GUILD, description="Place an order")
        async def order(
            interaction: discord.Interaction, symbol: str, qty: app_commands.Range[int, 1, 1000]
        ) -> None:
            self.seen.append(("order", qty))
            await interaction.response.send_message(f"order {symbol} x{qty}", ephemeral=True)

        @tree.command(guild=GUILD, description="Chart a symbol")
        async def chart(interaction: discord.Interaction, symbol: str) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await asyncio.sleep(0.05)  # the slow part a defer is for
            embed = discord.Embed(title=f"{symbol} 5m").set_image(url="attachment://chart.png")
            await interaction.followup.send(embed=embed, file=discord.File(io.BytesIO(PNG), "chart.png"))

        @tree.command(guild=GUILD, description="Buy after confirmation")
        async def buy(interaction: discord.Interaction, symbol: str) -> None:
            view = Confirm(interaction.user.id)
            await interaction.response.send_message(f"Buy {symbol}?", view=view)
            await interaction.original_response()
            timed_out = await view.wait()
            self.confirm_results.append(None if timed_out else view.value)
            await interaction.followup.send(f"filled {symbol}" if view.value else "not sent", ephemeral=True)

        @tree.command(guild=GUILD, description="Quote a symbol")
        async def quote(interaction: discord.Interaction, symbol: str) -> None:
            await interaction.response.send_message(f"quote {symbol}", ephemeral=True)

        @quote.autocomplete("symbol")
        async def quote_symbols(_: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=s, value=s) for s in SYMBOLS if s.startswith(current)][:25]

        watch = app_commands.Group(name="watch", description="Watch list", guild_ids=[GUILD_ID])

        @watch.command(description="Watch a symbol")
        async def add(
            interaction: discord.Interaction,
            symbol: str,
            channel: discord.TextChannel,
            threshold: float = 1.5,
        ) -> None:
            self.seen.append(("watch add", (symbol, channel.name, threshold)))
            await interaction.response.send_message(f"watching {symbol} in #{channel.name}", ephemeral=True)

        tree.add_command(watch)

        @tree.command(guild=GUILD, description="Answers too late")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(3.2)
            try:
                await interaction.response.send_message("too late", ephemeral=True)
            except discord.NotFound as exc:
                self.late_errors.append(exc)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(rate_limit=(5, 1.0))
    await server.start()
    with server.patched():
        yield server
    await server.stop()


async def run_bot(fake: FakeDiscord, bot: discord.Client) -> asyncio.Task[None]:
    # login() first, in the test's own await, so setup errors (sync, LoginFailure) surface here;
    # create_task(start()) followed by wait_until_ready() races the client's setup.
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(), name="test-bot-connect")
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    return task


async def close_bot(bot: discord.Client, task: asyncio.Task[None]) -> None:
    await bot.close()
    await asyncio.wait_for(task, 5)
    await asyncio.sleep(0)
    # close() cancels neither running app-command tasks nor View timeout tasks: a bot must stop
    # its views and finish its commands itself. Cancel here so a failed test leaves no orphans.
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    if leftover:
        _, pending = await asyncio.wait(leftover, timeout=0.5)  # allow tasks that are just finishing
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        assert not pending, f"tasks left after close: {pending}"


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TestBot]:
    client = TestBot()
    task = await run_bot(fake, client)
    yield client
    await close_bot(client, task)
    assert not fake.unknown_requests, fake.unknown_requests
    assert not fake.server_errors, fake.server_errors


async def test_login_sync_ready_and_guild_cache(fake: FakeDiscord, bot: TestBot) -> None:
    assert fake.sync_calls == 1
    names = sorted(c["name"] for c in fake.synced_commands[GUILD_ID])
    assert names == ["buy", "chart", "order", "quote", "slow", "watch"]
    order = next(c for c in fake.synced_commands[GUILD_ID] if c["name"] == "order")
    assert [(o["name"], o["type"], o.get("min_value"), o.get("max_value")) for o in order["options"]] == [
        ("symbol", 3, None, None),
        ("qty", 4, 1, 1000),
    ]
    assert (fake.identifies, fake.resumes, fake.connections) == (1, 0, 1)
    assert fake.identify_payloads[0]["intents"] == discord.Intents.default().value
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and guild.name == fake.guild_name
    assert sorted(c.name for c in guild.text_channels) == sorted(fake.channels)
    assert {r.name for r in guild.roles} == {"@everyone", "viewer", "trader", "admin"}
    assert guild.me is not None and guild.me.id == fake.bot_user_id
    assert bot.application_id == fake.app_id
    assert bot.user is not None and bot.user.bot


async def test_wrong_token_is_login_failure(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.error_responses[-1]["status"] == 401


async def test_slash_replies_ephemerally_within_deadline(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.slash(
        "order", {"symbol": "005930", "qty": 10}, user_id=ALICE, roles=[fake.roles["trader"]]
    )
    (reply,) = await fake.wait_response(itx)
    assert reply["kind"] == "callback" and reply["type"] == 4
    assert reply["data"]["content"] == "order 005930 x10"
    assert reply["data"]["flags"] & 64
    assert reply["elapsed"] < 3.0
    message = fake.response_message(itx)
    assert message["flags"] & 64 and message["interaction_metadata"]["user"]["id"] == str(ALICE)
    assert fake.messages == {}  # interaction replies are not channel posts


async def test_strict_options_follow_the_synced_schema(fake: FakeDiscord, bot: TestBot) -> None:
    with pytest.raises(CommandRejected, match="within"):
        await fake.slash("order", {"symbol": "005930", "qty": 5000}, user_id=ALICE)
    with pytest.raises(CommandRejected, match="missing required option 'qty'"):
        await fake.slash("order", {"symbol": "005930"}, user_id=ALICE)
    # Range is only a hint to Discord: discord.py itself hands 5000 to the callback.
    itx = await fake.slash("order", {"symbol": "005930", "qty": 5000}, user_id=ALICE, strict=False)
    await fake.wait_response(itx)
    assert ("order", 5000) in bot.seen


async def test_subcommand_with_channel_and_number_options(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.slash(
        "watch", {"symbol": "005930", "channel": "signals", "threshold": 2.5}, subcommand="add", user_id=ALICE
    )
    (reply,) = await fake.wait_response(itx)
    assert reply["data"]["content"] == "watching 005930 in #signals"
    assert ("watch add", ("005930", "signals", 2.5)) in bot.seen
    (sub,) = itx.payload["data"]["options"]
    assert sub["name"] == "add" and [o["type"] for o in sub["options"]] == [3, 7, 10]
    with pytest.raises(CommandRejected, match="needs a subcommand"):
        await fake.slash("watch", {}, user_id=ALICE)


async def test_defer_then_followup_with_embed_and_file(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.slash("chart", {"symbol": "005930"}, user_id=ALICE)
    defer, followup = await fake.wait_response(itx, count=2)
    assert defer["type"] == 5 and defer["data"]["flags"] == 64
    assert followup["kind"] == "followup" and followup["files"] == ["chart.png"]
    # The first followup after a defer resolves the "thinking" message and stays ephemeral.
    assert followup["resolved_defer"]
    message = fake.response_message(itx)
    assert message["flags"] == 64
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "chart.png" and attachment["size"] == len(PNG)
    assert fake.attachments_data[(int(message["id"]), "chart.png")] == PNG
    assert message["embeds"][0]["title"] == "005930 5m"
    assert message["embeds"][0]["image"]["url"] == attachment["url"]
    async with aiohttp.ClientSession() as http, http.get(attachment["url"]) as resp:
        assert await resp.read() == PNG


async def test_view_only_the_invoker_may_confirm(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.slash("buy", {"symbol": "005930"}, user_id=ALICE)
    await fake.wait_response(itx)
    prompt = fake.response_message(itx)
    assert [c["label"] for c in prompt["components"][0]["components"]] == ["Confirm", "Cancel"]
    confirm_id = prompt["components"][0]["components"][0]["custom_id"]

    other = await fake.click(prompt, confirm_id, user_id=BOB)
    (refusal,) = await fake.wait_response(other)
    assert refusal["type"] == 4
    assert (refusal["data"]["content"], refusal["data"]["flags"]) == ("Not yours.", 64)
    assert prompt["components"]  # untouched

    mine = await fake.click(prompt, confirm_id, user_id=ALICE)
    (update,) = await fake.wait_response(mine)
    assert update["type"] == 7 and update["data"]["components"] == []
    assert prompt["content"] == "Submitting…" and prompt["components"] == []  # edited in place
    responses = await fake.wait_response(itx, count=2)
    assert responses[1]["kind"] == "followup" and responses[1]["data"]["content"] == "filled 005930"
    assert bot.confirm_results == [True]
    with pytest.raises(AssertionError, match="no component"):
        await fake.click(prompt, confirm_id, user_id=ALICE)


async def test_autocomplete_choices(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.autocomplete("quote", {"symbol": "03"}, "symbol", user_id=ALICE)
    (result,) = await fake.wait_response(itx)
    assert result["type"] == 8
    assert [c["value"] for c in result["data"]["choices"]] == ["035420", "035720"]


async def test_rate_limited_channel_sends_all_arrive(fake: FakeDiscord, bot: TestBot) -> None:
    channel = bot.get_channel(fake.channels["signals"])
    assert isinstance(channel, discord.TextChannel)
    started = time.monotonic()
    await asyncio.gather(*(channel.send(f"signal {i}") for i in range(12)))
    elapsed = time.monotonic() - started
    sent = await fake.wait_messages("signals", 12)
    assert sorted(m["content"] for m in sent) == sorted(f"signal {i}" for i in range(12))
    assert fake.posts_per_channel[fake.channels["signals"]] == 12
    # 5 per second: discord.py waits pre-emptively from the headers instead of hitting 429s.
    assert elapsed >= 1.8
    assert fake.rate_limited_429s == 0


async def test_429_without_headers_is_retried() -> None:
    fake = FakeDiscord(rate_limit=(3, 0.5), ratelimit_headers=False)
    await fake.start()
    with fake.patched():
        bot = TestBot()
        task = await run_bot(fake, bot)
        channel = bot.get_channel(fake.channels["alerts"])
        assert isinstance(channel, discord.TextChannel)
        for i in range(5):
            await channel.send(f"alert {i}")
        await close_bot(bot, task)
    await fake.stop()
    assert [m["content"] for m in fake.messages[fake.channels["alerts"]]] == [f"alert {i}" for i in range(5)]
    assert fake.rate_limited_429s >= 1
    assert fake.error_responses[0]["status"] == 429


async def test_message_limits(fake: FakeDiscord, bot: TestBot) -> None:
    channel = bot.get_channel(fake.channels["fills"])
    assert isinstance(channel, discord.TextChannel)
    # discord.py refuses more than 10 embeds itself, before any request.
    with pytest.raises(ValueError, match="maximum of 10"):
        await channel.send(embeds=[discord.Embed(title=str(i)) for i in range(11)])
    # ...but not the 6000-character total or per-field limits: those come back as 50035.
    big = [discord.Embed(title="x", description="y" * 1000) for _ in range(7)]
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(embeds=big)
    assert too_big.value.status == 400 and too_big.value.code == 50035
    assert "6000" in str(too_big.value)
    with pytest.raises(discord.HTTPException) as long_title:
        await channel.send(embed=discord.Embed(title="t" * 257))
    assert long_title.value.code == 50035 and "embeds.0.title" in str(long_title.value)
    with pytest.raises(discord.HTTPException) as long_content:
        await channel.send("c" * 2001)
    assert long_content.value.code == 50035
    assert fake.messages.get(fake.channels["fills"], []) == []
    sent = await channel.send(embeds=[discord.Embed(title="ok", description="z" * 500) for _ in range(10)])
    await sent.edit(content="edited")
    stored = fake.messages[fake.channels["fills"]][0]
    assert stored["content"] == "edited" and len(stored["embeds"]) == 10
    assert fake.edits[-1]["message_id"] == str(sent.id)


async def test_late_callback_is_unknown_interaction(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.slash("slow", user_id=ALICE)
    await fake.wait_until(lambda: bool(bot.late_errors), timeout=6, what="the late reply's error")
    assert bot.late_errors[0].code == 10062 and bot.late_errors[0].status == 404
    assert fake.responses[itx.id] == []


async def test_second_callback_is_already_acknowledged(fake: FakeDiscord, bot: TestBot) -> None:
    itx = await fake.slash("order", {"symbol": "005930", "qty": 1}, user_id=ALICE)
    await fake.wait_response(itx)
    # discord.py refuses a second response itself (InteractionResponded); Discord's answer is 40060.
    url = f"{fake.api_base}/interactions/{itx.id}/{itx.token}/callback?with_response=1"
    again = {"type": 4, "data": {"content": "again"}}
    async with aiohttp.ClientSession() as http, http.post(url, json=again) as resp:
        assert resp.status == 400 and (await resp.json())["code"] == 40060
    assert len(fake.responses[itx.id]) == 1


async def test_reconnect_resumes_without_resync(fake: FakeDiscord, bot: TestBot) -> None:
    await fake.send_reconnect()
    assert (fake.resumes, fake.identifies, fake.connections) == (1, 1, 2)
    await fake.wait_until(lambda: bot.resumed_events == 1, what="on_resumed")
    itx = await fake.slash("order", {"symbol": "000660", "qty": 2}, user_id=ALICE)
    (reply,) = await fake.wait_response(itx)
    assert reply["data"]["content"] == "order 000660 x2"
    assert fake.sync_calls == 1

    await fake.drop_gateway()
    assert (fake.resumes, fake.identifies) == (2, 1)
    itx = await fake.slash("order", {"symbol": "000660", "qty": 3}, user_id=ALICE)
    await fake.wait_response(itx)
    # RESUMEs go to READY's resume_gateway_url, never to the default gateway.
    assert fake.gateway.paths == ["/gateway", "/gateway-resume", "/gateway-resume"]

    # A session Discord forgot: op 9, and the bot IDENTIFIES afresh (READY + GUILD_CREATE again).
    await fake.invalidate_session()
    await fake.wait_until(lambda: bot.ready_events == 2, what="a second on_ready after a new IDENTIFY")
    assert fake.identifies == 2 and fake.sync_calls == 1


async def test_dm_interaction_has_no_guild(fake: FakeDiscord, bot: TestBot) -> None:
    with pytest.raises(CommandRejected, match="guild command"):
        await fake.slash("order", {"symbol": "005930", "qty": 1}, user_id=ALICE, guild=False)
    itx = await fake.slash("order", {"symbol": "005930", "qty": 1}, user_id=ALICE, guild=False, strict=False)
    assert "guild_id" not in itx.payload and "member" not in itx.payload
    assert itx.payload["user"]["id"] == str(ALICE) and itx.payload["channel"]["type"] == 1
    (reply,) = await fake.wait_response(itx)
    assert reply["data"]["content"] == "Use me in the server." and reply["data"]["flags"] == 64
    assert bot.seen == []


async def test_discord_down_at_start_then_up(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    fake = FakeDiscord(port=port)
    with fake.patched():
        bot = TestBot()
        with pytest.raises(aiohttp.ClientConnectorError):
            await bot.login(fake.token)
        await fake.start()
        # A failed login leaves the HTTP session open: close it before logging in again, or
        # aiohttp reports an unclosed session when the first one is collected.
        await bot.http.close()
        bot.http.connector = discord.utils.MISSING
        task = await run_bot(fake, bot)
        assert fake.port == port and fake.identifies == 1
        itx = await fake.slash("quote", {"symbol": "005930"}, user_id=ALICE)
        await fake.wait_response(itx)

        # Discord goes away and comes back: the bot resumes the same session.
        await fake.restart(downtime=0.2)
        await fake.wait_connected(timeout=15)
        assert fake.resumes == 1 and fake.identifies == 1
        await close_bot(bot, task)
    await fake.stop()


async def test_stop_leaves_nothing_running() -> None:
    fake = FakeDiscord()
    await fake.start()
    await fake.stop()
    await fake.stop()  # idempotent
    assert not fake.running
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as http, http.get(fake.url + "/api/v10/gateway"):
            pass
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_injected_failure_and_user_messages(fake: FakeDiscord, bot: TestBot) -> None:
    fake.inject_failure(
        "POST",
        f"/channels/{fake.channels['alerts']}/messages",
        403,
        body={"code": 50013, "message": "Missing Permissions"},
    )
    channel = bot.get_channel(fake.channels["alerts"])
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden):
        await channel.send("nope")
    await channel.send("yes")
    assert [m["content"] for m in fake.messages[fake.channels["alerts"]]] == ["yes"]

    # Without the MESSAGE_CONTENT intent Discord blanks content unless the bot is mentioned.
    await fake.user_message("!status", user_id=ALICE)
    await fake.user_message(f"<@{fake.bot_user_id}> status", user_id=ALICE)
    await fake.wait_until(lambda: len(bot.user_messages) == 2, what="two MESSAGE_CREATEs")
    assert bot.user_messages == ["", f"<@{fake.bot_user_id}> status"]


async def test_auto_sharded_client_uses_gateway_bot(fake: FakeDiscord) -> None:
    client = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    task = await run_bot(fake, client)
    assert ("GET", "/api/v10/gateway/bot", 200) in fake.requests
    assert fake.identify_payloads[0]["shard"] == [0, 1]
    assert client.get_guild(GUILD_ID) is not None
    await close_bot(client, task)
