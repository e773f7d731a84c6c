"""Answering an interaction: ephemeral, before or after a defer, and never raising."""

from __future__ import annotations

import logging
from typing import Any

import discord

log = logging.getLogger(__name__)


async def reply(itx: discord.Interaction, embed: dict[str, Any], view: discord.ui.View | None = None,
                ephemeral: bool = True) -> None:
    """Answer whether or not the interaction was deferred. A reply that can no longer be sent
    (the 3-second window passed, the token expired) is logged, not raised: an error handler
    that raises leaves an unretrieved task exception behind."""
    kwargs: dict[str, Any] = {"embed": discord.Embed.from_dict(embed), "ephemeral": ephemeral}
    if view is not None:
        kwargs["view"] = view
    try:
        if itx.response.is_done():
            await itx.followup.send(**kwargs)
        else:
            await itx.response.send_message(**kwargs)
    except discord.HTTPException as exc:
        log.warning("could not answer /%s: %s", getattr(itx.command, "name", "?"), exc)
