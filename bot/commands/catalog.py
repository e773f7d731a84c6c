"""Every command declared once, on its handler: name, options, role, help and console syntax.

`@command(...)` sits on the CommandLayer method that implements it. The console parses and
documents its lines from the declaration, and the Discord transport builds its slash command,
option types, choices and autocomplete from the same object (bot/discord/commands.py), so a
command, an option or a role cannot exist in one transport and not in another.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from bot.commands.context import CommandError, Role
from bot.commands.parsing import shown


class Kind(StrEnum):
    """What an option holds, which decides how a transport asks for it."""

    TEXT = "text"
    SYMBOL = "symbol"  # a KRX code
    NUMBER = "number"  # a whole number (shares, KRW): a number pad on a phone
    DATE = "date"  # YYYY-MM-DD
    CHOICE = "choice"  # one of `choices`
    PARAMS = "params"  # strategy parameters, name=value …


class Suggest(StrEnum):
    """Where autocomplete suggestions come from; all are answered from memory, never the broker."""

    INSTRUMENTS = "instruments"
    SUBSCRIBED = "subscribed"
    LIVE_ORDERS = "live_orders"
    CONDITIONS = "conditions"  # the broker's saved conditions, as last listed


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    value: str | int


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    help: str
    required: bool = True
    kind: Kind = Kind.TEXT
    choices: tuple[Choice, ...] = ()
    suggest: Suggest | None = None
    max_length: int | None = None  # for free text; longer input is refused by the layer
    rest_of_line: bool = False  # console: takes every remaining word (a halt reason)


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    role: Role
    options: tuple[Option, ...]
    handler: str  # the CommandLayer method
    defer: bool = False  # may wait on the broker: Discord acknowledges first (3 s deadline)
    confirm: bool = False  # a manual order: Discord asks Confirm/Cancel first

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for o in self.options:
            shown_name = "param=value …" if o.kind is Kind.PARAMS else o.name
            parts.append(f"<{shown_name}>" if o.required else f"[{shown_name}]")
        return " ".join(parts)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def parse(self, words: Iterable[str]) -> dict[str, object]:
        """Console syntax: options in order; `name=value` words are strategy parameters where
        the command takes them; the last option may take the rest of the line."""
        params = self.option("params")
        positional = [o for o in self.options if o.kind is not Kind.PARAMS]
        args: dict[str, object] = {}
        pairs: list[str] = []
        values: list[str] = []
        for word in words:
            (pairs if params is not None and "=" in word else values).append(word)
        if positional and positional[-1].rest_of_line and len(values) > len(positional):
            keep = len(positional) - 1
            values = [*values[:keep], " ".join(values[keep:])]
        if len(values) > len(positional):
            raise CommandError(f"too many arguments; usage: {self.usage}")
        for option, value in zip(positional, values, strict=False):
            args[option.name] = value
        if pairs and params is not None:
            args[params.name] = " ".join(pairs)
        return args


_F = TypeVar("_F", bound=Callable[..., Any])
_DECLARED = "__tradecord_command__"


def command(
    name: str, summary: str, role: Role, *options: Option, defer: bool = False, confirm: bool = False
) -> Callable[[_F], _F]:
    """Declare the decorated CommandLayer method as the command `name`."""

    def declare(handler: _F) -> _F:
        setattr(handler, _DECLARED, Command(name, summary, role, options, handler.__name__, defer, confirm))
        return handler

    return declare


def declared(cls: type) -> tuple[Command, ...]:
    """The commands a class declares, in the order they are written (help lists them so)."""
    found = tuple(getattr(f, _DECLARED) for f in vars(cls).values() if hasattr(f, _DECLARED))
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise TypeError(f"a command is declared twice: {sorted(names)}")
    return found


def split_line(line: str, known: dict[str, Command]) -> tuple[Command, dict[str, object]]:
    """A console line (`/buy 005930 10 97600`, `subscribe 005930 breakout k=0.3`) into its
    command and options."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise CommandError(f"could not read that line: {exc}") from None
    if not words:
        raise CommandError("empty command; try /help")
    found = known.get(words[0].lstrip("/").lower())
    if found is None:
        raise CommandError(
            f"unknown command '{shown(words[0])}'; valid: " + ", ".join(f"/{c}" for c in known)
        )
    return found, found.parse(words[1:])
