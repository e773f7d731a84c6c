"""The simulated tape: one seeded random walk per symbol, on the KRX tick grid.

Each symbol keeps a latent (continuous) log price that follows a discrete Ornstein-Uhlenbeck
walk in trade time; every trade prints the latent price rounded to the nearest valid tick and
clamped to the daily limits. Rounding a latent price, rather than adding whole ticks to the
last print, keeps the long-run spread of prices exactly what the parameters say whatever the
tick size, and makes prints cluster on ticks as real ones do.

Volume comes in surges: now and then a symbol's trades get several times their usual size for
a while. Surges are drawn from a random stream of their own, so they change trade sizes only,
never the prices or the timing of the trades.

The day before the live tape starts is walked minute by minute (`walk_minutes`) with the same
process, aggregated over each minute's expected trades and pinned to end where the live tape
begins, so a chart opened at 10:30 shows the day from the open and the tape carries on from it.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from engine.krx.prices import DailyLimits, daily_limits, nearest_valid
from engine.krx.universe import BY_CODE, Listing
from engine.sim.config import SimConfig
from engine.sim.protocol import BarInfo, TickRow

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
_NOTIONAL_MEAN = _NOTIONAL_MEDIAN * math.exp(_NOTIONAL_SIGMA**2 / 2)
# A surge multiplies trade sizes by 4..8 for 0.5..1.5 x surge_s; calm spells last 6 x surge_s on
# average (exponentially distributed, so a surge may come at any moment).
_SURGE_MULT = (4.0, 8.0)
_SURGE_LENGTH = (0.5, 1.5)
_CALM_FACTOR = 6.0

MINUTE_NS = 60_000_000_000
# Prints per minute of history: a bar's high and low are the extremes of these.
_HISTORY_STEPS = 10
# Spread of a history minute's volume around what the trade rate makes it on average.
_HISTORY_VOLUME_SIGMA = 0.3


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
    # Own stream for volume surges, so surges leave `rng`'s prices and timing alone.
    surge_rng: random.Random
    # Trade size multiplier: 1.0 when calm.
    surge_mult: float = 1.0
    # Trades left in the current calm spell or surge.
    regime_left: float = 0.0
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
        surge_s: float = 40.0,
    ) -> None:
        if trade_rate <= 0:
            raise ValueError(f"trade_rate must be > 0 trades/s, got {trade_rate}")
        self._seed = seed
        self._rate = trade_rate
        self._sigma = volatility_bp / 10_000.0
        self._kappa = _KAPPA
        self._surge_trades = surge_s * trade_rate
        self._symbols: dict[str, SymbolState] = {}
        for code in codes:
            listing = BY_CODE[code]
            # A string seed hashes with SHA-512, so it is stable across processes and runs.
            rng = random.Random(f"{seed}:{code}")
            limits = daily_limits(listing.prev_close)
            gap = rng.uniform(_GAP_LOW, _GAP_HIGH)
            log_open = math.log(listing.prev_close) + math.log1p(gap)
            open_price = _nearest_tick(math.exp(log_open), limits)
            st = SymbolState(
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
                surge_rng=random.Random(f"{seed}:{code}:surge"),
            )
            st.regime_left = st.surge_rng.expovariate(1.0 / (_CALM_FACTOR * self._surge_trades))
            self._symbols[code] = st

    @classmethod
    def from_config(cls, config: SimConfig) -> Market:
        return cls(
            config.symbol_codes,
            seed=config.seed,
            trade_rate=config.tick_rate * config.speed,
            volatility_bp=config.volatility_bp,
            surge_s=config.surge_s,
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
        st.regime_left -= 1.0
        if st.regime_left <= 0.0:
            self._next_regime(st)
        qty = max(1, int(notional * st.surge_mult / price))
        st.last = price
        st.high = max(st.high, price)
        st.low = min(st.low, price)
        st.volume += qty
        st.trades += 1
        return TickRow(code, ts_ns, price, qty, side, st.volume)

    def _next_regime(self, st: SymbolState) -> None:
        rng = st.surge_rng
        if st.surge_mult == 1.0:
            st.surge_mult = rng.uniform(*_SURGE_MULT)
            st.regime_left = rng.uniform(*_SURGE_LENGTH) * self._surge_trades
        else:
            st.surge_mult = 1.0
            st.regime_left = rng.expovariate(1.0 / (_CALM_FACTOR * self._surge_trades))

    # ---- the day before the live tape -------------------------------------------------------

    def history_rng(self, code: str, first_minute_ns: int | None = None) -> random.Random:
        """The stream a history walk of `code` draws from: from the day's start (None) or a
        continuation from a later minute, each a function of the seed alone."""
        tail = "" if first_minute_ns is None else f":{first_minute_ns}"
        return random.Random(f"{self._seed}:{code}:history{tail}")

    def walk_minutes(
        self, code: str, first_minute_ns: int, now_ns: int, rng: random.Random, start_price: int
    ) -> list[BarInfo]:
        """The minutes from `first_minute_ns` (a whole minute) to the one holding `now_ns`
        (walked only as far as `now_ns` is into it) as bars: a walk from `start_price` that
        ends where the live tape's walk is now, so the tape carries on from the last bar's
        close. The tape's state is left where it is (it counts the bars' volume and range).

        Each minute is `_HISTORY_STEPS` prints, each the walk over the trades that many seconds
        would have at the tape's rate (the AR(1) step over n trades in one draw is exact), so
        the history moves as the live tape would have. The walk is then pinned to its end, an
        Ornstein-Uhlenbeck bridge: each print is moved by its share of the miss at the end,
        that share being how much the print and the end covary. Pinning the history rather
        than starting the tape where a free walk ended keeps the live tape a function of the
        seed alone, whatever the hour the sim starts at."""
        st = self._symbols[code]
        now_minute = now_ns - now_ns % MINUTE_NS
        if first_minute_ns > now_minute:
            return []
        minutes = range(first_minute_ns, now_minute + 1, MINUTE_NS)
        steps = [_HISTORY_STEPS] * len(minutes)
        # At least one print, so the minute the live tape starts in has a bar.
        steps[-1] = min(_HISTORY_STEPS, 1 + (now_ns - now_minute) * _HISTORY_STEPS // MINUTE_NS)
        n = sum(steps)
        limits = st.limits
        anchor = math.log(st.listing.prev_close)
        # log(phi), phi = (1 - kappa)^trades: what is left of a gap to the anchor after the
        # trades of one print; expm1 keeps 1 - phi^2 exact when phi is close to 1.
        log_keep = math.log1p(-self._kappa)
        log_phi = self._rate * 60.0 / _HISTORY_STEPS * log_keep
        phi = math.exp(log_phi)
        sd = self._sigma * math.sqrt(math.expm1(2 * log_phi) / math.expm1(2 * log_keep))
        gauss = rng.gauss
        x = math.log(start_price)
        path: list[float] = []
        for _ in range(n):
            x = anchor + (x - anchor) * phi + sd * gauss(0.0, 1.0)
            path.append(x)
        miss = path[-1] - st.log_price
        whole = math.expm1(2 * n * log_phi)
        lo, hi = math.log(limits.lower), math.log(limits.upper)
        for k in range(1, n + 1):
            share = math.exp((n - k) * log_phi) * math.expm1(2 * k * log_phi) / whole
            path[k - 1] = min(max(path[k - 1] - share * miss, lo), hi)
        path[-1] = st.log_price
        bars: list[BarInfo] = []
        price = start_price
        i = 0
        for minute, count in zip(minutes, steps, strict=True):
            chunk = path[i : i + count]
            i += count
            open_ = price
            # Rounding to a tick is monotonic: the latent extremes give the bar's extremes.
            price = _nearest_tick(math.exp(chunk[-1]), limits)
            high = max(open_, _nearest_tick(math.exp(max(chunk)), limits))
            low = min(open_, _nearest_tick(math.exp(min(chunk)), limits))
            expected = self._rate * 60.0 * count / _HISTORY_STEPS * _NOTIONAL_MEAN / price
            volume = max(1, round(expected * math.exp(gauss(0.0, _HISTORY_VOLUME_SIGMA))))
            bars.append(BarInfo(ts_ns=minute, open=open_, high=high, low=low, close=price, volume=volume))
            st.volume += volume
            st.high = max(st.high, high)
            st.low = min(st.low, low)
        return bars

    def restore(self, code: str, bars: list[BarInfo], *, carry_on: bool) -> None:
        """Count saved bars of today (a restart on a state file) in the day's range and volume.
        With `carry_on` the live tape also goes on from the last bar's close: for a restart
        within the minute the bars end in, which leaves no minutes to walk back to the tape."""
        st = self._symbols[code]
        st.high = max(st.high, max(b.high for b in bars))
        st.low = min(st.low, min(b.low for b in bars))
        st.volume = sum(b.volume for b in bars)
        if carry_on:
            st.last = bars[-1].close
            st.log_price = math.log(st.last)
