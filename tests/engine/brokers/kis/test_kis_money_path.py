"""KIS money-path regressions: Seoul's date whatever the machine says, lookups across midnight,
and fill identities that survive a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from engine.brokers.base import BrokerError, OrderRequest
from engine.brokers.kis.client import KisBroker
from engine.clock import SEOUL, Clock
from engine.config import EngineConfig
from engine.core import Engine
from engine.journal import FillRecord, Journal
from engine.orders import OrderIntent
from tests.conftest import eventually
from tests.engine.brokers.kis.test_kis_e2e import kis_config
from tests.fakekis import FakeKis

# 08:30 in Seoul is 23:30 UTC the day before: the hours in which the machine's date (on a UTC
# host) and Seoul's differ. The date is far from the real one, so a lookup that asks the machine
# for "today" finds nothing whatever hour the suite runs.
EARLY_MORNING = datetime(2026, 3, 4, 8, 30, tzinfo=SEOUL)


def engine_for(fake: FakeKis, data_dir: Path, clock: Clock) -> Engine:
    base = EngineConfig()
    return Engine(
        replace(
            base,
            data_dir=data_dir,
            broker="kis",
            broker_settings=kis_config(fake),
            risk=replace(base.risk, max_order_value=10**9, max_position_value=10**9),
        ),
        clock=clock,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(EARLY_MORNING)


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeKis]:
    server = FakeKis(env="paper", rate_limit=20.0, pingpong_interval=1.0, clock=clock)
    await server.start()
    yield server
    await server.stop()


async def test_a_5xx_retry_finds_the_order_by_seouls_date(
    fake: FakeKis, clock: Clock, tmp_path: Path
) -> None:
    engine = engine_for(fake, tmp_path / "data", clock)
    await engine.start()
    try:
        await engine.ensure_instrument("005930")
        fake.fail_next_orders(1, "502_after_create")
        res = await engine.orders.submit(
            OrderIntent("005930", "buy", 2, None, "test", "5xx", "k1", is_auto=False)
        )
        assert res.order is not None and res.order.status != "unknown"
        new = [o for o in fake.orders if o.kind == "new"]
        assert len(new) == 1, "the retry sent a second order"
        assert res.order.broker_order_id == new[0].odno
    finally:
        await engine.stop()


async def test_a_retry_across_midnight_finds_the_order(fake: FakeKis, clock: Clock, tmp_path: Path) -> None:
    clock.set(datetime(2026, 3, 4, 23, 59, 58, tzinfo=SEOUL))
    broker = KisBroker(kis_config(fake), tmp_path, clock=clock)
    await broker.http.open()
    try:
        fake.pause_tape()
        price = fake.price_of("005930")
        request = OrderRequest("TC1", "005930", "buy", "limit", 1, price - price % 100 - 1_000)
        fake.fail_next_orders(1, "502_after_create")
        with pytest.raises(BrokerError):
            await broker.place_order(request)
        clock.set(datetime(2026, 3, 5, 0, 0, 1, tzinfo=SEOUL))  # the retry lands after midnight
        answer = await broker.place_order(request)
        new = [o for o in fake.orders if o.kind == "new"]
        assert len(new) == 1 and answer.broker_order_id == new[0].odno
    finally:
        await broker.http.close()


async def test_fill_ids_survive_a_restart(fake: FakeKis, clock: Clock, tmp_path: Path) -> None:
    """A fill after a restart, on an order that already had fills, is a new fill: it is booked
    once, at its own price (an in-memory counter named it `-1` again and dropped it)."""
    fake.pause_tape()
    data = tmp_path / "data"
    engine = engine_for(fake, data, clock)
    await engine.start()
    try:
        inst = await engine.ensure_instrument("005930")
        price = fake.price_of("005930")
        price -= price % 100
        assert inst.lower_limit <= price
        res = await engine.orders.submit(
            OrderIntent("005930", "buy", 10, price, "test", "rest", "k2", is_auto=False)
        )
        assert res.order is not None and res.order.broker_order_id
        await fake.trade("005930", price, qty=3)
        await eventually(lambda: engine.portfolio.qty("005930") == 3, 10, "the first fill")
    finally:
        await engine.stop()

    engine = engine_for(fake, data, clock)
    await engine.start()
    try:
        await fake.trade("005930", price, qty=4)
        await eventually(lambda: engine.portfolio.qty("005930") == 7, 10, "the fill after restart")
        fills = await engine.journal.fills()
        assert sorted(f.qty for f in fills) == [3, 4]
        assert len({f.fill_id for f in fills}) == 2
        assert all(f.price == price for f in fills)
    finally:
        await engine.stop()


async def test_the_next_days_order_with_the_same_number_is_a_new_fill(tmp_path: Path) -> None:
    """Brokers number orders afresh each day: the second day's order 0000100001 filling 3 is
    not the first day's (an id of number and quantity alone named both `0000100001@3`, and the
    second day's fill was dropped as a repeat)."""
    data = tmp_path / "data"
    filled = 0
    for day in (EARLY_MORNING.replace(hour=10), EARLY_MORNING.replace(day=5, hour=10)):
        clock = Clock(day)
        fake = FakeKis(env="paper", rate_limit=None, clock=clock)  # numbering starts again
        fake.pause_tape()
        await fake.start()
        engine = engine_for(fake, data, clock)
        await engine.start()
        try:
            inst = await engine.ensure_instrument("005930")
            price = fake.price_of("005930")
            price -= price % 100
            assert inst.lower_limit <= price
            res = await engine.orders.submit(
                OrderIntent("005930", "buy", 3, price, "test", "daily", f"k-{day:%d}", is_auto=False)
            )
            assert res.order is not None and res.order.broker_order_id == "0000100001"
            await fake.trade("005930", price, qty=3)
            filled += 3
            await eventually(
                lambda e=engine, want=filled: e.portfolio.qty("005930") == want,
                10,
                f"the fill of {day:%m-%d}",
            )
        finally:
            await engine.stop()
            await fake.stop()
    fills = await journal_fills(data)
    assert len(fills) == 2 and len({f.fill_id for f in fills}) == 2


async def journal_fills(data: Path) -> list[FillRecord]:
    journal = Journal(data / "journal.db")
    await journal.open()
    try:
        return list(await journal.fills())
    finally:
        await journal.close()
