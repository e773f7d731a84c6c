"""Who is asking, from where, with what rights."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    TRADER = 2
    ADMIN = 3


@dataclass(frozen=True, slots=True)
class Invocation:
    actor: str  # e.g. "console" or "discord:1234 (name)"
    transport: str
    role: Role
    invocation_id: str  # unique per command; a manual order's intent key derives from it


class CommandError(Exception):
    """A refused command: the message says what was wrong and what is valid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
