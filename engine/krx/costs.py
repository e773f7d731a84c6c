"""Commission and the sell-side securities transaction tax, in integer KRW."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Market(StrEnum):
    KOSPI = "KOSPI"
    KOSDAQ = "KOSDAQ"
    KONEX = "KONEX"


# Sell-side tax rates by market and the first day they apply (shared/reference/krx.md).
_TAX_SCHEDULE: dict[Market, tuple[tuple[date, float], ...]] = {
    Market.KOSPI: ((date(2025, 1, 1), 0.0015), (date(2026, 1, 1), 0.0020)),
    Market.KOSDAQ: ((date(2025, 1, 1), 0.0015), (date(2026, 1, 1), 0.0020)),
    Market.KONEX: ((date(2025, 1, 1), 0.0010),),
}


def sell_tax_rate(market: Market, on: date) -> float:
    rate = 0.0
    for start, r in _TAX_SCHEDULE[market]:
        if on >= start:
            rate = r
    return rate


@dataclass(frozen=True, slots=True)
class CostModel:
    """The one fee model: the broker's commission (each side, COMMISSION_RATE) plus the sell
    tax by market and date; amounts are floored to whole KRW. Every adapter that must compute
    a fill's costs itself, the portfolio's cash reservations and reconciliation use it."""

    commission_rate: float = 0.00015

    def commission(self, amount: int) -> int:
        return int(amount * self.commission_rate)

    def sell_tax(self, amount: int, market: Market, on: date) -> int:
        return int(amount * sell_tax_rate(market, on))

    def fill_costs(self, sell: bool, amount: int, market: Market, on: date) -> tuple[int, int]:
        """(commission, tax) of a fill worth `amount` KRW."""
        return self.commission(amount), self.sell_tax(amount, market, on) if sell else 0

    def with_commission(self, amount: float) -> float:
        """What buying `amount` KRW of shares costs, commission included."""
        return amount * (1 + self.commission_rate)
