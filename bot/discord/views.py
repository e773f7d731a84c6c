"""Confirm/Cancel for manual orders: only the invoker may click, and the order is checked again
(role, halt, price, cash) at the moment of the click."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.commands import CommandError, Invocation
from bot.discord.embeds import GREY, error_embed, result_embed
from bot.discord.replies import reply
from engine.ordertypes import Side

if TYPE_CHECKING:
    from bot.discord.client import TradecordBot

log = logging.getLogger(__name__)
CONFIRM_SECONDS = 30.0


class ConfirmOrder(discord.ui.View):
    def __init__(
        self,
        bot: TradecordBot,
        origin: discord.Interaction,
        inv: Invocation,
        side: Side,
        args: Mapping[str, Any],
    ) -> None:
        super().__init__(timeout=CONFIRM_SECONDS)
        self.bot = bot
        self.origin = origin
        self.inv = inv
        self.side = side
        self.args = args
        self.done = False
        bot.views.add(self)

    async def interaction_check(self, itx: discord.Interaction) -> bool:
        if itx.user.id == self.origin.user.id:
            return True
        await self.bot.audit_refusal(
            itx, f"clicked {self.origin.user.name}'s order confirmation", command=self.side
        )
        await reply(itx, error_embed("Only the person who asked for this order can confirm it."))
        return False

    async def _close(self, itx: discord.Interaction, title: str) -> None:
        """Answer the click at once (the 3 s window) by replacing the prompt: no second click."""
        self.done = True
        self.stop()
        await itx.response.edit_message(embed=discord.Embed(title=title, color=GREY), view=None)

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.danger)
    async def confirm(self, itx: discord.Interaction, button: discord.ui.Button[ConfirmOrder]) -> None:
        # Two clicks can arrive before the prompt is replaced; the layer lets one through
        # (execute_confirmed is single-use per prompt), and the other is told so.
        if not self.done:
            await self._close(itx, "Sending…")
        # The role is read again from this click; the invocation id is the prompt's own.
        inv = self.bot.invocation(itx, invocation_id=self.inv.invocation_id)
        try:
            result = await self.bot.layer.execute_confirmed(inv, self.side, self.args)
        except CommandError as exc:
            await reply(itx, error_embed(exc.message))
            return
        await reply(itx, result_embed(result))

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, itx: discord.Interaction, button: discord.ui.Button[ConfirmOrder]) -> None:
        await self._close(itx, "Order not sent")

    def stop(self) -> None:
        self.bot.views.discard(self)
        super().stop()

    async def on_timeout(self) -> None:
        self.bot.views.discard(self)
        if self.done:
            return
        try:
            await self.origin.edit_original_response(
                embed=discord.Embed(title="Expired: order not sent", color=GREY), view=None
            )
        except discord.HTTPException as exc:
            log.info("could not mark a confirmation expired: %s", exc)
