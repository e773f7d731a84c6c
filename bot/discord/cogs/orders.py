"""/buy, /sell (with confirmation), /orders, /cancelorder."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.commands import CommandError
from bot.discord.cogs.base import LayerCog
from bot.discord.embeds import error_embed, result_embed
from bot.discord.replies import reply
from bot.discord.views import ConfirmOrder
from engine.journal.records import Side


class OrdersCog(LayerCog):
    async def _order(self, itx: discord.Interaction, side: Side, symbol: str, qty: int,
                     price: int | None) -> None:
        args = {"symbol": symbol, "qty": qty, "price": price}
        if self.bot.config.skip_confirm_in_paper and self.bot.engine.broker.paper:
            await self.run(itx, side, args, defer=True)
            return
        inv = self.bot.invocation(itx)
        try:
            preview = await self.bot.layer.preview_order(inv, side, args)
        except CommandError as exc:
            await reply(itx, error_embed(exc.message))
            return
        view = ConfirmOrder(self.bot, itx, inv, side, args)
        await reply(itx, result_embed(preview), view=view)

    @app_commands.command(name="buy", description="Buy: limit with a price, market without")
    @app_commands.describe(symbol="KRX code", qty="shares", price="limit price in KRW")
    async def buy(self, itx: discord.Interaction, symbol: str, qty: int,
                  price: int | None = None) -> None:
        await self._order(itx, "buy", symbol, qty, price)

    @app_commands.command(name="sell", description="Sell: limit with a price, market without")
    @app_commands.describe(symbol="KRX code", qty="shares", price="limit price in KRW")
    async def sell(self, itx: discord.Interaction, symbol: str, qty: int,
                   price: int | None = None) -> None:
        await self._order(itx, "sell", symbol, qty, price)

    @buy.autocomplete("symbol")
    @sell.autocomplete("symbol")
    async def _symbol(self, itx: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self.symbols(current)

    @app_commands.command(name="orders", description="Open orders")
    async def orders(self, itx: discord.Interaction) -> None:
        await self.run(itx, "orders", {})

    @app_commands.command(name="cancelorder", description="Cancel an open order")
    @app_commands.describe(order_id="id from /orders")
    async def cancelorder(self, itx: discord.Interaction, order_id: str) -> None:
        await self.run(itx, "cancelorder", {"order_id": order_id}, defer=True)

    @cancelorder.autocomplete("order_id")
    async def _order_id(self, itx: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        rows = self.bot.engine.orders.live_orders()
        return [app_commands.Choice(name=f"{o.broker_order_id} {o.side} {o.qty:,} {o.symbol}"[:100],
                                    value=o.broker_order_id or o.client_order_id)
                for o in rows if (o.broker_order_id or "").startswith(current.strip())][:25]
