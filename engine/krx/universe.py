"""Listed stocks the simulated exchange trades: real codes and names at plausible prices.

`prev_close` is the base for the daily limits; `prev_high`/`prev_low` give the previous day's
range that the volatility-breakout strategy uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.krx.costs import Market
from engine.krx.prices import round_down


@dataclass(frozen=True, slots=True)
class Listing:
    code: str
    name: str
    market: Market
    prev_close: int
    prev_high: int
    prev_low: int


def _listing(code: str, name: str, market: Market, close: int, range_pct: float) -> Listing:
    high = round_down(int(close * (1 + range_pct * 0.6)))
    low = round_down(int(close * (1 - range_pct * 0.4)))
    return Listing(code, name, market, round_down(close), high, low)


K, Q = Market.KOSPI, Market.KOSDAQ

UNIVERSE: tuple[Listing, ...] = (
    _listing("005930", "삼성전자", K, 97_600, 0.030),
    _listing("000660", "SK하이닉스", K, 561_000, 0.045),
    _listing("373220", "LG에너지솔루션", K, 381_500, 0.040),
    _listing("207940", "삼성바이오로직스", K, 1_052_000, 0.025),
    _listing("005380", "현대차", K, 251_500, 0.030),
    _listing("000270", "기아", K, 114_800, 0.028),
    _listing("068270", "셀트리온", K, 181_300, 0.032),
    _listing("035420", "NAVER", K, 249_000, 0.035),
    _listing("035720", "카카오", K, 58_400, 0.040),
    _listing("105560", "KB금융", K, 116_200, 0.025),
    _listing("055550", "신한지주", K, 70_300, 0.025),
    _listing("005490", "POSCO홀딩스", K, 321_000, 0.035),
    _listing("051910", "LG화학", K, 298_500, 0.040),
    _listing("006400", "삼성SDI", K, 247_000, 0.045),
    _listing("012330", "현대모비스", K, 301_000, 0.025),
    _listing("066570", "LG전자", K, 84_900, 0.030),
    _listing("015760", "한국전력", K, 38_250, 0.030),
    _listing("034020", "두산에너빌리티", K, 74_800, 0.050),
    _listing("012450", "한화에어로스페이스", K, 912_000, 0.045),
    _listing("032640", "LG유플러스", K, 14_230, 0.020),
    _listing("001510", "SK증권", K, 612, 0.040),
    _listing("005935", "삼성전자우", K, 78_300, 0.025),
    _listing("247540", "에코프로비엠", Q, 131_400, 0.060),
    _listing("086520", "에코프로", Q, 81_700, 0.060),
    _listing("196170", "알테오젠", Q, 452_500, 0.055),
    _listing("028300", "HLB", Q, 45_150, 0.070),
    _listing("263750", "펄어비스", Q, 30_650, 0.050),
    _listing("293490", "카카오게임즈", Q, 16_020, 0.045),
    _listing("041510", "에스엠", Q, 108_900, 0.040),
    _listing("058470", "리노공업", Q, 203_500, 0.040),
)

BY_CODE: dict[str, Listing] = {listing.code: listing for listing in UNIVERSE}
