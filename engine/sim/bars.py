"""Today's 1-minute bars of every symbol: the history walked at start-up, then the live trades
added to the bar of the minute they print in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import time

from engine.clock import NS, day_start_ns, seoul_date
from engine.krx.calendar import REGULAR_CLOSE, REGULAR_OPEN
from engine.sim.market import MINUTE_NS
from engine.sim.protocol import BarInfo, TickRow

# Outside the session hours the history is this window before the start, so a demo at night
# still opens on a chart with some context.
OFF_HOURS_WINDOW_MINUTES = 60


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def history_start_ns(now_ns: int) -> int:
    """Where the day's bars start for a sim starting at `now_ns`: 09:00 Seoul during the regular
    session (09:00-15:30), otherwise the whole minute 60 minutes before the start."""
    midnight = day_start_ns(seoul_date(now_ns))
    # Korea keeps no daylight saving time: midnight + 9 h is 09:00 every day.
    open_ns = midnight + _seconds(REGULAR_OPEN) * NS
    close_ns = midnight + _seconds(REGULAR_CLOSE) * NS
    if open_ns <= now_ns < close_ns:
        return open_ns
    return now_ns - now_ns % MINUTE_NS - OFF_HOURS_WINDOW_MINUTES * MINUTE_NS


class BarBook:
    def __init__(self, codes: Iterable[str]) -> None:
        self._bars: dict[str, list[BarInfo]] = {code: [] for code in codes}

    def bars(self, code: str) -> list[BarInfo]:
        """The symbol's bars, oldest first; the last may still be growing (do not keep it)."""
        return self._bars[code]

    def extend(self, code: str, bars: Iterable[BarInfo]) -> None:
        self._bars[code].extend(bars)

    def since(self, ts_ns: int) -> Iterator[tuple[str, BarInfo]]:
        """Every bar of every symbol starting at or after `ts_ns`."""
        for code, bars in self._bars.items():
            i = len(bars)
            while i > 0 and bars[i - 1].ts_ns >= ts_ns:
                i -= 1
            for bar in bars[i:]:
                yield code, bar

    def add(self, rows: Iterable[TickRow]) -> None:
        """Fold live trades into their minutes' bars. On the tape's hot path: one dict lookup
        and a few comparisons per trade."""
        book = self._bars
        for row in rows:
            bars = book[row.symbol]
            ts = row.ts_ns
            minute = ts - ts % MINUTE_NS
            price = row.price
            if bars:
                bar = bars[-1]
                # A clock set back puts its trades in the last bar: bars only go forward.
                if minute <= bar.ts_ns:
                    if price > bar.high:
                        bar.high = price
                    elif price < bar.low:
                        bar.low = price
                    bar.close = price
                    bar.volume += row.qty
                    continue
            bars.append(BarInfo(ts_ns=minute, open=price, high=price, low=price, close=price, volume=row.qty))
