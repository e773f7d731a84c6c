"""Instruments fetched one by one (brokers with no full listing), kept for the Seoul day they
are for: base price and limits change every day, so a long run never trades on yesterday's."""

from __future__ import annotations

from datetime import date

from engine.clock import Clock
from engine.instruments import Instrument
from engine.krx.costs import Market
from engine.krx.universe import BY_CODE


class DailyInstruments:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._known: dict[str, tuple[date, Instrument]] = {}

    def get(self, code: str) -> Instrument | None:
        """Today's figures, if fetched today."""
        known = self._known.get(code)
        return known[1] if known is not None and known[0] == self._clock.today() else None

    def put(self, inst: Instrument) -> Instrument:
        self._known[inst.code] = (self._clock.today(), inst)
        return inst

    def today(self) -> dict[str, Instrument]:
        day = self._clock.today()
        return {code: inst for code, (on, inst) in self._known.items() if on == day}

    def market(self, code: str) -> Market:
        """The symbol's market, from any day's figures or the listing; KOSPI if unknown."""
        known = self._known.get(code)
        if known is not None:
            return known[1].market
        listing = BY_CODE.get(code)
        return listing.market if listing else Market.KOSPI
