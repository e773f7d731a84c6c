"""The KRX trading calendar in Asia/Seoul: which days trade, and when.

Holidays come from the maintained `holidays` package (financial calendar XKRX), checked against
shared/reference/krx.md. Special sessions change yearly, so they live in a table the user can
extend: the first trading day of each year opens at 10:00, and the college entrance exam day
trades 10:00-16:30.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from engine.clock import SEOUL

__all__ = ["SEOUL", "KrxCalendar", "Session"]

REGULAR_OPEN = time(9, 0)
REGULAR_CLOSE = time(15, 30)
CLOSING_AUCTION = timedelta(minutes=10)  # the closing call auction: the last 10 minutes

# College entrance exam (수능) days: the session moves to 10:00-16:30 (KRX notices).
EXAM_DAYS: dict[date, str] = {
    date(2024, 11, 14): "college entrance exam day",
    date(2025, 11, 13): "college entrance exam day",
    date(2026, 11, 19): "college entrance exam day",
}
EXAM_SESSION = (time(10, 0), time(16, 30))


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    open: datetime  # aware, Asia/Seoul
    close: datetime
    note: str

    @property
    def closing_auction(self) -> datetime:
        """When continuous trading stops and the closing auction starts."""
        return self.close - CLOSING_AUCTION


@dataclass(frozen=True, slots=True)
class MarketDay:
    day: date
    session: Session | None
    reason: str  # why closed, or what kind of session

    @property
    def is_open(self) -> bool:
        return self.session is not None


def at(day: date, t: time) -> datetime:
    return datetime.combine(day, t, SEOUL)


@lru_cache(maxsize=8)
def _xkrx(year: int) -> dict[date, str]:
    return dict(holidays.financial_holidays("XKRX", years=year).items())


class KrxCalendar:
    def __init__(
        self,
        special_sessions: Mapping[date, tuple[time, time, str]] | None = None,
        extra_holidays: Mapping[date, str] | None = None,
    ) -> None:
        """special_sessions: day -> (open, close, note), overriding the built-in table."""
        self.special = {d: (*EXAM_SESSION, note) for d, note in EXAM_DAYS.items()}
        self.special.update(special_sessions or {})
        self.extra_holidays = dict(extra_holidays or {})

    def holiday(self, day: date) -> str | None:
        if day in self.extra_holidays:
            return self.extra_holidays[day]
        return _xkrx(day.year).get(day)

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def first_trading_day(self, year: int) -> date:
        day = date(year, 1, 1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day

    def next_trading_day(self, after: date) -> date:
        day = after + timedelta(days=1)
        while not self.is_trading_day(day):
            day += timedelta(days=1)
        return day

    def day(self, day: date) -> MarketDay:
        if day.weekday() >= 5:
            return MarketDay(day, None, "weekend")
        name = self.holiday(day)
        if name is not None:
            return MarketDay(day, None, f"holiday: {name}")
        if day in self.special:
            open_t, close_t, note = self.special[day]
            return MarketDay(day, Session(day, at(day, open_t), at(day, close_t), note), note)
        if day == self.first_trading_day(day.year):
            note = "first trading day of the year: opens 10:00"
            return MarketDay(day, Session(day, at(day, time(10, 0)), at(day, REGULAR_CLOSE), note), note)
        return MarketDay(
            day,
            Session(day, at(day, REGULAR_OPEN), at(day, REGULAR_CLOSE), "regular session"),
            "regular session",
        )


def parse_special_sessions(raw: str) -> dict[date, tuple[time, time, str]]:
    """`2027-11-18=10:00-16:30,2026-12-30=10:00-15:30` (for KRX_SPECIAL_SESSIONS)."""
    table: dict[date, tuple[time, time, str]] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        day_text, sep, times = part.strip().partition("=")
        open_text, dash, close_text = times.partition("-")
        if not sep or not dash:
            raise ValueError(part)
        open_t, close_t = time.fromisoformat(open_text.strip()), time.fromisoformat(close_text.strip())
        if close_t <= open_t:
            raise ValueError(part)
        table[date.fromisoformat(day_text.strip())] = (open_t, close_t, "special session (config)")
    return table


def parse_holidays(raw: str) -> dict[date, str]:
    """`2026-12-29,2027-01-04` (for KRX_EXTRA_HOLIDAYS)."""
    return {date.fromisoformat(p.strip()): "holiday (config)" for p in raw.split(",") if p.strip()}
