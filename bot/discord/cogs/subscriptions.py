"""/subscribe, /cancel, /subscriptions, /auto."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.commands import CommandError
from bot.discord.cogs.base import LayerCog
from bot.discord.embeds import error_embed
from bot.discord.replies import reply
from engine.strategies.registry import STRATEGIES

STRATEGY_CHOICES = [app_commands.Choice(name=f"{n}: {c.description}"[:100], value=n)
                    for n, c in STRATEGIES.items()]


def parse_params(text: str | None) -> dict[str, object]:
    """`k=0.4 sl=1.5` (spaces or commas) into {"k": "0.4", "sl": "1.5"}; the layer checks values."""
    params: dict[str, object] = {}
    for part in (text or "").replace(",", " ").split():
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CommandError(f"parameters are name=value pairs, e.g. k=0.4 sl=1.5; got '{part}'")
        params[key.lower()] = value
    return params


class SubscriptionsCog(LayerCog):
    @app_commands.command(name="subscribe", description="Follow a symbol with a strategy")
    @app_commands.describe(symbol="KRX code, e.g. 005930", strategy="how to trade it",
                           qty="shares per entry (default: by order budget)",
                           params="strategy parameters, e.g. k=0.4 sl=1.5")
    @app_commands.choices(strategy=STRATEGY_CHOICES)
    async def subscribe(self, itx: discord.Interaction, symbol: str,
                        strategy: app_commands.Choice[str] | None = None, qty: int | None = None,
                        params: str | None = None) -> None:
        try:
            parsed = parse_params(params)
        except CommandError as exc:
            await reply(itx, error_embed(exc.message))
            return
        args: dict[str, object] = {"symbol": symbol, "strategy": strategy.value if strategy else None,
                                   "qty": qty}
        if parsed:
            args["params"] = parsed
        await self.run(itx, "subscribe", args, defer=True)

    @subscribe.autocomplete("symbol")
    async def _subscribe_symbol(self, itx: discord.Interaction,
                                current: str) -> list[app_commands.Choice[str]]:
        return await self.symbols(current)

    @app_commands.command(name="cancel", description="Stop following a symbol")
    @app_commands.describe(symbol="a subscribed symbol")
    async def cancel(self, itx: discord.Interaction, symbol: str) -> None:
        await self.run(itx, "cancel", {"symbol": symbol}, defer=True)

    @cancel.autocomplete("symbol")
    async def _cancel_symbol(self, itx: discord.Interaction,
                             current: str) -> list[app_commands.Choice[str]]:
        subs = self.bot.engine.subscriptions.records
        return [app_commands.Choice(name=f"{s} {self.bot.engine.instruments[s].name}"[:100], value=s)
                for s in sorted(subs) if s.startswith(current.strip().upper())][:25]

    @app_commands.command(name="subscriptions", description="Symbols being followed")
    async def subscriptions(self, itx: discord.Interaction) -> None:
        await self.run(itx, "subscriptions", {})

    @app_commands.command(name="auto", description="Follow the broker's condition search")
    @app_commands.describe(mode="on or off", condition="condition name (default from settings)")
    @app_commands.choices(mode=[app_commands.Choice(name="on", value="on"),
                                app_commands.Choice(name="off", value="off")])
    async def auto(self, itx: discord.Interaction, mode: app_commands.Choice[str],
                   condition: str | None = None) -> None:
        await self.run(itx, "auto", {"mode": mode.value, "condition": condition}, defer=True)
