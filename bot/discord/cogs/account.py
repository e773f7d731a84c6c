"""/status, /positions, /pnl, /help, /settings: answered from memory, so no defer is needed."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.cogs.base import LayerCog


class AccountCog(LayerCog):
    @app_commands.command(name="status", description="Engine, broker and risk state")
    async def status(self, itx: discord.Interaction) -> None:
        await self.run(itx, "status", {})

    @app_commands.command(name="positions", description="Positions and their value")
    async def positions(self, itx: discord.Interaction) -> None:
        await self.run(itx, "positions", {})

    @app_commands.command(name="pnl", description="Today's profit and loss")
    async def pnl(self, itx: discord.Interaction) -> None:
        await self.run(itx, "pnl", {})

    @app_commands.command(name="help", description="What you can do here")
    async def help(self, itx: discord.Interaction) -> None:
        await self.run(itx, "help", {})

    @app_commands.command(name="settings", description="Risk limits and configuration (admin)")
    async def settings(self, itx: discord.Interaction) -> None:
        await self.run(itx, "settings", {})
