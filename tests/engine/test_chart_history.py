"""/chart right after subscribing shows the day from the open (the sim's seeded history)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bot.commands import results as r
from bot.commands.context import Invocation, Role
from bot.commands.layer import CommandLayer
from engine.brokers.sim.config import SimSettings
from engine.clock import SEOUL, Clock
from engine.config import EngineConfig
from engine.core import Engine
from tests.conftest import eventually

ADMIN = Invocation("test", "test", Role.ADMIN, "chart-history")


async def started_at(tmp_path: Path, when: datetime) -> Engine:
    base = EngineConfig()
    config = replace(base, data_dir=tmp_path / "data", broker_settings=SimSettings(url=None, tick_rate=5.0))
    engine = Engine(config, clock=Clock(when))
    await engine.start()
    return engine


def first_bar(engine: Engine, symbol: str) -> datetime:
    return datetime.fromtimestamp(engine.bars[symbol].bars()[0].start_ns / 1e9, SEOUL)


async def test_bars_from_the_open_mid_session(tmp_path: Path) -> None:
    engine = await started_at(tmp_path, datetime(2026, 12, 1, 10, 30, tzinfo=SEOUL))
    try:
        layer = CommandLayer(engine)
        await layer.execute(ADMIN, "subscribe", {"symbol": "005930", "strategy": "watch"})
        await eventually(lambda: len(engine.bars["005930"]) >= 90, 10, "the day's bars")
        assert (first_bar(engine, "005930").hour, first_bar(engine, "005930").minute) == (9, 0)
        chart = await layer.execute(ADMIN, "chart", {"symbol": "005930"})
        assert isinstance(chart, r.ChartResult)
    finally:
        await engine.stop()


async def test_at_least_the_last_hour_outside_the_session(tmp_path: Path) -> None:
    engine = await started_at(tmp_path, datetime(2026, 12, 1, 21, 0, tzinfo=SEOUL))
    try:
        await engine.subscriptions.subscribe("000660", "watch")
        await eventually(lambda: len(engine.bars["000660"]) >= 60, 10, "the last hour")
        assert first_bar(engine, "000660") <= datetime(2026, 12, 1, 20, 0, tzinfo=SEOUL)
    finally:
        await engine.stop()
