"""What the engine knows about a tradable symbol for the day (from the broker at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.krx.costs import Market


@dataclass(frozen=True, slots=True)
class Instrument:
    code: str
    name: str
    market: Market
    prev_close: int
    prev_high: int
    prev_low: int
    open: int
    upper_limit: int
    lower_limit: int
