"""GET /bars of a real sim: the day's history from the open, then the live tape in the same bars."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from engine.clock import NS, SEOUL, Clock
from engine.krx.prices import daily_limits, is_on_tick
from engine.krx.universe import BY_CODE
from engine.sim.config import SimConfig
from engine.sim.market import Market
from engine.sim.protocol import Ack, BarInfo, ErrorBody, SymbolInfo, TickRow, Ticks

from .conftest import SimFactory
from .helpers import WsClient, connect

SAMSUNG = "005930"
MINUTE = 60 * NS
# So slow that no trade prints while a test runs: the bars are the history alone.
FROZEN = 1e-6
# With this seed 005930's first trade at 2 trades/s comes after 1.3 s (checked below), so a test
# can read the history before the live tape touches it.
LATE_FIRST_TRADE_SEED = 32


def seoul(h: int, m: int, s: int = 0, day: int = 5) -> datetime:
    return datetime(2025, 3, day, h, m, s, tzinfo=SEOUL)


def ns(when: datetime) -> int:
    return int(when.timestamp()) * NS


async def _get(http: aiohttp.ClientSession, url: str, type_: Any) -> Any:
    resp = await http.get(url)
    assert resp.status == 200, await resp.text()
    return msgspec.json.decode(await resp.read(), type=type_)


async def bars_of(http: aiohttp.ClientSession, url: str, symbol: str = SAMSUNG) -> list[BarInfo]:
    bars: list[BarInfo] = await _get(http, f"{url}/bars?symbol={symbol}", list[BarInfo])
    return bars


async def symbols_of(http: aiohttp.ClientSession, url: str) -> dict[str, SymbolInfo]:
    infos: list[SymbolInfo] = await _get(http, f"{url}/symbols", list[SymbolInfo])
    return {i.code: i for i in infos}


def assert_sane(code: str, bars: list[BarInfo]) -> None:
    limits = daily_limits(BY_CODE[code].prev_close)
    for bar in bars:
        assert bar.ts_ns % MINUTE == 0, bar
        assert bar.high >= max(bar.open, bar.close) and bar.low <= min(bar.open, bar.close), bar
        assert limits.lower <= bar.low and bar.high <= limits.upper, bar
        assert all(is_on_tick(p) for p in (bar.open, bar.high, bar.low, bar.close)), bar
        assert bar.volume > 0, bar
    assert [b.ts_ns for b in bars] == sorted({b.ts_ns for b in bars})


@pytest.mark.parametrize(
    ("start", "first", "count"),
    [
        (seoul(10, 30, 20), seoul(9, 0), 91),  # mid-session: from the open
        (seoul(9, 0, 0), seoul(9, 0), 1),  # the open itself: one bar, at the open
        (seoul(22, 15, 30), seoul(21, 15), 61),  # at night: the hour before
        (seoul(8, 59, 59), seoul(7, 59), 61),  # before the open
        (seoul(15, 30, 0), seoul(14, 30), 61),  # the close is outside the session
    ],
)
async def test_history_covers_the_day_from_the_open_or_the_last_hour(
    make_sim: SimFactory, http: aiohttp.ClientSession, start: datetime, first: datetime, count: int
) -> None:
    cfg: dict[str, Any] = {"symbols": (SAMSUNG,), "tick_rate": 2.0, "seed": LATE_FIRST_TRADE_SEED}
    assert Market.from_config(SimConfig(**cfg)).state(SAMSUNG).until_next > 1.0
    sim = await make_sim(clock=Clock(start), **cfg)
    bars = await bars_of(http, sim.url)
    info = (await symbols_of(http, sim.url))[SAMSUNG]
    assert len(bars) == count
    # Every minute from the first to the one the sim started in, one bar each.
    assert [b.ts_ns for b in bars] == [ns(first) + i * MINUTE for i in range(count)]
    assert_sane(SAMSUNG, bars)
    # /symbols and the bars tell the same day: it opened at the first bar's open, and the last
    # price is the last bar's close (no live trade has printed yet).
    assert bars[0].open == info.open
    assert bars[-1].close == info.last
    for a, b in itertools.pairwise(bars):
        assert b.open == a.close  # the walk is continuous across minutes
    if count > 1:
        assert len({b.close for b in bars}) > 1  # and it moves


async def test_a_wild_history_stays_on_the_grid_and_inside_the_limits(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    # SK증권 at 612 KRW trades on 1-won ticks; 000660 on 1,000-won ones above 500,000.
    codes = ("001510", "000660")
    sim = await make_sim(clock=Clock(seoul(15, 0)), symbols=codes, tick_rate=50.0, volatility_bp=300.0)
    touched = set()
    for code in codes:
        bars = await bars_of(http, sim.url, code)
        assert len(bars) == 361
        assert_sane(code, bars)
        limits = daily_limits(BY_CODE[code].prev_close)
        touched |= {p for b in bars for p in (b.high, b.low)} & {limits.lower, limits.upper}
    # The walk is wild enough to reach a limit, and is clamped there.
    assert touched


async def test_the_history_is_a_function_of_the_seed_and_the_start(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    first = await make_sim(clock=Clock(seoul(11, 0, 30)), tick_rate=FROZEN)
    again = await make_sim(clock=Clock(seoul(11, 0, 30)), tick_rate=FROZEN)
    later = await make_sim(clock=Clock(seoul(11, 20, 30)), tick_rate=FROZEN)
    other_seed = await make_sim(clock=Clock(seoul(11, 0, 30)), tick_rate=FROZEN, seed=8)
    bars = await bars_of(http, first.url)
    assert await bars_of(http, again.url) == bars
    assert await bars_of(http, other_seed.url) != bars
    # Whatever the hour, the history leads to the same place: the seeded live tape starts
    # from the day's open, as it did before the sim had a history.
    later_bars = await bars_of(http, later.url)
    assert len(later_bars) == len(bars) + 20
    info = (await symbols_of(http, later.url))[SAMSUNG]
    assert bars[0].open == later_bars[0].open == info.open
    assert bars[-1].close == later_bars[-1].close == info.last == info.open


async def _ticks(ws: WsClient, rows: list[TickRow], until: int) -> None:
    """Read Ticks into `rows` until there are `until` of them."""
    while len(rows) < until:
        rows.extend((await ws.recv_kind(Ticks, timeout=5.0)).data)


@pytest.mark.parametrize(
    ("start_s", "new_bar"),
    [(5, False), (59, True)],
    ids=["prints-extend-the-started-minute", "prints-after-the-minute-open-a-new-bar"],
)
async def test_the_live_tape_carries_on_from_the_history_into_the_same_bars(
    make_sim: SimFactory, http: aiohttp.ClientSession, start_s: int, new_bar: bool
) -> None:
    cfg: dict[str, Any] = {"symbols": (SAMSUNG,), "tick_rate": 2.0, "seed": LATE_FIRST_TRADE_SEED}
    assert Market.from_config(SimConfig(**cfg)).state(SAMSUNG).until_next > 1.0
    start = seoul(10, 30, start_s)
    sim = await make_sim(clock=Clock(start), **cfg)
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "subscribe", "symbols": [SAMSUNG]})
    await ws.recv_kind(Ack)
    history = await bars_of(http, sim.url)
    last = (await symbols_of(http, sim.url))[SAMSUNG].last
    assert history[-1].ts_ns == ns(seoul(10, 30)) and history[-1].close == last

    rows: list[TickRow] = []
    await _ticks(ws, rows, 3)
    first = rows[0]
    # The day's volume and the last price carry on from the history: the first live trade is
    # one step of the walk away from the history's close, and its side is judged against it.
    assert first.volume - first.qty == sum(b.volume for b in history)
    assert abs(first.price / last - 1) < 0.01
    if first.price != last:
        assert first.side == (1 if first.price > last else -1)

    live = await bars_of(http, sim.url)
    # The trades the bars hold are those up to some frame: the one whose running volume the
    # bars add up to (read on until it has arrived).
    total = sum(b.volume for b in live)
    await _ticks(ws, rows, len(rows) + 1)
    while rows[-1].volume < total:
        await _ticks(ws, rows, len(rows) + 1)
    upto = next((i + 1 for i, r in enumerate(rows) if r.volume == total), None)
    assert upto is not None, f"the bars add up to {total:,} shares, which no trade's running volume is"
    printed = rows[:upto]
    minute = ns(seoul(10, 31)) if new_bar else ns(seoul(10, 30))
    assert {r.ts_ns - r.ts_ns % MINUTE for r in printed} == {minute}
    prices = [r.price for r in printed]
    if new_bar:
        assert live[:-1] == history
        expected = BarInfo(
            ts_ns=minute,
            open=prices[0],
            high=max(prices),
            low=min(prices),
            close=prices[-1],
            volume=sum(r.qty for r in printed),
        )
    else:
        assert live[:-1] == history[:-1]
        bar = history[-1]
        expected = BarInfo(
            ts_ns=minute,
            open=bar.open,
            high=max(bar.high, *prices),
            low=min(bar.low, *prices),
            close=prices[-1],
            volume=bar.volume + sum(r.qty for r in printed),
        )
    assert live[-1] == expected


async def test_bars_of_an_unknown_or_missing_symbol(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(tick_rate=FROZEN)
    resp = await http.get(f"{sim.url}/bars?symbol=123456")
    assert resp.status == 404
    err = msgspec.json.decode(await resp.read(), type=ErrorBody)
    assert err.code == "unknown_symbol" and "123456" in err.message and SAMSUNG in err.message
    resp = await http.get(f"{sim.url}/bars")
    assert resp.status == 400
    assert "symbol=005930" in msgspec.json.decode(await resp.read(), type=ErrorBody).message


async def test_a_restart_the_same_day_keeps_the_bars_in_the_state_file(
    make_sim: SimFactory, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    start = seoul(10, 30, 5)
    sim = await make_sim(clock=Clock(start), symbols=(SAMSUNG,), tick_rate=200.0, state_path=state)
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "subscribe", "symbols": [SAMSUNG]})
    await ws.recv_kind(Ack)
    await _ticks(ws, [], 50)
    await sim.stop()
    # Stopped: what the tape printed is final, live trades in 10:30's bar included.
    before = list(sim.bars.bars(SAMSUNG))
    assert len(before) == 91

    # A quarter of an hour later: the saved bars, then the minutes the sim was down.
    sim = await make_sim(
        clock=Clock(start + timedelta(minutes=15)), symbols=(SAMSUNG,), tick_rate=FROZEN, state_path=state
    )
    bars = await bars_of(http, sim.url)
    assert bars[:91] == before
    assert [b.ts_ns for b in bars[91:]] == [ns(seoul(10, 31)) + i * MINUTE for i in range(15)]
    assert bars[91].open == before[-1].close
    assert_sane(SAMSUNG, bars)
    assert bars[-1].close == (await symbols_of(http, sim.url))[SAMSUNG].last
    await sim.stop()

    # The next day (or another seed) starts a new day's bars.
    sim = await make_sim(
        clock=Clock(start + timedelta(days=1)), symbols=(SAMSUNG,), tick_rate=FROZEN, state_path=state
    )
    bars = await bars_of(http, sim.url)
    assert len(bars) == 91 and bars != before
    assert bars[0].ts_ns == ns(seoul(9, 0, day=6))
    assert bars[0].open == (await symbols_of(http, sim.url))[SAMSUNG].open
