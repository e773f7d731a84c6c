"""/market, /schedule, /report, /chart: the calendar, the day's plan, and pictures of it."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.cogs.base import LayerCog

INTERVALS = [app_commands.Choice(name=f"{m} min", value=m) for m in (1, 5, 15, 30, 60)]


class MarketCog(LayerCog):
    @app_commands.command(name="market", description="Is the market open? Session times")
    @app_commands.describe(date="YYYY-MM-DD (default today)")
    async def market(self, itx: discord.Interaction, date: str | None = None) -> None:
        await self.run(itx, "market", {"date": date})

    @app_commands.command(name="schedule", description="The next scheduled jobs")
    async def schedule(self, itx: discord.Interaction) -> None:
        await self.run(itx, "schedule", {})

    @app_commands.command(name="report", description="Daily report with an equity chart")
    @app_commands.describe(date="YYYY-MM-DD (default today)")
    async def report(self, itx: discord.Interaction, date: str | None = None) -> None:
        await self.run(itx, "report", {"date": date}, defer=True)

    @app_commands.command(name="chart", description="Candles with the bot's entries and exits")
    @app_commands.describe(symbol="KRX code", interval="bar length")
    @app_commands.choices(interval=INTERVALS)
    async def chart(self, itx: discord.Interaction, symbol: str,
                    interval: app_commands.Choice[int] | None = None) -> None:
        await self.run(itx, "chart", {"symbol": symbol, "interval": interval.value if interval else 1},
                       defer=True)

    @chart.autocomplete("symbol")
    async def _symbol(self, itx: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self.symbols(current)
