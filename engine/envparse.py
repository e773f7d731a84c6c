"""Reading typed settings from the environment with errors that name the variable.

Shared by the engine's and the transports' configuration, so every bad value is reported the
same way: which variable, what it holds (never for secrets), and what would be valid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

# ASCII digits only: int() and float() would also take "1_0", "²", "١٢" and "nan".
_WHOLE = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
# The largest amount any setting may hold: far beyond any account, and far inside SQLite's
# 64-bit integers even after multiplying by a share count.
MAX_AMOUNT = 10**13
MAX_DIGITS = 18
SHOWN_MAX = 16


def shown_value(raw: str) -> str:
    """A bad value, echoed only when it is short plain text: a secret pasted into the wrong
    variable (an app key in KIS_ACCOUNT) is long, and is never printed."""
    if len(raw) <= SHOWN_MAX and raw.isascii() and raw.isprintable():
        return repr(raw)
    return f"a value of {len(raw):,} characters (not shown)"


def whole_number(raw: str) -> int:
    """ASCII digits (commas allowed between them), at most MAX_DIGITS: a longer number is out
    of every range here, and int() refuses more than 4,300 digits anyway."""
    text = raw.replace(",", "").strip()
    if not _WHOLE.fullmatch(text) or len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(raw)
    return int(text)


def decimal(raw: str) -> float:
    text = raw.strip()
    value = float(text) if _DECIMAL.fullmatch(text) else math.inf
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


class ConfigError(ValueError):
    """One or more settings are missing or malformed; the message lists each one."""

    def __init__(self, title: str, problems: list[str]) -> None:
        super().__init__(f"{title}:\n" + "\n".join(f"- {p}" for p in problems))
        self.problems = problems


class Env:
    """Collects every problem before failing, so a user fixes their .env in one pass."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def _parse(self, name: str, default: T, parse: Callable[[str], T], what: str, secret: bool = False) -> T:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, ArithmeticError, LookupError, TypeError):  # anything a parse of text raises
            shown = "(hidden)" if secret else shown_value(raw)
            self.problems.append(f"{name} must be {what}; got {shown}")
            return default

    def string(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def text(self, name: str, default: str, limit: int) -> str:
        """A name a person chose (a condition): printable, one line, at most `limit` chars."""

        def parse(raw: str) -> str:
            if len(raw) > limit or not raw.isprintable():
                raise ValueError(raw)
            return raw

        return self._parse(name, default, parse, f"printable text of at most {limit} characters on one line")

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        """An endpoint such as http://127.0.0.1:8765; None when unset."""

        def parse(raw: str) -> str:
            parts = urlsplit(raw)
            if parts.scheme not in schemes or not parts.hostname or not raw.isprintable() or " " in raw:
                raise ValueError(raw)
            _ = parts.port  # raises ValueError for a port that is not a number in range
            return raw.rstrip("/")

        return self._parse(
            name,
            None,
            parse,
            f"a URL starting {' or '.join(s + '://' for s in schemes)}"
            ", e.g. " + schemes[0] + "://127.0.0.1:8765",
        )

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(raw: str) -> str:
            value = raw.lower()
            if value not in choices:
                raise ValueError(value)
            return value

        return self._parse(name, default, parse, "one of " + ", ".join(choices))

    def integer(
        self, name: str, default: int, minimum: int = 0, unit: str = "", maximum: int = MAX_AMOUNT
    ) -> int:
        def parse(raw: str) -> int:
            value = whole_number(raw)
            if not minimum <= value <= maximum:
                raise ValueError(raw)
            return value

        suffix = f" {unit}" if unit else ""
        return self._parse(
            name, default, parse, f"a whole number from {minimum:,} to {maximum:,}{suffix} (digits 0-9)"
        )

    def number(
        self,
        name: str,
        default: float,
        minimum: float = 0.0,
        maximum: float | None = None,
        unit: str = "",
        exclusive_min: bool = False,
    ) -> float:
        def parse(raw: str) -> float:
            value = decimal(raw)
            if value < minimum or (exclusive_min and value == minimum):
                raise ValueError(raw)
            if maximum is not None and value > maximum:
                raise ValueError(raw)
            return value

        low = f"> {minimum}" if exclusive_min else f">= {minimum}"
        high = f" and <= {maximum}" if maximum is not None else ""
        suffix = f" {unit}" if unit else ""
        return self._parse(name, default, parse, f"a number {low}{high}{suffix}")

    def boolean(self, name: str, default: bool) -> bool:
        def parse(raw: str) -> bool:
            value = raw.lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)

        return self._parse(name, default, parse, "yes or no (also true/false, 1/0, on/off)")

    def params(self, name: str) -> dict[str, float]:
        """`k=0.5,tp=3` into {"k": 0.5, "tp": 3.0}; which names and ranges are valid is the
        strategy's to say (EngineConfig checks them against DEFAULT_STRATEGY)."""

        def parse(raw: str) -> dict[str, float]:
            result = {}
            for part in raw.split(","):
                key, sep, value = part.partition("=")
                if not sep or not key.strip():
                    raise ValueError(part)
                result[key.strip().lower()] = decimal(value)
            return result

        return self._parse(name, {}, parse, "name=number pairs separated by commas, e.g. k=0.5,tp=3")

    def parsed(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        return self._parse(name, default, parse, what)

    def session_times(self, name: str) -> tuple[float, float] | None:
        """`5,60`: today's session opens 5 s and closes 60 s after start-up."""

        def parse(raw: str) -> tuple[float, float] | None:
            open_s, _, close_s = raw.partition(",")
            opens, closes = decimal(open_s), decimal(close_s)
            if not 0 <= opens < closes:
                raise ValueError(raw)
            return opens, closes

        return self._parse(name, None, parse, "two numbers of seconds, open then close, e.g. 5,60")

    def path(self, name: str, default: Path) -> Path:
        raw = self.raw(name)
        return Path(raw).expanduser() if raw else default

    def check(self) -> None:
        if self.problems:
            raise ConfigError("Invalid configuration", self.problems)
