"""Answering an interaction: ephemeral, before or after a defer, and never raising."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import discord

log = logging.getLogger(__name__)


async def load_file(path: str) -> discord.File | None:
    """A chart as an attachment, read off the event loop; None if it is gone."""
    try:
        data = await asyncio.to_thread(Path(path).read_bytes)
    except OSError as exc:
        log.warning("attachment %s unavailable: %s", path, exc)
        return None
    return discord.File(io.BytesIO(data), filename=Path(path).name)


async def reply(
    itx: discord.Interaction,
    embed: dict[str, Any],
    view: discord.ui.View | None = None,
    ephemeral: bool = True,
    file: str | None = None,
) -> None:
    """Answer whether or not the interaction was deferred. A reply that can no longer be sent
    (the 3-second window passed, the token expired) is logged, not raised: an error handler
    that raises leaves an unretrieved task exception behind."""
    kwargs: dict[str, Any] = {"embed": discord.Embed.from_dict(embed), "ephemeral": ephemeral}
    if view is not None:
        kwargs["view"] = view
    if file is not None:
        attachment = await load_file(file)
        if attachment is not None:
            kwargs["file"] = attachment
    try:
        if itx.response.is_done():
            await itx.followup.send(**kwargs)
        else:
            await itx.response.send_message(**kwargs)
    except discord.HTTPException as exc:
        log.warning("could not answer /%s: %s", getattr(itx.command, "name", "?"), exc)
