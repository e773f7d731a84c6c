"""What every cog shares: run a command through the layer and answer ephemerally."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands import CommandError
from bot.discord.embeds import error_embed, result_embed
from bot.discord.replies import reply

if TYPE_CHECKING:
    from bot.discord.client import TradecordBot


class LayerCog(commands.Cog):
    def __init__(self, bot: TradecordBot) -> None:
        self.bot = bot

    async def run(self, itx: discord.Interaction, name: str, args: Mapping[str, Any],
                  defer: bool = False) -> None:
        """Anything that reaches the broker defers first, so the 3-second deadline is never
        missed however slow the broker is."""
        inv = self.bot.invocation(itx)
        if defer:
            await itx.response.defer(ephemeral=True, thinking=True)
        try:
            result = await self.bot.layer.execute(inv, name, args)
        except CommandError as exc:
            await reply(itx, error_embed(exc.message))
            return
        await reply(itx, result_embed(result), file=getattr(result, "chart_path", None))

    async def symbols(self, current: str) -> list[app_commands.Choice[str]]:
        """From the instrument cache: autocomplete must answer fast and never call the broker."""
        text = current.strip().upper()
        out = []
        for code, inst in self.bot.engine.instruments.items():
            if code.startswith(text) or text.lower() in inst.name.lower():
                out.append(app_commands.Choice(name=f"{code} {inst.name}"[:100], value=code))
            if len(out) == 25:
                break
        return out
