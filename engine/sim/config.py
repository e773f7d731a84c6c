"""Settings of the simulated exchange, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from engine.krx.universe import BY_CODE, UNIVERSE

# Upper bounds that keep a typo (an extra zero or three) from producing a tape the event loop
# cannot keep up with or a market that hits its limits within seconds.
_MAX_TICK_RATE = 10_000.0
_MAX_SPEED = 1_000.0
_MAX_VOLATILITY_BP = 500.0


def _positive_finite(name: str, value: float, upper: float | None = None) -> None:
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or not math.isfinite(value) or value <= 0 or (upper is not None and value > upper):
        valid = f"0 < {name} <= {upper:g}" if upper is not None else f"{name} > 0"
        raise ValueError(f"{name} must be a number with {valid}, got {value!r}")


@dataclass(slots=True)
class SimConfig:
    seed: int = 7
    # Trades per second per symbol at speed 1.
    tick_rate: float = 2.0
    # Multiplies the tick rate, so a demo can run a busy session in a short time.
    speed: float = 1.0
    # None trades the whole universe (engine.krx.universe).
    symbols: tuple[str, ...] | None = None
    initial_cash: int = 10_000_000
    commission_rate: float = 0.00015
    heartbeat_interval: float = 5.0
    # Standard deviation of one trade's return, in basis points.
    volatility_bp: float = 8.0
    # momentum (condition "0"): up this much from the previous close.
    condition_threshold_pct: float = 2.0
    # 급등주 (condition "1"): up this much from the day's open.
    riser_threshold_pct: float = 2.0
    # 거래량급증 (condition "2"): this many times the shares per second of the baseline.
    surge_ratio: float = 3.0
    # How long a volume surge on the tape lasts on average, in seconds. A symbol surges about
    # every 6x this, and 거래량급증's windows scale with it, so a test can make both quick.
    surge_s: float = 40.0
    state_path: Path | None = None
    # Frames queued for one websocket beyond which the client is judged too slow and dropped.
    max_backlog: int = 10_000

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        _positive_finite("tick_rate", self.tick_rate, _MAX_TICK_RATE)
        _positive_finite("speed", self.speed, _MAX_SPEED)
        _positive_finite("heartbeat_interval", self.heartbeat_interval, 3_600.0)
        _positive_finite("volatility_bp", self.volatility_bp, _MAX_VOLATILITY_BP)
        _positive_finite("condition_threshold_pct", self.condition_threshold_pct, 29.0)
        _positive_finite("riser_threshold_pct", self.riser_threshold_pct, 29.0)
        _positive_finite("surge_ratio", self.surge_ratio, 1_000.0)
        if self.surge_ratio <= 1.0:
            raise ValueError(
                f"surge_ratio must be > 1 (3 is three times the usual volume), got {self.surge_ratio!r}"
            )
        _positive_finite("surge_s", self.surge_s, 3_600.0)
        if isinstance(self.initial_cash, bool) or not isinstance(self.initial_cash, int):
            raise ValueError(f"initial_cash must be a whole number of KRW >= 0, got {self.initial_cash!r}")
        if self.initial_cash < 0:
            raise ValueError(f"initial_cash must be >= 0 KRW, got {self.initial_cash:,}")
        rate = self.commission_rate
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or not 0 <= rate < 0.01
        ):
            raise ValueError(
                f"commission_rate must be a fraction with 0 <= commission_rate < 0.01 "
                f"(0.00015 is 0.015%), got {rate!r}"
            )
        if isinstance(self.max_backlog, bool) or not isinstance(self.max_backlog, int):
            raise ValueError(f"max_backlog must be an integer >= 1, got {self.max_backlog!r}")
        if self.max_backlog < 1:
            raise ValueError(f"max_backlog must be >= 1 frame, got {self.max_backlog}")
        if self.symbols is not None:
            self.symbols = tuple(self.symbols)
            if not self.symbols:
                raise ValueError("symbols must name at least one code, or be None for all")
            unknown = [s for s in self.symbols if s not in BY_CODE]
            if unknown:
                raise ValueError(
                    f"symbols: unknown code(s) {', '.join(map(repr, unknown))}; valid codes "
                    f"are {', '.join(listing.code for listing in UNIVERSE)}"
                )
            if len(set(self.symbols)) != len(self.symbols):
                raise ValueError(f"symbols must not repeat a code, got {self.symbols}")
        if self.state_path is not None:
            self.state_path = Path(self.state_path)

    @property
    def symbol_codes(self) -> tuple[str, ...]:
        """The traded codes, in universe order when `symbols` is None."""
        if self.symbols is None:
            return tuple(listing.code for listing in UNIVERSE)
        return self.symbols
