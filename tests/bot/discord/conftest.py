"""Fixtures shared by the tests that run the real discord.py client against the fake Discord."""

from __future__ import annotations

from typing import Any

import discord.gateway
import discord.http
import pytest


@pytest.fixture(autouse=True)
def restore_discord_urls() -> Any:
    # point_at() changes discord.py's class-level URLs; later tests must start clean.
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
