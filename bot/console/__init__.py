"""The local console transport: type commands, watch the live stream."""
