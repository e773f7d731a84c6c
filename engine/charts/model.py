"""Chart inputs. Kept apart from the renderers so the engine can build them without matplotlib."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar. start_ns is the epoch-aligned start of its interval; prices in KRW."""

    start_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class Marker:
    """One of the bot's fills: side "buy" (an entry) or "sell" (an exit)."""

    ts_ns: int
    price: int
    side: str

    def __post_init__(self) -> None:
        # Checked here so a bad side fails where the marker is made, not later inside a render.
        if self.side not in ("buy", "sell"):
            raise ValueError(f"marker side must be 'buy' or 'sell', got {self.side!r}")
