"""The trading day with the real APScheduler, on the real sim, compressed into seconds."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from engine import events as ev
from engine.config import ScheduleSettings
from engine.core import Engine
from engine.krx.calendar import SEOUL
from engine.orders import OrderIntent
from engine.schedule import TradingSchedule
from engine.sim.server import SimExchange
from tests.conftest import eventually, sim_get

PNG = b"\x89PNG\r\n\x1a\n"


def drain(queue: asyncio.Queue[ev.Event]) -> list[ev.Event]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


async def test_a_compressed_trading_day(engine: Engine, sim: SimExchange) -> None:
    engine.equity_interval = 0.2
    events = engine.bus.subscribe()
    schedule = TradingSchedule(engine, ScheduleSettings(compressed=(1.5, 9.0), auto_at_open=False))
    # Before the open: subscribed, following the tape, but not trading.
    for symbol in ("005930", "000660", "035720", "005380", "000270"):
        await engine.subscriptions.subscribe(
            symbol, "breakout", params={"k": 0.05, "tp": 50, "sl": 50, "trail": 0, "eod": 1}
        )
    await schedule.start()
    try:
        assert not engine.controls.session_open
        assert "opens at" in engine.controls.closed_reason
        refused = await engine.orders.submit(
            OrderIntent("005930", "buy", 1, None, "test", "early", "early", is_auto=False)
        )
        assert refused.rejection is not None and refused.rejection.code == "market_closed"

        seen: list[ev.Event] = []

        def closed() -> bool:
            # "Market closed" is the close job's last event (after the report): once it is here,
            # the day has nothing more to publish.
            seen.extend(drain(events))
            return any(isinstance(e, ev.AlertEvent) and e.title == "Market closed" for e in seen)

        await eventually(closed, 20, "the close and its report")
    finally:
        await schedule.stop()

    titles = [e.title for e in seen if isinstance(e, ev.AlertEvent) and e.level == ev.AlertLevel.INFO]
    phases = [
        t for t in titles if t.startswith(("Plan for", "Market open", "No new entries", "Market closed"))
    ]
    assert [p.split(" ")[0] for p in phases] == ["Plan", "Market", "No", "Market"]
    fills = [e for e in seen if isinstance(e, ev.FillEvent)]
    buys = [f for f in fills if f.side == "buy"]
    sells = [f for f in fills if f.side == "sell"]
    assert buys and sells, "entries after the open and the before-close flatten"
    first_open = next(
        i for i, e in enumerate(seen) if isinstance(e, ev.AlertEvent) and e.title == "Market open"
    )
    assert all(seen.index(f) > first_open for f in buys)
    assert dict(schedule.runs) == {"pre_open": 1, "open": 1, "before_close": 1, "close": 1}

    # Everything is closed down: no subscription, no open order, flat.
    assert engine.subscriptions.tasks == {} and engine.orders.live_orders() == []
    assert engine.portfolio.positions == {}
    open_orders = await sim_get(sim, "/orders?status=open")
    assert open_orders == []

    # The report's P&L is the journal's fills: flat at the close, so realized = cash flows.
    report_event = next(e for e in seen if isinstance(e, ev.ReportEvent))
    report = report_event.report
    journal = await engine.journal.fills()
    flows = sum(
        (f.price * f.qty if f.side == "sell" else -f.price * f.qty) - f.commission - f.tax for f in journal
    )
    assert report.realized_net == flows
    assert report.fills == len(journal) and report.unrealized == 0
    assert len(report.trades) == len({f.client_order_id for f in journal if f.side == "sell"})
    assert len(report.equity_points) >= 10
    assert report_event.chart_path is not None
    png = await asyncio.to_thread(Path(report_event.chart_path).read_bytes)
    assert png[:8] == PNG


async def test_started_mid_session_it_trades(engine: Engine) -> None:
    schedule = TradingSchedule(engine, ScheduleSettings(compressed=(0.0, 60.0), auto_at_open=False))
    await schedule.start()
    try:
        assert engine.controls.session_open and engine.controls.entries_open
        assert schedule.runs["open"] == 1
        assert [name for name, _ in schedule.next_jobs()] == ["before_close", "close"]
        res = await engine.orders.submit(
            OrderIntent("005930", "buy", 1, None, "test", "mid", "mid", is_auto=False)
        )
        assert res.rejection is None
        await eventually(lambda: engine.portfolio.qty("005930") == 1, 10, "a fill mid-session")
    finally:
        await schedule.stop()


async def test_started_after_the_close_it_does_not_trade(engine: Engine) -> None:
    await engine.subscriptions.subscribe("005930", "breakout", params={"k": 0.05})
    settings = ScheduleSettings(compressed=(0.0, 0.001), auto_at_open=False)
    schedule = TradingSchedule(engine, settings)
    await asyncio.sleep(0.01)  # the (tiny) session is over before start()
    await schedule.start()
    try:
        assert not engine.controls.session_open
        assert schedule.runs["close"] == 1 and schedule.runs["open"] == 0
        res = await engine.orders.submit(
            OrderIntent("005930", "buy", 1, None, "test", "late", "late", is_auto=False)
        )
        assert res.rejection is not None and res.rejection.code == "market_closed"
        assert engine.subscriptions.tasks == {}
        assert engine.orders.orders == {}
        # Started again the same evening: the close (and its report) does not run twice.
        await schedule.join(schedule.clock().date())
        assert schedule.runs["close"] == 1
        again = TradingSchedule(engine, settings)
        await again.join(schedule.clock().date())
        assert again.runs["close"] == 0
    finally:
        await schedule.stop()


async def test_closed_days_schedule_no_trading_jobs(engine: Engine) -> None:
    holiday = datetime(2026, 6, 3, 10, 0, tzinfo=SEOUL)  # local election day
    schedule = TradingSchedule(engine, ScheduleSettings(), clock=lambda: holiday)
    await schedule.start()
    try:
        assert schedule.next_jobs() == []
        assert not engine.controls.session_open
        assert "Local Election Day" in engine.controls.closed_reason
        assert "next session Thu 2026-06-04 09:00 KST" in engine.controls.closed_reason
        assert sum(schedule.runs.values()) == 0
    finally:
        await schedule.stop()
