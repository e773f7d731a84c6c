"""Order path money safety: retries reuse the client order id; interrupted sends reconcile."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from engine.core import Engine
from engine.journal import OrderRecord
from engine.orders import OrderIntent
from engine.sim.server import SimExchange
from tests.conftest import engine_config, eventually, sim_get, sim_post


class LossyProxy:
    """Forwards to the sim, but answers the first N order placements with a 503 *after* the
    exchange has taken them: the worst case for a retry (the order exists, the client does not
    know)."""

    def __init__(self, target: str, fail_orders: int) -> None:
        self.target = target
        self.fail_orders = fail_orders
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                self.target + request.path_qs,
                data=body or None,
                headers={"content-type": "application/json"},
            ) as resp,
        ):
            payload = await resp.read()
            status = resp.status
        if request.method == "POST" and request.path == "/orders" and self.fail_orders > 0:
            self.fail_orders -= 1
            return web.Response(status=503, text="upstream timeout")
        return web.Response(status=status, body=payload, content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
async def proxy(sim: SimExchange) -> AsyncIterator[LossyProxy]:
    p = LossyProxy(sim.url, fail_orders=2)
    await p.start()
    yield p
    assert p.runner is not None
    await p.runner.cleanup()


async def test_retry_after_lost_answer_makes_one_order(
    tmp_path: Path, sim: SimExchange, proxy: LossyProxy
) -> None:
    cfg = engine_config(tmp_path, proxy.url)
    engine = Engine(cfg)
    # REST goes through the lossy proxy; the websocket straight to the sim.
    from engine.brokers.sim import SimBroker
    from engine.brokers.sim.config import SimSettings

    broker = SimBroker(SimSettings(url=proxy.url))
    broker.stream.url = sim.ws_url
    engine = Engine(cfg, broker=broker)
    await engine.start()
    try:
        res = await engine.orders.submit(
            OrderIntent("005930", "buy", 2, None, "test", "retry", "retry-1", is_auto=False)
        )
        assert res.order is not None and res.order.status in ("accepted", "partially_filled", "filled")
        stats = await sim_get(sim, "/admin/stats")
        assert isinstance(stats, dict)
        assert stats["order_requests"] == 3 and stats["duplicate_requests"] == 2
        assert stats["orders"] == 1
        await eventually(lambda: engine.portfolio.qty("005930") == 2, 10, "the single fill")
    finally:
        await engine.stop()


async def test_interrupted_sends_reconcile_without_a_new_order(tmp_path: Path, sim: SimExchange) -> None:
    """A crash between journaling an intent and hearing back: at restart the one the exchange
    got is adopted, the one it never got is marked not sent, and neither is sent again."""
    cfg = engine_config(tmp_path, sim.url)
    engine = Engine(cfg)
    await engine.start()
    now = time.time_ns()
    reached = OrderRecord(
        "TCREACHED0000001",
        "k-reached",
        "005930",
        "buy",
        "market",
        1,
        None,
        "test",
        "crash test",
        created_ns=now,
        updated_ns=now,
    )
    lost = OrderRecord(
        "TCLOST0000000001",
        "k-lost",
        "000660",
        "buy",
        "market",
        1,
        None,
        "test",
        "crash test",
        created_ns=now,
        updated_ns=now,
    )
    await engine.journal.insert_order(reached)
    await engine.journal.insert_order(lost)
    await engine.stop()
    # The exchange did receive the first one (its answer was lost with the process).
    await sim_post(
        sim,
        "/orders",
        {
            "client_order_id": reached.client_order_id,
            "symbol": "005930",
            "side": "buy",
            "type": "market",
            "qty": 1,
        },
    )

    engine = Engine(cfg)
    await engine.start()
    try:
        adopted = engine.orders.orders[reached.client_order_id]
        assert adopted.broker_order_id is not None
        assert engine.orders.orders[lost.client_order_id].status == "not_sent"
        await eventually(lambda: engine.portfolio.qty("005930") == 1, 10, "the adopted fill")
        stats = await sim_get(sim, "/admin/stats")
        assert isinstance(stats, dict)
        assert stats["orders"] == 1 and stats["order_requests"] == 1
    finally:
        await engine.stop()


async def test_two_signals_cannot_spend_the_same_cash(tmp_path: Path, sim: SimExchange) -> None:
    import asyncio
    from dataclasses import replace

    cfg = engine_config(tmp_path, sim.url)
    cfg = replace(cfg, risk=replace(cfg.risk, max_order_value=10**10, max_position_value=10**10))
    engine = Engine(cfg)
    await engine.start()
    try:
        price = engine.instruments["005930"].upper_limit
        qty = int(engine.portfolio.available_cash() * 0.6 / price)
        intents = [
            OrderIntent("005930", "buy", qty, price, "test", "race", f"race-{i}", is_auto=True)
            for i in range(2)
        ]
        results = await asyncio.gather(*(engine.orders.submit(i) for i in intents))
        oks = [r for r in results if r.rejection is None]
        refused = [r for r in results if r.rejection is not None]
        assert len(oks) == 1 and len(refused) == 1
        assert refused[0].rejection is not None
        assert refused[0].rejection.code == "insufficient_cash"
    finally:
        await engine.stop()


async def test_positions_always_equal_the_journaled_fills(engine: Engine, sim: SimExchange) -> None:
    trades = [
        ("005930", "buy", 5),
        ("000660", "buy", 2),
        ("005930", "sell", 3),
        ("005930", "buy", 1),
        ("000660", "sell", 2),
    ]
    for i, (symbol, side, qty) in enumerate(trades):
        res = await engine.orders.submit(
            OrderIntent(symbol, side, qty, None, "test", "mix", f"mix-{i}", is_auto=False)
        )
        assert res.rejection is None, res.rejection
        await eventually(lambda: not engine.orders.live_orders(), 10, f"trade {i} to fill")

    journal: dict[str, int] = {}
    for f in await engine.journal.fills():
        journal[f.symbol] = journal.get(f.symbol, 0) + (f.qty if f.side == "buy" else -f.qty)
    journal = {s: q for s, q in journal.items() if q}
    assert journal == {"005930": 3}
    assert {s: p.qty for s, p in engine.portfolio.positions.items()} == journal
    account = await sim_get(sim, "/account")
    assert isinstance(account, dict)
    assert {p["symbol"]: p["qty"] for p in account["positions"]} == journal
    assert account["cash"] == engine.portfolio.cash


async def test_a_notice_for_a_fill_reconciliation_already_booked_is_not_booked_again(
    engine: Engine,
) -> None:
    """Brokers that report fills per order (KIS, Kiwoom, LS) are reconciled from each order's
    total, under the listing's name for the fill; the notice for the same fill, on its way
    meanwhile, names it by execution number. The notice says where the order stood after the
    fill: already booked, so not booked twice."""
    from engine.brokers.base import BrokerFill, OrderUpdate
    from engine.clock import seoul_datetime
    from engine.ordertypes import OrderStatus, Side, cumulative_fill_id

    inst = engine.instruments["005930"]
    res = await engine.orders.submit(
        OrderIntent("005930", "buy", 10, inst.lower_limit, "test", "rest", "k-inflight", is_auto=False)
    )
    assert res.order is not None and res.order.broker_order_id
    rec, number = res.order, res.order.broker_order_id
    day = seoul_datetime(rec.created_ns).date()
    price = inst.lower_limit
    async with engine.orders._lock:  # as reconcile books a missed fill from the listing
        await engine.orders._apply_fill(
            rec,
            BrokerFill(
                cumulative_fill_id(number, 3, day),
                number,
                rec.client_order_id,
                "005930",
                Side.BUY,
                3,
                price,
                0,
                0,
                engine.clock.time_ns(),
            ),
        )
    late = OrderUpdate(
        "fill",
        number,
        rec.client_order_id,
        "005930",
        Side.BUY,
        10,
        OrderStatus.PARTIALLY_FILLED,
        3,
        fill_id=f"{day:%Y%m%d}-{number}-exec1",
        fill_qty=3,
        fill_price=price,
    )
    later = OrderUpdate(
        "fill",
        number,
        rec.client_order_id,
        "005930",
        Side.BUY,
        10,
        OrderStatus.PARTIALLY_FILLED,
        5,
        fill_id=f"{day:%Y%m%d}-{number}-exec2",
        fill_qty=2,
        fill_price=price,
    )
    engine.orders.updates.put_nowait(late)
    engine.orders.updates.put_nowait(later)  # a new fill after it is booked
    await eventually(lambda: engine.portfolio.qty("005930") >= 5, 10, "the later fill")
    fills = [f for f in await engine.journal.fills() if f.client_order_id == rec.client_order_id]
    assert sorted(f.qty for f in fills) == [2, 3], fills
    assert engine.portfolio.qty("005930") == 5
