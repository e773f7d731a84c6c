"""Reading a real broker's settings the same way for every adapter: `<PREFIX>_ENV` (paper or
real), its key pair (never shown), endpoint overrides, and LIVE_TRADING for real money. Every
problem is collected, so a user fixes their .env in one pass."""

from __future__ import annotations

from collections.abc import Mapping

from engine.envparse import ConfigError, Env, shown_value

ENVIRONMENTS = ("paper", "real")


def plain_key(value: str) -> bool:
    # Portals issue keys of 36 characters and more; the range leaves room without taking
    # anything odd (quotes, spaces, a pasted line break).
    return 16 <= len(value) <= 512 and value.isascii() and value.isprintable() and " " not in value


class BrokerEnv:
    def __init__(self, environ: Mapping[str, str], prefix: str, broker: str) -> None:
        self._environ = environ
        self.prefix = prefix
        self.broker = broker
        self.settings = Env(environ)  # the shared parsers, for the values they cover
        self.problems: list[str] = []

    def get(self, name: str) -> str:
        return self._environ.get(f"{self.prefix}_{name}", "").strip()

    def environment(self) -> str:
        chosen = self.get("ENV").lower() or "paper"
        if chosen not in ENVIRONMENTS:
            self.problems.append(f"{self.prefix}_ENV must be paper or real; got {shown_value(chosen)}")
            return "paper"
        return chosen

    def key(self, name: str, where: str) -> str:
        value = self.get(name)
        if not plain_key(value):
            self.problems.append(
                f"{self.prefix}_{name} is missing, too short or not plain text "
                f"(hidden): copy it from {where}, without quotes or spaces"
            )
        return value

    def urls(self, rest: str, ws: str) -> tuple[str, str]:
        """The endpoints: the official ones unless <PREFIX>_REST_URL / _WS_URL say otherwise."""
        return (
            self.settings.url(f"{self.prefix}_REST_URL", ("https", "http")) or rest,
            self.settings.url(f"{self.prefix}_WS_URL", ("wss", "ws")) or ws,
        )

    def check(self, environment: str, paper_hint: str = "") -> None:
        """Real money needs LIVE_TRADING=yes; then every problem found, or nothing."""
        live = self.settings.boolean("LIVE_TRADING", False)
        problems = self.problems + self.settings.problems
        if environment == "real" and not live:
            problems.append(
                f"{self.prefix}_ENV=real trades real money: set LIVE_TRADING=yes to "
                f"allow it (or use {self.prefix}_ENV=paper{paper_hint})"
            )
        if problems:
            raise ConfigError(f"Invalid {self.broker} configuration", problems)
