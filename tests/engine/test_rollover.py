"""An agent left running across midnight in Seoul starts the new trading day: today's P&L,
the daily loss limit, the report's default day and the schedule all move to the new date."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.commands import CommandLayer
from bot.commands.context import Invocation, Role
from bot.commands.results import Pnl, ReportResult
from engine.clock import SEOUL, Clock
from engine.config import ScheduleSettings
from engine.core import Engine
from engine.orders import OrderIntent
from engine.schedule import TradingSchedule
from engine.sim.config import SimConfig
from engine.sim.server import SimExchange
from tests.conftest import engine_config, eventually

ADMIN = Invocation("console", "console", Role.ADMIN, "inv")
TUESDAY = datetime(2026, 12, 1, 14, 0, tzinfo=SEOUL)


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY)


@pytest.fixture
async def engine(tmp_path: Path, clock: Clock) -> AsyncIterator[Engine]:
    # The exchange on the same clock: its fills carry the dates the engine books them on.
    sim = SimExchange(SimConfig(tick_rate=50.0, seed=11, condition_threshold_pct=29.0), clock)
    await sim.start()
    config = engine_config(tmp_path, sim.url)
    eng = Engine(replace(config, risk=replace(config.risk, daily_loss_limit=1)), clock=clock)
    await eng.start()
    yield eng
    await eng.stop()
    await sim.stop()


async def round_trip(engine: Engine, key: str) -> None:
    for side, held in (("buy", 5), ("sell", 0)):
        res = await engine.orders.submit(
            OrderIntent("005930", side, 5, None, "manual:t", "rt", f"{key}-{side}", is_auto=False)
        )
        assert res.ok, res
        await eventually(lambda h=held: engine.portfolio.qty("005930") == h, 10, f"{side} filled")


async def test_pnl_and_loss_limit_start_over_after_midnight(engine: Engine, clock: Clock) -> None:
    layer = CommandLayer(engine, None)
    await round_trip(engine, "day1")  # fees alone make it a loss, past the 1 KRW limit
    pnl = await layer.execute(ADMIN, "pnl", {})
    assert isinstance(pnl, Pnl) and pnl.realized_net < 0
    blocked = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "manual:t", "x", "blocked", is_auto=False)
    )
    assert blocked.rejection is not None and blocked.rejection.code == "daily_loss_limit"

    clock.set(TUESDAY.replace(day=2, hour=9, minute=5))  # Wednesday morning
    assert engine.status().realized_today == 0
    pnl = await layer.execute(ADMIN, "pnl", {})
    assert isinstance(pnl, Pnl) and pnl.realized_net == 0 and pnl.trades == 0
    fresh = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "manual:t", "x", "new-day", is_auto=False)
    )
    assert fresh.ok, fresh.rejection
    report = await layer.execute(ADMIN, "report", {})
    assert isinstance(report, ReportResult) and report.report.day == date(2026, 12, 2)


async def test_the_schedule_plans_the_new_day_at_midnight(engine: Engine, clock: Clock) -> None:
    clock.set(datetime(2026, 12, 1, 23, 59, 58, tzinfo=SEOUL))  # Tuesday, after the close
    schedule = TradingSchedule(engine, ScheduleSettings())
    schedule.next_day_delay = timedelta(seconds=1)
    await schedule.start()
    try:
        assert not engine.controls.session_open
        assert "closed" in engine.controls.closed_reason
        await eventually(
            lambda: "opens at 09:00" in engine.controls.closed_reason, 15, "Wednesday planned after midnight"
        )
        jobs = dict(schedule.next_jobs())
        assert jobs["open"] == datetime(2026, 12, 2, 9, 0, tzinfo=SEOUL)
    finally:
        await schedule.stop()
