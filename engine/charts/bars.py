"""Tick to OHLCV bar aggregation, cheap enough for the engine's per-trade hot path."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from engine.charts.model import Bar

__all__ = ["Bar", "BarSeries", "resample"]

_NS = 1_000_000_000


class BarSeries:
    """Rolling OHLCV bars built from trades.

    Bars start on multiples of interval_s since the Unix epoch; for intervals that divide an
    hour that is also on the Seoul clock (UTC+9 is a whole number of hours). Intervals with no
    trades produce no bar, so a halt or the overnight gap costs nothing and maxlen counts bars
    that actually traded. A trade older than the current bar (clock skew, replays) is folded into
    the current bar's high, low and volume but never moves its close, which must stay the latest.
    """

    __slots__ = (
        "_close",
        "_closed",
        "_end",
        "_high",
        "_interval_ns",
        "_low",
        "_open",
        "_start",
        "_volume",
        "interval_s",
    )

    def __init__(self, interval_s: int = 60, maxlen: int = 1440) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self.interval_s = interval_s
        self._interval_ns = interval_s * _NS
        # One slot is the current bar, which lives in plain attributes until it closes.
        self._closed: deque[Bar] = deque(maxlen=maxlen - 1)
        # _end == 0 means no current bar yet: every real tick then takes the slow path.
        self._start = 0
        self._end = 0
        self._open = 0
        self._high = 0
        self._low = 0
        self._close = 0
        self._volume = 0

    def add(self, ts_ns: int, price: int, qty: int) -> None:
        # The common case, a trade inside the current bar, allocates nothing.
        if self._start <= ts_ns < self._end:
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume += qty
            return
        self._slow_add(ts_ns, price, qty)

    def _slow_add(self, ts_ns: int, price: int, qty: int) -> None:
        if self._end and ts_ns < self._start:
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._volume += qty
            return
        if self._end:
            self._closed.append(
                Bar(self._start, self._open, self._high, self._low, self._close, self._volume)
            )
        start = ts_ns - ts_ns % self._interval_ns
        self._start = start
        self._end = start + self._interval_ns
        self._open = self._high = self._low = self._close = price
        self._volume = qty

    def add_history(self, history: Sequence[Bar]) -> int:
        """Bars from before what the series holds (the broker's bars since the open), put in
        front of it; the minute the series is in keeps its own figures. Returns bars added."""
        first = self._closed[0].start_ns if self._closed else (self._start if self._end else None)
        older = sorted((b for b in history if first is None or b.start_ns < first), key=lambda b: b.start_ns)
        added = 0
        if not self._end and older:
            # Nothing traded yet: the newest historical bar is the one still forming.
            last = older.pop()
            self._start, self._end = last.start_ns, last.start_ns + self._interval_ns
            self._open, self._high, self._low = last.open, last.high, last.low
            self._close, self._volume = last.close, last.volume
            added = 1
        room = (self._closed.maxlen or 0) - len(self._closed)
        kept = older[-room:] if room > 0 else []
        self._closed.extendleft(reversed(kept))
        return added + len(kept)

    def bars(self) -> list[Bar]:
        """Closed bars oldest first, then the bar still forming (if any trade came in)."""
        out = list(self._closed)
        if self._end:
            out.append(Bar(self._start, self._open, self._high, self._low, self._close, self._volume))
        return out

    def __len__(self) -> int:
        return len(self._closed) + (1 if self._end else 0)


def resample(bars: Sequence[Bar], interval_s: int) -> list[Bar]:
    """Merge time-ordered bars into epoch-aligned bars of interval_s (e.g. 1-minute into 5-minute).

    interval_s should be a multiple of the input bars' interval, otherwise an input bar is
    credited whole to the output bar its start falls in.
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    step = interval_s * _NS
    out: list[Bar] = []
    if not bars:
        return out
    first = bars[0]
    start = first.start_ns - first.start_ns % step
    o, h, lo, c, v = first.open, first.high, first.low, first.close, first.volume
    for b in bars[1:]:
        bucket = b.start_ns - b.start_ns % step
        if bucket != start:
            if bucket < start:
                raise ValueError("bars must be in time order")
            out.append(Bar(start, o, h, lo, c, v))
            start = bucket
            o, h, lo, c, v = b.open, b.high, b.low, b.close, b.volume
            continue
        if b.high > h:
            h = b.high
        if b.low < lo:
            lo = b.low
        c = b.close
        v += b.volume
    out.append(Bar(start, o, h, lo, c, v))
    return out
