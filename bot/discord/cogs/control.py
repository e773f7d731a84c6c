"""/halt and /resume."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.cogs.base import LayerCog


class ControlCog(LayerCog):
    @app_commands.command(name="halt", description="Kill switch: cancel open orders, stop trading")
    @app_commands.describe(reason="why (shown in the alert)")
    async def halt(self, itx: discord.Interaction, reason: str | None = None) -> None:
        await self.run(itx, "halt", {"reason": reason}, defer=True)

    @app_commands.command(name="resume", description="Lift a halt (admin)")
    async def resume(self, itx: discord.Interaction) -> None:
        await self.run(itx, "resume", {}, defer=True)
