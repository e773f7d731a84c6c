"""Strategies by name, for commands and persisted subscriptions."""

from __future__ import annotations

from engine.strategies.base import Strategy
from engine.strategies.breakout import VolatilityBreakout
from engine.strategies.exits import ExitsOnly, Watch

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (VolatilityBreakout, ExitsOnly, Watch)}


class UnknownStrategy(ValueError):
    pass


def strategy_class(name: str) -> type[Strategy]:
    cls = STRATEGIES.get(name.lower())
    if cls is None:
        raise UnknownStrategy(f"unknown strategy '{name}'; valid: {', '.join(STRATEGIES)}")
    return cls
