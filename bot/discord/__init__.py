"""The Discord transport: slash commands, confirmations, channel publisher, dashboard."""
