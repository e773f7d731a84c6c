"""The simulated tape: one seeded random walk per symbol, on the KRX tick grid.

Each symbol keeps a latent (continuous) log price that follows a discrete Ornstein-Uhlenbeck
walk in trade time; every trade prints the latent price rounded to the nearest valid tick and
clamped to the daily limits. Rounding a latent price, rather than adding whole ticks to the
last print, keeps the long-run spread of prices exactly what the parameters say whatever the
tick size, and makes prints cluster on ticks as real ones do.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from engine.krx.prices import DailyLimits, daily_limits, nearest_valid
from engine.krx.universe import BY_CODE, Listing
from engine.sim.config import SimConfig
from engine.sim.protocol import TickRow

# Per-trade pull of log price toward the previous close. For an AR(1) walk the stationary
# variance is sigma^2 / (2 kappa); this kappa gives a 3.5% spread at the default 8 bp per
# trade, which keeps a symbol within about ±10% of its previous close over a whole session,
# as ordinary stocks are. It does not scale with volatility_bp, so a wilder setting gives a
# wilder market that can reach the daily limits.
_KAPPA = 0.0008**2 / (2 * 0.035**2)
_GAP_LOW, _GAP_HIGH = -0.02, 0.03
# Trade notional: lognormal around a few million KRW, the size of a typical retail print.
_NOTIONAL_MEDIAN = 3_000_000.0
_NOTIONAL_SIGMA = 1.0


def _nearest_tick(price: float, limits: DailyLimits) -> int:
    low, high = nearest_valid(max(1, int(price)))
    # int() truncated; the float decides which neighbour is nearer.
    chosen = high if high - price < price - low else low
    if chosen <= 0:
        chosen = high
    return min(max(chosen, limits.lower), limits.upper)


@dataclass(slots=True)
class SymbolState:
    listing: Listing
    limits: DailyLimits
    rng: random.Random
    log_price: float
    open: int
    high: int
    low: int
    last: int
    volume: int
    # Tape seconds until this symbol's next trade.
    until_next: float
    trades: int = 0

    @property
    def change_pct(self) -> float:
        return (self.last / self.listing.prev_close - 1.0) * 100.0


class Market:
    """Pure tape generator: advance(dt) returns the trades of the next dt seconds."""

    def __init__(
        self,
        codes: tuple[str, ...],
        *,
        seed: int,
        trade_rate: float,
        volatility_bp: float,
    ) -> None:
        if trade_rate <= 0:
            raise ValueError(f"trade_rate must be > 0 trades/s, got {trade_rate}")
        self._rate = trade_rate
        self._sigma = volatility_bp / 10_000.0
        self._kappa = _KAPPA
        self._symbols: dict[str, SymbolState] = {}
        for code in codes:
            listing = BY_CODE[code]
            # A string seed hashes with SHA-512, so it is stable across processes and runs.
            rng = random.Random(f"{seed}:{code}")
            limits = daily_limits(listing.prev_close)
            gap = rng.uniform(_GAP_LOW, _GAP_HIGH)
            log_open = math.log(listing.prev_close) + math.log1p(gap)
            open_price = _nearest_tick(math.exp(log_open), limits)
            self._symbols[code] = SymbolState(
                listing=listing,
                limits=limits,
                rng=rng,
                log_price=log_open,
                open=open_price,
                high=open_price,
                low=open_price,
                last=open_price,
                volume=0,
                until_next=rng.expovariate(trade_rate),
            )

    @classmethod
    def from_config(cls, config: SimConfig) -> Market:
        return cls(
            config.symbol_codes,
            seed=config.seed,
            trade_rate=config.tick_rate * config.speed,
            volatility_bp=config.volatility_bp,
        )

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    def __contains__(self, code: object) -> bool:
        return code in self._symbols

    def state(self, code: str) -> SymbolState:
        return self._symbols[code]

    def advance(self, dt: float, now_ns: int | None = None) -> list[TickRow]:
        """Trades of the next `dt` seconds of every symbol, in time order."""
        if dt < 0:
            raise ValueError(f"dt must be >= 0 seconds, got {dt}")
        ts = time.time_ns() if now_ns is None else now_ns
        timed: list[tuple[float, int, TickRow]] = []
        n = 0
        for code, st in self._symbols.items():
            t = st.until_next
            while t <= dt:
                timed.append((t, n, self._trade(code, st, ts)))
                n += 1
                t += st.rng.expovariate(self._rate)
            st.until_next = t - dt
        timed.sort()
        return [row for _, _, row in timed]

    def _trade(self, code: str, st: SymbolState, ts_ns: int) -> TickRow:
        rng = st.rng
        anchor = math.log(st.listing.prev_close)
        x = st.log_price
        x += self._sigma * rng.gauss(0.0, 1.0) - self._kappa * (x - anchor)
        # The latent price must not wander past the limits, or it would stay pinned there
        # long after the walk turns.
        x = min(max(x, math.log(st.limits.lower)), math.log(st.limits.upper))
        st.log_price = x
        price = _nearest_tick(math.exp(x), st.limits)
        if price > st.last:
            side = 1
        elif price < st.last:
            side = -1
        else:
            side = 1 if rng.random() < 0.5 else -1
        notional = math.exp(rng.gauss(math.log(_NOTIONAL_MEDIAN), _NOTIONAL_SIGMA))
        qty = max(1, int(notional / price))
        st.last = price
        st.high = max(st.high, price)
        st.low = min(st.low, price)
        st.volume += qty
        st.trades += 1
        return TickRow(code, ts_ns, price, qty, side, st.volume)
