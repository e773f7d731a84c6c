"""The discord.py bot: wiring only. Its slash commands are built from the command declarations
(bot/discord/commands.py); each calls the shared command layer."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.commands import CommandLayer, Invocation
from bot.discord.access import role_for
from bot.discord.config import DiscordConfig
from bot.discord.embeds import error_embed
from bot.discord.replies import reply
from engine.core import Engine
from engine.journal import AuditRecord

log = logging.getLogger(__name__)


def point_at(config: DiscordConfig) -> None:
    """Send discord.py to another server (tests: the project's fake Discord)."""
    if config.api_base:
        discord.http.Route.BASE = config.api_base
    if config.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


class TradecordTree(app_commands.CommandTree["TradecordBot"]):
    async def interaction_check(self, itx: discord.Interaction) -> bool:
        """Only the configured server: DMs and other guilds are refused (and audited)."""
        bot = self.client
        if itx.guild_id == bot.config.guild_id:
            return True
        where = "a direct message" if itx.guild_id is None else f"server {itx.guild_id}"
        await bot.audit_refusal(itx, f"refused in {where}")
        await reply(itx, error_embed("Tradecord only takes commands in its own server."))
        return False

    async def on_error(self, itx: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        log.error("slash command failed", exc_info=original)
        await reply(
            itx,
            error_embed(
                f"That did not work ({type(original).__name__}); nothing "
                "was changed by it. The error is logged."
            ),
        )


class TradecordBot(commands.Bot):
    def __init__(
        self,
        engine: Engine,
        layer: CommandLayer,
        config: DiscordConfig,
        ready: asyncio.Event,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # slash commands need no privileged intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=TradecordTree,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.engine = engine
        self.layer = layer
        self.config = config
        self.ready_event = ready
        self.guild = discord.Object(config.guild_id)
        self.views: set[discord.ui.View] = set()

    async def setup_hook(self) -> None:
        from bot.discord.commands import slash_commands

        for slash in slash_commands(self):
            self.tree.add_command(slash, guild=self.guild)

    async def on_ready(self) -> None:
        log.info("discord: connected as %s", self.user)
        self.ready_event.set()

    async def finish_interactions(self) -> None:
        """discord.py's close() leaves open views and running command tasks behind: a pending
        confirmation must not outlive the process's decision to stop."""
        for view in list(self.views):
            view.stop()
        self.views.clear()
        current = asyncio.current_task()
        running = [
            t
            for t in asyncio.all_tasks()
            if t is not current and t.get_name().startswith("CommandTree-invoker")
        ]
        if running:
            await asyncio.wait(running, timeout=5.0)

    def invocation(self, itx: discord.Interaction, invocation_id: str | None = None) -> Invocation:
        """Who is asking, with the role their ids give them right now."""
        user = itx.user
        roles = [r.id for r in getattr(user, "roles", [])]
        return Invocation(
            actor=f"discord:{user.id} ({user.name})",
            transport="discord",
            role=role_for(self.config, user.id, roles),
            invocation_id=invocation_id or f"discord-{itx.id}-{uuid.uuid4().hex[:6]}",
        )

    async def audit_refusal(self, itx: discord.Interaction, why: str, command: str | None = None) -> None:
        data: dict[str, Any] = dict(itx.data or {})
        name = command or getattr(itx.command, "name", None) or str(data.get("name", "?"))
        await self.engine.journal.audit(
            AuditRecord(
                self.engine.clock.time_ns(),
                f"discord:{itx.user.id} ({itx.user.name})",
                "discord",
                name,
                "",
                False,
                why,
            )
        )
