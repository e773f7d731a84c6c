"""Order statuses move only along the table; an impossible move is refused loudly, and the fill
that came with it is still booked (a fill is money)."""

from __future__ import annotations

import logging

import pytest

from engine import events as ev
from engine.brokers.base import OrderUpdate
from engine.core import Engine
from engine.krx.prices import daily_limits
from engine.orders import OrderIntent
from engine.ordertypes import LIVE_STATUSES, TRANSITIONS, OrderStatus, Side, allowed
from tests.conftest import eventually

S = OrderStatus


def test_the_table() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    for final in (S.FILLED, S.REJECTED, S.NOT_SENT):
        assert not TRANSITIONS[final]
    assert allowed(S.PARTIALLY_FILLED, S.PARTIALLY_FILLED)  # a repeated notice
    assert allowed(S.CANCELLED, S.FILLED)  # the last fill beat the cancel
    assert not allowed(S.FILLED, S.CANCELLED)
    assert not allowed(S.PARTIALLY_FILLED, S.ACCEPTED)
    assert not allowed(S.NOT_SENT, S.ACCEPTED)
    assert {s for s in S if s.live} == set(LIVE_STATUSES)
    assert Side.BUY == "buy" and S.NOT_SENT == "not_sent"  # as stored in the journal


async def test_an_impossible_move_is_refused_and_reported_but_the_fill_is_booked(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    await engine.ensure_instrument("005930")
    low = daily_limits(engine.instruments["005930"].prev_close).lower
    res = await engine.orders.submit(
        OrderIntent("005930", Side.BUY, 2, low, "test", "rests", "t-1", is_auto=False)
    )
    rec = res.order
    assert rec is not None and rec.status == S.ACCEPTED and rec.broker_order_id
    await engine.orders._mark_rejected(rec, "test", "rejected for the test")
    events = engine.bus.subscribe()
    caplog.set_level(logging.ERROR, logger="engine.orders")
    engine.orders.updates.put_nowait(
        OrderUpdate(
            "fill",
            rec.broker_order_id,
            rec.client_order_id,
            "005930",
            Side.BUY,
            2,
            S.FILLED,
            2,
            fill_id="F-late",
            fill_qty=2,
            fill_price=low,
        )
    )

    async def booked() -> bool:
        return any(f.fill_id == "F-late" for f in await engine.journal.fills())

    await eventually(booked)
    assert rec.status == S.REJECTED and rec.filled_qty == 2
    assert "rejected cannot become filled (allowed: nothing, it is final)" in caplog.text
    alerts = []
    while not events.empty():
        e = events.get_nowait()
        if isinstance(e, ev.AlertEvent):
            alerts.append(e)
    assert any(
        a.title == "Order state needs checking"
        and "is rejected, but the broker now reports it filled" in a.message
        for a in alerts
    )
    assert engine.portfolio.qty("005930") == 2
