"""Discord settings from the environment. The token is a secret: it is never shown, not even in
an error about itself."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.envparse import ConfigError, shown_value

# A snowflake: ASCII digits only (str.isdigit() also takes "²", which int() then refuses).
SNOWFLAKE = re.compile(r"[0-9]{1,20}")

IDS_HELP = "Discord ids (numbers) separated by commas, e.g. 123456789012345678,234567890123456789"
ID_HELP = "one Discord id (a number such as 123456789012345678)"


def _is_id(raw: str) -> bool:
    return SNOWFLAKE.fullmatch(raw) is not None and 0 < int(raw) < 2**63


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str = field(repr=False)
    guild_id: int
    signals_channel_id: int
    fills_channel_id: int
    alerts_channel_id: int
    dashboard_channel_id: int
    viewer_role_ids: frozenset[int] = frozenset()
    trader_role_ids: frozenset[int] = frozenset()
    admin_user_ids: frozenset[int] = frozenset()
    alert_role_id: int | None = None
    skip_confirm_in_paper: bool = False
    # Where discord.py connects; only tests point these at a local fake server.
    api_base: str | None = None
    gateway_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DiscordConfig | None:
        """None when DISCORD_TOKEN is not set (Discord is optional); errors name each variable."""
        env = os.environ if environ is None else environ
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            return None
        problems: list[str] = []

        def one(name: str, required: bool = True) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                if required:
                    problems.append(f"{name} is missing: it must hold {ID_HELP}")
                return 0
            if not _is_id(raw):
                problems.append(f"{name} must hold {ID_HELP}; got {shown_value(raw)}")
                return 0
            return int(raw)

        def many(name: str) -> frozenset[int]:
            raw = env.get(name, "").strip()
            parts = [p.strip() for p in raw.split(",") if p.strip()]
            bad = [p for p in parts if not _is_id(p)]
            if bad:
                problems.append(f"{name} must hold {IDS_HELP}; not an id: {', '.join(map(shown_value, bad))}")
                return frozenset()
            return frozenset(int(p) for p in parts)

        if not 20 <= len(token) <= 200 or not (token.isascii() and token.isprintable()) or " " in token:
            problems.append(
                "DISCORD_TOKEN does not look like a bot token (hidden): copy it from the "
                "Developer Portal, Bot page, without quotes or spaces"
            )
        skip_raw = env.get("DISCORD_SKIP_CONFIRM_IN_PAPER", "no").strip().lower()
        if skip_raw not in ("yes", "no", "true", "false", "1", "0", ""):
            problems.append(f"DISCORD_SKIP_CONFIRM_IN_PAPER must be yes or no; got {shown_value(skip_raw)}")
        config = cls(
            token=token,
            guild_id=one("DISCORD_GUILD_ID"),
            signals_channel_id=one("DISCORD_SIGNALS_CHANNEL_ID"),
            fills_channel_id=one("DISCORD_FILLS_CHANNEL_ID"),
            alerts_channel_id=one("DISCORD_ALERTS_CHANNEL_ID"),
            dashboard_channel_id=one("DISCORD_DASHBOARD_CHANNEL_ID"),
            viewer_role_ids=many("DISCORD_VIEWER_ROLE_IDS"),
            trader_role_ids=many("DISCORD_TRADER_ROLE_IDS"),
            admin_user_ids=many("DISCORD_ADMIN_USER_IDS"),
            alert_role_id=one("DISCORD_ALERT_ROLE_ID", required=False) or None,
            skip_confirm_in_paper=skip_raw in ("yes", "true", "1"),
            api_base=env.get("DISCORD_API_BASE") or None,
            gateway_url=env.get("DISCORD_GATEWAY_URL") or None,
        )
        if not (config.admin_user_ids or config.trader_role_ids or config.viewer_role_ids):
            problems.append(
                "no one may use the bot: set DISCORD_ADMIN_USER_IDS and/or "
                "DISCORD_TRADER_ROLE_IDS / DISCORD_VIEWER_ROLE_IDS"
            )
        if problems:
            raise ConfigError("Invalid Discord configuration", problems)
        return config
