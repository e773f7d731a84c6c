"""The one clock: what time it is, and which trading date it is, in Seoul.

Everything that asks "now" or "today" gets a `Clock` handed to it (the engine, the brokers, the
schedule, the report, the sim exchange, the test fakes). Nothing asks the machine: its time zone
is whatever the host was set up with, and KRX trades on Seoul's date whatever the host says.

A clock can be started at another instant (`CLOCK_START`, tests, demos): it then runs at the
real rate from there, so timeouts and sleeps still mean what they say. A frozen clock moves only
when told to (unit tests of day rollover).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")
NS = 1_000_000_000


class Clock:
    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("a clock's start needs a time zone (naive times are ambiguous)")
        real = time.time_ns()
        self._offset_ns = 0 if start is None else _epoch_ns(start) - real
        self._frozen_ns: int | None = (real + self._offset_ns) if frozen else None

    @classmethod
    def at(cls, start: datetime, frozen: bool = False) -> Clock:
        """A clock reading `start` now; a naive `start` is read as Seoul time."""
        return cls(start if start.tzinfo else start.replace(tzinfo=SEOUL), frozen=frozen)

    @property
    def shifted(self) -> bool:
        return self._offset_ns != 0 or self._frozen_ns is not None

    def time_ns(self) -> int:
        if self._frozen_ns is not None:
            return self._frozen_ns
        return time.time_ns() + self._offset_ns

    def time(self) -> float:
        return self.time_ns() / NS

    def now(self) -> datetime:
        """Now, as an aware datetime in Seoul."""
        return datetime.fromtimestamp(self.time_ns() / NS, SEOUL)

    def today(self) -> date:
        """Today's date in Seoul: the date KRX trades on."""
        return self.now().date()

    def timer_instant(self, when: datetime) -> datetime:
        """The instant at which this clock will read `when`, as timers that read the machine's
        clock (APScheduler's) need it. A frozen clock never gets there on its own: unchanged."""
        if self._frozen_ns is not None:
            return when
        return when - timedelta(microseconds=self._offset_ns // 1_000)

    def set(self, when: datetime) -> None:
        """Move the clock to `when` (tests and demos). A frozen clock stays frozen there."""
        target = _epoch_ns(when if when.tzinfo else when.replace(tzinfo=SEOUL))
        if self._frozen_ns is not None:
            self._frozen_ns = target
        else:
            self._offset_ns = target - time.time_ns()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def _epoch_ns(when: datetime) -> int:
    # Integer arithmetic: a float timestamp loses the nanoseconds of today's epoch.
    return (when - _EPOCH) // timedelta(microseconds=1) * 1_000


def seoul_date(ts_ns: int) -> date:
    """The Seoul date of an epoch timestamp (a fill's, an alert's)."""
    return datetime.fromtimestamp(ts_ns / NS, SEOUL).date()


def seoul_datetime(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns / NS, SEOUL)


def day_start_ns(day: date) -> int:
    """Midnight starting `day` in Seoul, as epoch nanoseconds."""
    return _epoch_ns(datetime.combine(day, datetime.min.time(), SEOUL))
