"""One dashboard message (positions, P&L, halt and connection state), edited in place at a
bounded rate instead of new posts: a phone shows the current state, not a scroll of old ones."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bot.commands.results import broker_line
from bot.discord.embeds import GREEN, ORANGE, field
from engine.core import Engine

log = logging.getLogger(__name__)


def dashboard_embed(engine: Engine, discord_ok: bool) -> dict[str, Any]:
    s = engine.status()
    p = engine.portfolio
    state = f"HALTED: {s.halt_reason}" if s.halted else "trading"
    fields = [
        field("Equity", f"{s.equity:,}"),
        field("Today", f"{s.realized_today:+,}"),
        field("Unrealized", f"{s.unrealized:+,}"),
        field("Broker", broker_line(s)),
        field("Subs", f"{s.subscriptions}"),
        field("Orders", f"{s.open_orders}"),
    ]
    for symbol, pos in sorted(p.positions.items())[:18]:
        fields.append(field(symbol, f"{pos.qty:,} @ {pos.avg_price:,.0f}\n{p.unrealized(symbol):+,}"))
    return {
        "title": f"{'PAPER' if s.paper else 'LIVE'} · {state}",
        "color": ORANGE if s.halted or not s.broker_ready else GREEN,
        "fields": fields,
        "description": "auto " + (s.auto_condition or "?" if s.auto_enabled else "off"),
    }


class Dashboard:
    def __init__(
        self,
        engine: Engine,
        client: discord.Client,
        channel_id: int,
        ready: asyncio.Event,
        interval: float = 15.0,
    ) -> None:
        self.engine = engine
        self.client = client
        self.channel_id = channel_id
        self.ready = ready
        self.interval = interval
        self._last: dict[str, Any] | None = None
        self.edits = 0

    async def run(self) -> None:
        await self.ready.wait()
        while True:
            embed = dashboard_embed(self.engine, True)
            if embed != self._last:
                try:
                    await self._show(embed)
                    self._last = embed
                except discord.HTTPException as exc:
                    log.warning("dashboard update failed: %s", exc)
                except OSError as exc:
                    log.warning("dashboard: Discord unreachable (%s)", type(exc).__name__)
            await asyncio.sleep(self.interval)

    async def _show(self, embed: dict[str, Any]) -> None:
        channel = self.client.get_partial_messageable(self.channel_id)
        message_id = await self.engine.journal.get_state("dashboard_message_id")
        if message_id is not None:
            try:
                await channel.get_partial_message(message_id).edit(embed=discord.Embed.from_dict(embed))
                self.edits += 1
                return
            except discord.NotFound:
                pass  # deleted by someone: post a new one
        message = await channel.send(embed=discord.Embed.from_dict(embed))
        await self.engine.journal.set_state("dashboard_message_id", message.id)
