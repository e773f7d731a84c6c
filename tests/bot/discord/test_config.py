from __future__ import annotations

import pytest

from bot.commands import Role
from bot.discord.access import role_for
from bot.discord.config import DiscordConfig
from engine.envparse import ConfigError

TOKEN = "MTA0OTk5.GaBcDe.secret-token-value-1234567890"
GOOD = {
    "DISCORD_TOKEN": TOKEN,
    "DISCORD_GUILD_ID": "9001",
    "DISCORD_SIGNALS_CHANNEL_ID": "11",
    "DISCORD_FILLS_CHANNEL_ID": "12",
    "DISCORD_ALERTS_CHANNEL_ID": "13",
    "DISCORD_DASHBOARD_CHANNEL_ID": "14",
    "DISCORD_VIEWER_ROLE_IDS": "21, 22",
    "DISCORD_TRADER_ROLE_IDS": "23",
    "DISCORD_ADMIN_USER_IDS": "31",
}


def test_no_token_means_no_discord() -> None:
    assert DiscordConfig.from_env({}) is None


def test_roles() -> None:
    config = DiscordConfig.from_env(GOOD)
    assert config is not None
    assert role_for(config, 31, []) == Role.ADMIN
    assert role_for(config, 5, [22]) == Role.VIEWER
    assert role_for(config, 5, [22, 23]) == Role.TRADER
    assert role_for(config, 5, [99]) == Role.NONE
    assert TOKEN not in repr(config)


def test_errors_name_the_variable_and_never_show_the_token() -> None:
    env = dict(
        GOOD, DISCORD_GUILD_ID="my server", DISCORD_TRADER_ROLE_IDS="23,abc", DISCORD_FILLS_CHANNEL_ID=""
    )
    with pytest.raises(ConfigError) as info:
        DiscordConfig.from_env(env)
    text = str(info.value)
    assert "DISCORD_GUILD_ID must hold one Discord id" in text and "'my server'" in text
    assert "DISCORD_TRADER_ROLE_IDS must hold Discord ids" in text and "'abc'" in text
    assert "DISCORD_FILLS_CHANNEL_ID is missing" in text
    with pytest.raises(ConfigError) as info:
        DiscordConfig.from_env(dict(GOOD, DISCORD_TOKEN="short secret"))
    assert "DISCORD_TOKEN does not look like a bot token (hidden)" in str(info.value)
    assert "short secret" not in str(info.value)
