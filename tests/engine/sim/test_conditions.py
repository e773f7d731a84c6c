from __future__ import annotations

from engine.krx.universe import BY_CODE
from engine.sim.conditions import HYSTERESIS_PCT, MOMENTUM, VOLUME_WINDOW_S, ConditionSearch
from engine.sim.config import SimConfig
from engine.sim.market import Market
from engine.sim.protocol import ConditionEventIn, TickRow

PREV = BY_CODE["005930"].prev_close  # 97,600


def _row(price: int, qty: int = 100) -> TickRow:
    return TickRow("005930", 1, price, qty, 1, 0)


def _search() -> ConditionSearch:
    return ConditionSearch({"005930": PREV}, 2.0)


def test_enter_needs_threshold_and_rising_volume_leave_has_hysteresis() -> None:
    cs = _search()
    up = 99_600  # +2.05%
    # Below the threshold: nothing however the volume moves.
    assert cs.on_ticks([_row(99_400)], now=0.0) == []
    # Enough change, but the last window traded less than the one before: no entry.
    assert cs.on_ticks([_row(up, 10)], now=VOLUME_WINDOW_S + 0.5) == []
    # Volume picks up: enter.
    events = cs.on_ticks([_row(up, 500)], now=VOLUME_WINDOW_S + 1.0)
    assert [(e.symbol, e.event, e.seq) for e in events] == [("005930", "enter", 1)]
    assert cs.members(MOMENTUM) == {"005930"}
    # Dipping under the threshold but within the hysteresis keeps it in.
    within = int(PREV * (1 + (2.0 - HYSTERESIS_PCT / 2) / 100)) // 100 * 100
    assert cs.on_ticks([_row(within)], now=5.0) == []
    events = cs.on_ticks([_row(98_900)], now=5.1)  # +1.33%
    assert [(e.event, e.seq) for e in events] == [("leave", 2)]
    assert cs.members(MOMENTUM) == set()


def test_inject_keeps_order_and_seq_and_takes_manual_control() -> None:
    cs = _search()
    evs = [ConditionEventIn("005930", "enter"), ConditionEventIn("005930", "enter")]
    out = cs.inject(MOMENTUM, evs, ts_ns=5)
    assert [(e.event, e.seq, e.ts_ns) for e in out] == [("enter", 1, 5), ("enter", 2, 5)]
    # The tape is far below the threshold, but an injected member is left alone.
    assert cs.on_ticks([_row(90_000)], now=1.0) == []
    assert [(e.symbol, e.seq) for e in cs.snapshot(MOMENTUM)] == [("005930", 2)]
    out = cs.inject(MOMENTUM, [ConditionEventIn("005930", "leave")], ts_ns=6)
    assert [(e.event, e.seq) for e in out] == [("leave", 3)]
    assert cs.snapshot(MOMENTUM) == []
    assert cs.last_seq(MOMENTUM) == 3


def test_defaults_at_twenty_trades_a_second_produce_enters_and_leaves_within_ten_s() -> None:
    cfg = SimConfig(tick_rate=20.0)
    market = Market.from_config(cfg)
    cs = ConditionSearch({c: BY_CODE[c].prev_close for c in market.codes}, cfg.condition_threshold_pct)
    events = []
    t = 0.0
    while t < 10.0:
        t += 0.015
        events.extend(cs.on_ticks(market.advance(0.015, now_ns=0), now=t))
    enters = [e for e in events if e.event == "enter"]
    leaves = [e for e in events if e.event == "leave"]
    assert len({e.symbol for e in enters}) >= 3
    assert leaves
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
