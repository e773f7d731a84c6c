from __future__ import annotations

import pytest

from engine.krx.universe import BY_CODE
from engine.sim.conditions import (
    HYSTERESIS_PCT,
    MOMENTUM,
    RISERS,
    VOLUME_SURGE,
    VOLUME_WINDOW_S,
    ConditionSearch,
    UnknownCondition,
)
from engine.sim.config import SimConfig
from engine.sim.market import Market
from engine.sim.protocol import Condition, ConditionEventIn, TickRow

PREV = BY_CODE["005930"].prev_close  # 97,600


def _row(price: int, qty: int = 100) -> TickRow:
    return TickRow("005930", 1, price, qty, 1, 0)


def _search() -> ConditionSearch:
    """Momentum alone: the other conditions' thresholds are out of reach."""
    return ConditionSearch({"005930": PREV}, 2.0, riser_pct=29.0, surge_ratio=1_000.0)


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
    events: list[Condition] = []
    t = 0.0
    while t < 10.0:
        t += 0.015
        rows = market.advance(0.015, now_ns=0)
        events.extend(e for e in cs.on_ticks(rows, now=t) if e.name == MOMENTUM)
    enters = [e for e in events if e.event == "enter"]
    leaves = [e for e in events if e.event == "leave"]
    assert len({e.symbol for e in enters}) >= 3
    assert leaves
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def _quiet_momentum(**kw: float) -> ConditionSearch:
    """Only the condition under test can fire: the others' thresholds are out of reach."""
    settings = {"riser_pct": 29.0, "surge_ratio": 1_000.0, **kw}
    return ConditionSearch({"005930": PREV}, 29.0, opens={"005930": 100_000}, **settings)


def test_riser_enters_up_from_the_open_and_leaves_a_point_lower() -> None:
    cs = _quiet_momentum(riser_pct=3.0)  # enters at >= 103,000, leaves below 102,000
    # +5.5% from the previous close but +2.9% from the open: the open is what counts.
    assert cs.on_ticks([_row(102_900)], now=0.0) == []
    events = cs.on_ticks([_row(103_000)], now=0.1)
    assert [(e.id, e.name, e.symbol, e.event, e.seq) for e in events] == [("1", RISERS, "005930", "enter", 1)]
    # Back under the entry price but inside the band: still a member, on every print.
    for price in (102_900, 102_100, 102_000, 102_800):
        assert cs.on_ticks([_row(price)], now=0.2) == []
    assert cs.members(RISERS) == {"005930"}
    events = cs.on_ticks([_row(101_900)], now=0.3)
    assert [(e.event, e.seq) for e in events] == [("leave", 2)]
    # Out again, the same band works the other way: 102,900 is not enough to come back.
    assert cs.on_ticks([_row(102_900)], now=0.4) == []
    assert [e.seq for e in cs.on_ticks([_row(103_100)], now=0.5)] == [3]
    assert [e.seq for e in cs.snapshot("1")] == [3]


def test_riser_open_defaults_to_the_previous_close() -> None:
    cs = ConditionSearch({"005930": PREV}, 29.0, riser_pct=3.0, surge_ratio=1_000.0)
    up = [e.name for e in cs.on_ticks([_row(100_600)], now=0.0)]  # +3.07% from 97,600
    assert up == [RISERS]


def _feed(cs: ConditionSearch, t: float, qty: int, seconds: float) -> tuple[float, list[tuple[float, str]]]:
    """Ten prints a second of `qty` shares; returns the end time and (time, event) pairs."""
    out: list[tuple[float, str]] = []
    for _ in range(round(seconds * 10)):
        t = round(t + 0.1, 6)
        out += [(t, e.event) for e in cs.on_ticks([_row(PREV, qty)], now=t) if e.name == VOLUME_SURGE]
    return t, out


def test_volume_surge_enters_at_the_ratio_and_leaves_at_half_of_it() -> None:
    # surge_s 4: the last 1 s against the 6 s before it.
    cs = _quiet_momentum(surge_ratio=3.0, surge_s=4.0)
    t, events = _feed(cs, 0.0, 100, 8.0)
    assert events == []  # an even tape never surges
    # Four times the volume: the last second's rate reaches 3x the baseline's at the 7th print
    # (1,000 + 7 x 300 shares = 3,100 against 6 s x 1,000 / 6 ... x 3).
    t, events = _feed(cs, t, 400, 2.0)
    assert events == [(8.7, "enter")]
    # By the end of the surge the baseline has taken some of it in: the ratio is under 3 (2.8)
    # yet the symbol stays in.
    assert cs.members("2") == {"005930"}
    # Twice the old volume: the ratio sinks from 2.4 and falls under 1.5 at 10.7 s.
    t, events = _feed(cs, t, 200, 3.0)
    assert events == [(10.7, "leave")]
    t, events = _feed(cs, t, 50, 3.0)
    assert events == [] and cs.last_seq(VOLUME_SURGE) == 2


def test_volume_surge_waits_for_a_full_baseline() -> None:
    cs = _quiet_momentum(surge_ratio=3.0, surge_s=4.0)  # 1 s + 6 s of tape before judging
    t, events = _feed(cs, 0.0, 100, 3.0)
    t, burst = _feed(cs, t, 5_000, 1.0)
    assert events == burst == []
    t, events = _feed(cs, t, 100, 3.0)
    t, later = _feed(cs, t, 5_000, 1.0)
    assert events == [] and later[0][1] == "enter" and later[0][0] > 7.0


def test_conditions_are_found_by_name_or_id() -> None:
    cs = _search()
    assert [(i.id, i.name) for i in cs.infos()] == [("0", MOMENTUM), ("1", RISERS), ("2", VOLUME_SURGE)]
    assert all(i.description.isascii() for i in cs.infos())
    assert cs.resolve(name=RISERS) is cs.resolve(id="1") is cs.resolve(name=RISERS, id="1")
    with pytest.raises(
        UnknownCondition, match="unknown condition id '9': valid ids and names are 0 momentum"
    ):
        cs.resolve(id="9")
    with pytest.raises(UnknownCondition, match="name 'momentum' and id '2' are different"):
        cs.resolve(name=MOMENTUM, id="2")
    with pytest.raises(ValueError, match="name or its id"):
        cs.resolve()
    out = cs.inject("2", [ConditionEventIn("005930", "enter")], ts_ns=1)
    assert [(e.id, e.name) for e in out] == [("2", VOLUME_SURGE)]


def test_a_few_minutes_of_the_default_tape_bring_symbols_into_every_condition() -> None:
    """What a demo sees: every symbol, the default settings, the day's history, five minutes."""
    cfg = SimConfig()
    market = Market.from_config(cfg)
    ten_thirty = 1_741_138_200 * 1_000_000_000  # 2025-03-05 10:30 Seoul
    start = ten_thirty - 90 * 60 * 1_000_000_000
    for code in market.codes:
        market.walk_minutes(code, start, ten_thirty, market.history_rng(code), market.state(code).open)
    cs = ConditionSearch(
        {c: BY_CODE[c].prev_close for c in market.codes},
        cfg.condition_threshold_pct,
        opens={c: market.state(c).open for c in market.codes},
        riser_pct=cfg.riser_threshold_pct,
        surge_ratio=cfg.surge_ratio,
        surge_s=cfg.surge_s,
    )
    events = []
    t = 0.0
    while t < 300.0:
        t += 0.015
        events.extend(cs.on_ticks(market.advance(0.015, ten_thirty), now=t))
    for name in (MOMENTUM, RISERS, VOLUME_SURGE):
        mine = [e for e in events if e.name == name]
        assert len({e.symbol for e in mine if e.event == "enter"}) >= 5, name
        assert any(e.event == "leave" for e in mine), name
        assert [e.seq for e in mine] == list(range(1, len(mine) + 1)), name
