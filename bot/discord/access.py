"""Who may do what: Discord user and role ids mapped to viewer / trader / admin."""

from __future__ import annotations

from collections.abc import Iterable

from bot.commands import Role
from bot.discord.config import DiscordConfig


def role_for(config: DiscordConfig, user_id: int, role_ids: Iterable[int]) -> Role:
    """The highest role the user holds; admins are named users, not a Discord role, so that a
    server admin handing out roles cannot make someone a Tradecord admin."""
    if user_id in config.admin_user_ids:
        return Role.ADMIN
    roles = set(role_ids)
    if roles & config.trader_role_ids:
        return Role.TRADER
    if roles & config.viewer_role_ids:
        return Role.VIEWER
    return Role.NONE
