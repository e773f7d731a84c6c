"""Instruments fetched one by one are kept for their Seoul day only."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.brokers.common.instruments import DailyInstruments
from engine.clock import SEOUL, Clock
from engine.instruments import Instrument
from engine.krx.costs import Market


def test_yesterdays_figures_are_not_todays() -> None:
    clock = Clock(datetime(2026, 12, 1, 15, 0, tzinfo=SEOUL), frozen=True)
    cache = DailyInstruments(clock)
    inst = Instrument(
        "247540", "에코프로비엠", Market.KOSDAQ, 100_000, 101_000, 99_000, 100_000, 130_000, 70_000
    )
    assert cache.put(inst) is inst
    assert cache.get("247540") is inst and cache.today() == {"247540": inst}
    clock.advance(timedelta(days=1).total_seconds())
    assert cache.get("247540") is None and cache.today() == {}
    # The market does not change overnight: a fill's tax is still right before a refetch.
    assert cache.market("247540") is Market.KOSDAQ
    assert cache.market("999990") is Market.KOSPI  # unknown: the listing has no such code
