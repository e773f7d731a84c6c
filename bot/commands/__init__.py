"""The command layer: parse and validate arguments, check roles, call the engine, audit, and
return typed results that each transport renders its own way."""

from bot.commands.context import CommandError, Invocation, Role
from bot.commands.layer import CommandLayer

__all__ = ["CommandError", "CommandLayer", "Invocation", "Role"]
