"""The KRX calendar for 2025-2026 against shared/reference/krx.md."""

from __future__ import annotations

from datetime import date, time

import pytest

from engine.krx.calendar import KrxCalendar, parse_special_sessions

CAL = KrxCalendar()

# Every 2026 holiday krx.md lists (XKRX): 06-03 local election and 07-17 Constitution Day included.
HOLIDAYS_2026 = [
    "01-01",
    "02-16",
    "02-17",
    "02-18",
    "03-02",
    "05-01",
    "05-05",
    "05-25",
    "06-03",
    "07-17",
    "08-17",
    "09-24",
    "09-25",
    "10-05",
    "10-09",
    "12-25",
    "12-31",
]
HOLIDAYS_2025 = [
    "01-01",
    "01-27",
    "01-28",
    "01-29",
    "01-30",
    "03-03",
    "05-01",
    "05-05",
    "05-06",
    "06-03",
    "06-06",
    "08-15",
    "10-03",
    "10-06",
    "10-07",
    "10-08",
    "10-09",
    "12-25",
    "12-31",
]


@pytest.mark.parametrize("day", [f"2026-{d}" for d in HOLIDAYS_2026] + [f"2025-{d}" for d in HOLIDAYS_2025])
def test_holidays_are_closed_with_their_name(day: str) -> None:
    market = CAL.day(date.fromisoformat(day))
    assert not market.is_open and market.reason.startswith("holiday: ")


def test_2026_has_exactly_the_listed_weekday_holidays() -> None:
    weekdays = [
        date(2026, 1, 1).fromordinal(o)
        for o in range(date(2026, 1, 1).toordinal(), date(2027, 1, 1).toordinal())
    ]
    closed = sorted(d.strftime("%m-%d") for d in weekdays if d.weekday() < 5 and not CAL.is_trading_day(d))
    assert closed == HOLIDAYS_2026


def test_weekends() -> None:
    assert CAL.day(date(2026, 11, 21)).reason == "weekend"  # a Saturday
    assert CAL.day(date(2026, 11, 22)).reason == "weekend"
    assert CAL.next_trading_day(date(2026, 11, 20)) == date(2026, 11, 23)


def test_first_trading_day_opens_at_ten() -> None:
    s = CAL.day(date(2026, 1, 2)).session
    assert s is not None and (s.open.time(), s.close.time()) == (time(10), time(15, 30))
    assert "first trading day" in s.note
    assert CAL.first_trading_day(2025) == date(2025, 1, 2)


def test_exam_day_trades_ten_to_four_thirty() -> None:
    s = CAL.day(date(2025, 11, 13)).session
    assert s is not None and (s.open.time(), s.close.time()) == (time(10), time(16, 30))
    assert s.closing_auction.time() == time(16, 20)
    assert "exam" in s.note


def test_regular_day_and_timezone() -> None:
    s = CAL.day(date(2026, 11, 20)).session
    assert s is not None and s.note == "regular session"
    assert s.open.isoformat() == "2026-11-20T09:00:00+09:00"
    assert s.closing_auction.time() == time(15, 20)


def test_user_table_extends_and_overrides() -> None:
    cal = KrxCalendar(parse_special_sessions("2026-11-23=10:00-16:30"), {date(2026, 11, 24): "x"})
    s = cal.day(date(2026, 11, 23)).session
    assert s is not None and s.close.time() == time(16, 30)
    assert not cal.day(date(2026, 11, 24)).is_open
    with pytest.raises(ValueError):
        parse_special_sessions("2026-11-23=16:00-10:00")
