"""A fake Discord server (REST + gateway) that the real discord.py client runs against."""

from tests.fakediscord.server import (
    CommandRejected,
    FakeDiscord,
    Interaction,
    SentInteraction,
    free_port,
)

__all__ = ["CommandRejected", "FakeDiscord", "Interaction", "SentInteraction", "free_port"]
