"""Reading typed settings from the environment with errors that name the variable.

Shared by the engine's and the transports' configuration, so every bad value is reported the
same way: which variable, what it holds (never for secrets), and what would be valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """One or more settings are missing or malformed; the message lists each one."""


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

    def _parse(self, name: str, default: T, parse: Callable[[str], T], what: str,
               secret: bool = False) -> T:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError:
            shown = "(hidden)" if secret else repr(raw)
            self.problems.append(f"{name} must be {what}; got {shown}")
            return default

    def string(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(raw: str) -> str:
            value = raw.lower()
            if value not in choices:
                raise ValueError(value)
            return value

        return self._parse(name, default, parse, "one of " + ", ".join(choices))

    def integer(self, name: str, default: int, minimum: int = 0, unit: str = "") -> int:
        def parse(raw: str) -> int:
            value = int(raw.replace(",", "").replace("_", ""))
            if value < minimum:
                raise ValueError(raw)
            return value

        suffix = f" {unit}" if unit else ""
        return self._parse(name, default, parse, f"a whole number >= {minimum:,}{suffix}")

    def number(self, name: str, default: float, minimum: float = 0.0, maximum: float | None = None,
               unit: str = "", exclusive_min: bool = False) -> float:
        def parse(raw: str) -> float:
            value = float(raw)
            if value != value or value < minimum or (exclusive_min and value == minimum):
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
        """`k=0.5,tp=3` into {"k": 0.5, "tp": 3.0}."""

        def parse(raw: str) -> dict[str, float]:
            result = {}
            for part in raw.split(","):
                key, sep, value = part.partition("=")
                if not sep or not key.strip():
                    raise ValueError(part)
                result[key.strip().lower()] = float(value)
            return result

        return self._parse(name, {}, parse, "name=number pairs separated by commas, e.g. k=0.5,tp=3")

    def parsed(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        return self._parse(name, default, parse, what)

    def session_times(self, name: str) -> tuple[float, float] | None:
        """`5,60`: today's session opens 5 s and closes 60 s after start-up."""

        def parse(raw: str) -> tuple[float, float] | None:
            open_s, _, close_s = raw.partition(",")
            opens, closes = float(open_s), float(close_s)
            if not 0 <= opens < closes:
                raise ValueError(raw)
            return opens, closes

        return self._parse(name, None, parse, "two numbers of seconds, open then close, e.g. 5,60")

    def path(self, name: str, default: Path) -> Path:
        raw = self.raw(name)
        return Path(raw).expanduser() if raw else default

    def check(self) -> None:
        if self.problems:
            raise ConfigError("Invalid configuration:\n" + "\n".join(f"- {p}" for p in self.problems))
