"""Orders over HTTP against a real sim, with fills driven by its tape."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
import pytest

from engine.clock import Clock
from engine.krx.costs import CostModel
from engine.krx.prices import daily_limits, next_down, next_up
from engine.krx.universe import BY_CODE
from engine.sim.protocol import (
    Account,
    Ack,
    ErrorBody,
    FillInfo,
    OrderEvent,
    OrderInfo,
    Stats,
    SymbolInfo,
    Ticks,
)

from .conftest import SimFactory
from .helpers import WsClient, connect

SAMSUNG = "005930"  # 97,600 prev close: limits 68,400 .. 126,800, tick 100
BIO = "207940"  # 1,052,000: a few shares per trade, so big orders fill in parts
LIMITS = daily_limits(BY_CODE[SAMSUNG].prev_close)
# A tape this slow prints nothing while a test runs (the first of 005930's seeded trades is
# hours away), so orders rest and prices stay where they opened.
FROZEN = 1e-6


class Api:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url
        self.n = 0

    async def order(
        self,
        side: str,
        qty: Any,
        price: int | None = None,
        *,
        symbol: str = SAMSUNG,
        kind: str | None = None,
        cid: str | None = None,
    ) -> OrderInfo:
        self.n += 1
        body = {
            "client_order_id": cid or f"c{self.n}",
            "symbol": symbol,
            "side": side,
            "type": kind or ("market" if price is None else "limit"),
            "qty": qty,
            "price": price,
        }
        resp = await self.http.post(f"{self.url}/orders", json=body)
        assert resp.status == 200, await resp.text()
        return msgspec.json.decode(await resp.read(), type=OrderInfo)

    async def get(self, path: str, type_: Any) -> Any:
        resp = await self.http.get(f"{self.url}{path}")
        assert resp.status == 200, await resp.text()
        return msgspec.json.decode(await resp.read(), type=type_)

    async def last(self, symbol: str) -> int:
        infos = await self.get("/symbols", list[SymbolInfo])
        last: int = next(i.last for i in infos if i.code == symbol)
        return last


async def _account_ws(http: aiohttp.ClientSession, url: str) -> WsClient:
    ws = await connect(http, url)
    await ws.send({"op": "account_subscribe"})
    assert await ws.recv_kind(Ack) == Ack(op="account_subscribe")
    return ws


async def _events_until_done(ws: WsClient, order_id: str, timeout: float = 3.0) -> list[OrderEvent]:
    out: list[OrderEvent] = []
    while True:
        ev = await ws.recv_kind(OrderEvent, timeout=timeout)
        if ev.order_id != order_id:
            continue
        out.append(ev)
        if ev.status in ("filled", "cancelled", "rejected"):
            return out


async def test_every_reject_reason_with_its_message(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(initial_cash=1_000_000, tick_rate=FROZEN)
    api = Api(http, sim.url)
    ws = await _account_ws(http, sim.ws_url)
    cases: list[tuple[OrderInfo, str, str]] = [
        (await api.order("buy", 0, 97_600), "bad_quantity", "qty must be a whole number"),
        (await api.order("buy", 1.5, 97_600), "bad_quantity", "got 1.5"),
        (await api.order("buy", "10", 97_600), "bad_quantity", "got '10'"),
        (await api.order("buy", 1, 97_600, symbol="999999"), "unknown_symbol", "999999"),
        (await api.order("buy", 1, 97_650), "off_tick", "nearest valid prices are 97,600 and 97,700"),
        (await api.order("buy", 1, 127_000), "outside_limit", "68,400 to 126,800"),
        (await api.order("buy", 1, 0), "outside_limit", "positive"),
        (await api.order("buy", 11, 97_600), "insufficient_cash", "needs 1,073,761 KRW"),
        (await api.order("buy", 8), "insufficient_cash", "upper limit 126,800"),
        (await api.order("sell", 1, 97_600), "insufficient_shares", "0 are available"),
    ]
    for info, code, needle in cases:
        assert (info.status, info.reject_code) == ("rejected", code), info
        assert info.message is not None and needle in info.message, info.message
        ev = await ws.recv_kind(OrderEvent)
        assert (ev.event, ev.order_id, ev.reason, ev.message) == (
            "rejected",
            info.order_id,
            code,
            info.message,
        )
    # 11 x 97,600 = 1,073,600 plus 161 commission, against 1,000,000 available.
    assert "1,000,000 KRW is available" in (cases[7][0].message or "")
    # Rejects are stored: order ids count them, and a retry gets the same reject back.
    assert [c[0].order_id for c in cases] == [f"S{n:08d}" for n in range(1, 11)]
    again = await api.order("buy", 0, 97_600, cid="c1")
    assert again.duplicate and again.order_id == "S00000001" and again.reject_code == "bad_quantity"


async def test_open_orders_reserve_cash_and_shares(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(initial_cash=1_000_000, tick_rate=FROZEN)
    api = Api(http, sim.url)
    first = await api.order("buy", 10, LIMITS.lower)  # 684,000 + 102: stays open
    assert first.status == "accepted"
    second = await api.order("buy", 5, LIMITS.lower)
    assert second.reject_code == "insufficient_cash"
    assert "reserved by open buy orders" in (second.message or "")
    assert "684,102 reserved" in (second.message or "")
    resp = await http.delete(f"{sim.url}/orders/{first.order_id}")
    assert resp.status == 200
    # Cancelling released the reservation.
    assert (await api.order("buy", 5, LIMITS.lower)).status == "accepted"


@pytest.mark.parametrize(
    "malformed",
    [
        {"side": "buy", "type": "limit", "qty": 1},  # limit without a price
        {"side": "buy", "type": "market", "qty": 1, "price": 97_600},  # market with a price
        {"side": "hold", "type": "limit", "qty": 1, "price": 97_600},
        {"side": "buy", "qty": 1, "price": 97_600},
        {"side": "buy", "type": "limit", "qty": 1, "price": 97_600.5},
    ],
)
async def test_malformed_bodies_get_400_and_store_nothing(
    make_sim: SimFactory, http: aiohttp.ClientSession, malformed: dict[str, Any]
) -> None:
    sim = await make_sim(tick_rate=FROZEN)
    resp = await http.post(f"{sim.url}/orders", json={"client_order_id": "x", "symbol": SAMSUNG, **malformed})
    assert resp.status == 400
    err = msgspec.json.decode(await resp.read(), type=ErrorBody)
    assert err.code == "malformed" and err.message
    for bad in (b"{", b"[]", b'{"client_order_id": ""}'):
        resp = await http.post(f"{sim.url}/orders", data=bad)
        assert resp.status == 400
    stats = await Api(http, sim.url).get("/admin/stats", Stats)
    assert stats.orders == 0 and stats.order_requests == 4


async def test_limit_buy_fills_when_the_tape_crosses_it(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=(SAMSUNG,), tick_rate=200.0, volatility_bp=30.0)
    api = Api(http, sim.url)
    ws = await _account_ws(http, sim.ws_url)
    await ws.send({"op": "subscribe", "symbols": [SAMSUNG]})
    await ws.recv_kind(Ack, where=lambda a: a.op == "subscribe")
    far = await api.order("buy", 1, LIMITS.lower)
    limit = next_down(next_down(await api.last(SAMSUNG)))
    order = await api.order("buy", 1, limit)
    assert order.status == "accepted"
    prints: list[int] = []
    while True:
        msg = await ws.recv(timeout=5.0)
        if isinstance(msg, Ticks):
            prints.extend(r.price for r in msg.data)
        elif isinstance(msg, OrderEvent) and msg.event == "fill":
            break
    assert msg.order_id == order.order_id
    assert msg.fill_price <= limit and msg.fill_price in prints
    info = await api.get(f"/orders/{order.order_id}", OrderInfo)
    assert (info.status, info.filled_qty, info.avg_fill_price) == ("filled", 1, msg.fill_price)
    # The order at the lower limit is never reached by a tape near the previous close.
    assert (await api.get(f"/orders/{far.order_id}", OrderInfo)).status == "accepted"
    open_orders = await api.get("/orders?status=open", list[OrderInfo])
    assert [o.order_id for o in open_orders] == [far.order_id]


async def test_partial_fills_add_up_and_costs_are_exact(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    rate = 0.0025
    sim = await make_sim(symbols=(BIO,), tick_rate=200.0, initial_cash=1_000_000_000, commission_rate=rate)
    api = Api(http, sim.url)
    ws = await _account_ws(http, sim.ws_url)
    cost = CostModel(rate)
    buy = await api.order("buy", 200, symbol=BIO)
    fills = [e for e in await _events_until_done(ws, buy.order_id) if e.event == "fill"]
    assert len(fills) >= 2
    assert [f.status for f in fills] == ["partially_filled"] * (len(fills) - 1) + ["filled"]
    assert [f.filled_qty for f in fills] == [
        sum(f.fill_qty for f in fills[: i + 1]) for i in range(len(fills))
    ]
    assert sum(f.fill_qty for f in fills) == 200
    assert len({f.fill_id for f in fills}) == len(fills)
    for f in fills:
        assert f.commission == cost.commission(f.fill_qty * f.fill_price) and f.tax == 0
    spent = sum(f.fill_qty * f.fill_price + f.commission for f in fills)
    info = await api.get(f"/orders/{buy.order_id}", OrderInfo)
    assert info.avg_fill_price == pytest.approx(sum(f.fill_qty * f.fill_price for f in fills) / 200)

    sell = await api.order("sell", 200, symbol=BIO)
    sells = [e for e in await _events_until_done(ws, sell.order_id) if e.event == "fill"]
    today = Clock().today()
    for f in sells:
        amount = f.fill_qty * f.fill_price
        assert f.commission == cost.commission(amount)
        assert f.tax == cost.sell_tax(amount, BY_CODE[BIO].market, today) > 0
    got = sum(f.fill_qty * f.fill_price - f.commission - f.tax for f in sells)
    account = await api.get("/account", Account)
    assert account.cash == 1_000_000_000 - spent + got
    assert account.positions == []


async def test_market_round_trip_account_and_positions(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=(SAMSUNG,), tick_rate=200.0)
    api = Api(http, sim.url)
    ws = await _account_ws(http, sim.ws_url)
    buy = await api.order("buy", 10)
    buy_fills = [e for e in await _events_until_done(ws, buy.order_id) if e.event == "fill"]
    value = sum(f.fill_qty * f.fill_price for f in buy_fills)
    account = await api.get("/account", Account)
    assert [(p.symbol, p.qty) for p in account.positions] == [(SAMSUNG, 10)]
    assert account.positions[0].avg_price == pytest.approx(value / 10)
    assert account.cash == 10_000_000 - value - sum(f.commission for f in buy_fills)

    sell = await api.order("sell", 4)
    sell_fills = [e for e in await _events_until_done(ws, sell.order_id) if e.event == "fill"]
    account2 = await api.get("/account", Account)
    assert [(p.symbol, p.qty) for p in account2.positions] == [(SAMSUNG, 6)]
    # Selling keeps the average price of the shares left.
    assert account2.positions[0].avg_price == account.positions[0].avg_price
    proceeds = sum(f.fill_qty * f.fill_price - f.commission - f.tax for f in sell_fills)
    assert account2.cash == account.cash + proceeds
    # GET /fills has every fill the account channel carried, oldest first.
    fills = await api.get("/fills", list[FillInfo])
    assert [(f.fill_id, f.order_id, f.side, f.qty, f.price, f.commission, f.tax) for f in fills] == [
        (e.fill_id, e.order_id, e.side, e.fill_qty, e.fill_price, e.commission, e.tax)
        for e in buy_fills + sell_fills
    ]
    assert all(f.client_order_id in ("c1", "c2") and f.symbol == SAMSUNG for f in fills)


async def test_sell_limit_above_market_rests_and_cancel_rules(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=(SAMSUNG,), tick_rate=200.0)
    api = Api(http, sim.url)
    ws = await _account_ws(http, sim.ws_url)
    buy = await api.order("buy", 3, next_up(next_up(await api.last(SAMSUNG))))
    await _events_until_done(ws, buy.order_id)
    resting = await api.order("sell", 3, LIMITS.upper)
    # Shares in an open sell order are not available to another sell.
    more = await api.order("sell", 1)
    assert more.reject_code == "insufficient_shares" and "3 in open sell orders" in (more.message or "")
    resp = await http.delete(f"{sim.url}/orders/{resting.order_id}")
    cancelled = msgspec.json.decode(await resp.read(), type=OrderInfo)
    assert (resp.status, cancelled.status) == (200, "cancelled")
    ev = await ws.recv_kind(OrderEvent, where=lambda e: e.event != "accepted" and e.event != "rejected")
    assert (ev.event, ev.order_id, ev.status) == ("cancelled", resting.order_id, "cancelled")

    for order_id, status in ((resting.order_id, 409), (buy.order_id, 409), ("S99999999", 404)):
        resp = await http.delete(f"{sim.url}/orders/{order_id}")
        err = msgspec.json.decode(await resp.read(), type=ErrorBody)
        assert resp.status == status, err
        assert err.code == ("order_not_found" if status == 404 else "not_cancellable")
    resp = await http.delete(f"{sim.url}/orders/{buy.order_id}")
    assert "is filled" in (await resp.json())["message"]
    resp = await http.get(f"{sim.url}/orders/S99999999")
    assert resp.status == 404
    resp = await http.get(f"{sim.url}/orders?status=bogus")
    assert resp.status == 400


async def test_duplicate_client_order_id_returns_the_same_order(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(tick_rate=FROZEN)
    api = Api(http, sim.url)
    first = await api.order("buy", 1, LIMITS.lower, cid="retry-me")
    second = await api.order("buy", 5, LIMITS.lower + 100, cid="retry-me")
    assert not first.duplicate and second.duplicate
    assert msgspec.structs.replace(second, duplicate=False) == first
    by_cid = await api.get("/orders?client_order_id=retry-me", list[OrderInfo])
    assert [o.order_id for o in by_cid] == [first.order_id]
    assert await api.get("/orders?client_order_id=nope", list[OrderInfo]) == []
    stats = await api.get("/admin/stats", Stats)
    assert (stats.orders, stats.order_requests, stats.duplicate_requests) == (1, 2, 1)
    assert len(await api.get("/orders?status=all", list[OrderInfo])) == 1


async def test_symbols_and_health(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    sim = await make_sim()
    assert await (await http.get(f"{sim.url}/health")).json() == {"status": "ok"}
    infos = await Api(http, sim.url).get("/symbols", list[SymbolInfo])
    assert [i.code for i in infos] == [SAMSUNG, "000660"]
    samsung = infos[0]
    assert (samsung.name, samsung.market, samsung.prev_close) == ("삼성전자", "KOSPI", 97_600)
    assert (samsung.lower_limit, samsung.upper_limit) == (LIMITS.lower, LIMITS.upper)
    resp = await http.get(f"{sim.url}/no/such/path")
    assert resp.status == 404 and (await resp.json())["code"] == "not_found"
