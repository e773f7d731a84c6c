"""The Discord transport as the engine's optional adapter: started after the engine, stopped
before it, and never a reason for trading to stop. Login failures and outages are retried
forever with backoff while the engine trades on."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord

from bot.commands import CommandLayer
from bot.discord.client import TradecordBot, point_at
from bot.discord.config import DiscordConfig
from bot.discord.dashboard import Dashboard
from bot.discord.publisher import Publisher
from bot.discord.replies import load_file
from engine import events as ev
from engine.core import Engine
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)


class DiscordTransport:
    def __init__(
        self,
        engine: Engine,
        layer: CommandLayer,
        config: DiscordConfig,
        window: float = 0.5,
        dashboard_interval: float = 15.0,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        point_at(config)
        self.engine = engine
        self.config = config
        self.ready = asyncio.Event()
        self.bot = TradecordBot(engine, layer, config, self.ready, guild_ready_timeout)
        channels = {
            "signals": config.signals_channel_id,
            "fills": config.fills_channel_id,
            "alerts": config.alerts_channel_id,
        }
        self.publisher = Publisher(engine.bus, engine.journal, channels, self._send, self.ready, window)
        self.dashboard = Dashboard(
            engine, self.bot, config.dashboard_channel_id, self.ready, dashboard_interval
        )
        self._tasks = TaskGroup("discord", on_error=self._crashed)
        self.login_failures = 0

    async def start(self) -> None:
        await self.publisher.start()
        self._tasks.spawn(self._supervise(), "supervisor")
        self._tasks.spawn(self.dashboard.run(), "dashboard")

    async def _send(
        self, channel_id: int, embeds: list[dict[str, Any]], mention: bool, file: str | None
    ) -> None:
        channel = self.bot.get_partial_messageable(channel_id)
        role = self.config.alert_role_id
        kwargs: dict[str, Any] = {"embeds": [discord.Embed.from_dict(e) for e in embeds]}
        if mention and role:
            kwargs["content"] = f"<@&{role}>"
            kwargs["allowed_mentions"] = discord.AllowedMentions(roles=[discord.Object(role)])
        attachment = await load_file(file) if file is not None else None
        if attachment is not None:
            kwargs["file"] = attachment
        await channel.send(**kwargs)

    def _problem(self, text: str) -> None:
        log.warning("%s", text)
        if self.login_failures == 1:  # once per outage: the console shows it, Discord later
            self.engine.bus.publish(
                ev.AlertEvent(ev.AlertLevel.WARNING, ev.AlertKind.INFO, "Discord unavailable", text)
            )

    async def _supervise(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self.bot.login(self.config.token)
                break
            except discord.LoginFailure:
                self.login_failures += 1
                self._problem(
                    "Discord refused the login: check DISCORD_TOKEN. Trading goes on; "
                    f"retrying in {backoff:.0f}s"
                )
            except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
                self.login_failures += 1
                self._problem(
                    f"Discord unreachable ({type(exc).__name__}). Trading goes on; retrying in {backoff:.0f}s"
                )
            # Each login attempt opens a session; close it and let the next one build a fresh
            # connector (reusing the closed one fails with "Session is closed").
            await self.bot.http.close()
            self.bot.http.connector = discord.utils.MISSING
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 300.0)
        if self.login_failures:
            self.engine.bus.publish(
                ev.AlertEvent(
                    ev.AlertLevel.INFO, ev.AlertKind.INFO, "Discord connected", "back after an outage"
                )
            )
        while True:
            try:
                await self.bot.connect(reconnect=True)  # resumes and reconnects by itself
                return
            except (discord.GatewayNotFound, discord.ConnectionClosed, OSError) as exc:
                log.warning("discord gateway: %s; reconnecting in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 300.0)

    def _crashed(self, name: str, exc: BaseException) -> None:
        self.engine.bus.publish(
            ev.AlertEvent(
                ev.AlertLevel.ERROR,
                ev.AlertKind.ERROR,
                "Discord transport stopped",
                f"{name}: {type(exc).__name__}: {exc}",
            )
        )

    async def close(self, flush_timeout: float = 5.0) -> None:
        """Publisher flushed first (while the session is still open), then the bot."""
        if self.ready.is_set():
            await self.publisher.close(flush_timeout)
        else:
            await self.publisher.close(0.0)
        await self._tasks.close()
        await self.bot.close()
        await self.bot.finish_interactions()


async def sync_commands(engine: Engine, layer: CommandLayer, config: DiscordConfig) -> int:
    """`python -m bot sync`: publish the slash commands to the configured guild only."""
    point_at(config)
    bot = TradecordBot(engine, layer, config, asyncio.Event())
    async with bot:
        await bot.login(config.token)
        synced = await bot.tree.sync(guild=bot.guild)
    return len(synced)
