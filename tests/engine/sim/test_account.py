"""The account and matching rules, driven by hand-made trades (no server, no randomness)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.krx.costs import CostModel, Market
from engine.krx.universe import BY_CODE
from engine.sim.account import NotCancellable, OrderNotFound, SimAccount
from engine.sim.matching import fill_price
from engine.sim.orders import Malformed, OrderRequestIn
from engine.sim.protocol import TickRow
from engine.sim.store import Store

DAY = date(2026, 3, 3)
RATE = 0.00015


def _account(cash: int = 10_000_000, store: Store | None = None) -> SimAccount:
    listings = {c: BY_CODE[c] for c in ("005930", "247540")}
    return SimAccount(listings, initial_cash=cash, commission_rate=RATE, store=store, today=lambda: DAY)


def _req(cid: str, side: str, qty: Any, price: int | None = None, **kw: Any) -> OrderRequestIn:
    kind = kw.pop("type", "limit" if price else "market")
    return OrderRequestIn(
        client_order_id=cid,
        symbol=kw.pop("symbol", "005930"),
        side=side,  # type: ignore[arg-type]
        type=kind,
        qty=qty,
        price=price,
    )


def _trade(price: int, qty: int, symbol: str = "005930") -> TickRow:
    return TickRow(symbol, 123, price, qty, 1, 0)


def test_fill_price_rules() -> None:
    acct = _account()
    buy = acct.place(_req("b", "buy", 1, 97_000), 0).order
    sell = acct.place(_req("s", "sell", 1, 98_000), 0).order  # rejected: no shares
    sell.status = "accepted"  # only the price rule is under test here
    mkt = acct.place(_req("m", "buy", 1), 0).order
    assert fill_price(buy, 97_100) is None
    assert fill_price(buy, 97_000) == 97_000
    assert fill_price(buy, 96_500) == 96_500
    assert fill_price(sell, 97_900) is None
    assert fill_price(sell, 98_500) == 98_500
    assert fill_price(mkt, 120_000) == 120_000


def test_partial_fills_fifo_costs_and_round_trip() -> None:
    acct = _account()
    cost = CostModel(RATE)
    first = acct.place(_req("a", "buy", 30, 97_600), 0).order
    second = acct.place(_req("b", "buy", 10, 97_600), 0).order
    assert acct.on_trade(_trade(97_700, 50)) == []  # above both limits
    ev1 = acct.on_trade(_trade(97_500, 12))
    assert [(e.order_id, e.fill_qty, e.fill_price, e.status) for e in ev1] == [
        (first.order_id, 12, 97_500, "partially_filled")
    ]
    ev2 = acct.on_trade(_trade(97_600, 25))
    # The older order takes what it still needs, the rest goes to the next one.
    assert [(e.order_id, e.fill_qty, e.filled_qty, e.status) for e in ev2] == [
        (first.order_id, 18, 30, "filled"),
        (second.order_id, 7, 7, "partially_filled"),
    ]
    assert ev2[0].fill_id == f"{first.order_id}-2"
    assert ev1[0].commission == cost.commission(12 * 97_500) == 175
    assert first.avg_fill_price == (12 * 97_500 + 18 * 97_600) / 30
    spent = sum(q * p + cost.commission(q * p) for q, p in [(12, 97_500), (18, 97_600), (7, 97_600)])
    assert acct.cash == 10_000_000 - spent
    holding = acct.holding("005930")
    assert holding is not None and holding.qty == 37
    assert holding.avg_price == pytest.approx((12 * 97_500 + 25 * 97_600) / 37)

    acct.cancel(second.order_id, 0)
    sell = acct.place(_req("s", "sell", 37), 0).order
    cash_before = acct.cash
    (ev,) = acct.on_trade(_trade(99_000, 100))
    amount = 37 * 99_000
    assert ev.tax == CostModel(RATE).sell_tax(amount, Market.KOSPI, DAY) == 7_326
    assert ev.commission == int(amount * RATE)
    assert acct.cash == cash_before + amount - ev.commission - ev.tax
    assert sell.status == "filled" and acct.holding("005930") is None
    assert acct.snapshot().positions == []


def test_sell_keeps_average_price_and_kosdaq_tax() -> None:
    acct = _account()
    acct.place(_req("a", "buy", 10, 131_400, symbol="247540"), 0)
    acct.on_trade(_trade(131_000, 10, "247540"))
    acct.place(_req("s", "sell", 4, symbol="247540"), 0)
    (ev,) = acct.on_trade(_trade(132_000, 50, "247540"))
    assert ev.tax == int(4 * 132_000 * 0.0020)  # KOSDAQ, 2026 rate
    holding = acct.holding("247540")
    assert holding is not None and (holding.qty, holding.avg_price) == (6, 131_000.0)


def test_reservations_count_open_orders() -> None:
    acct = _account(cash=1_000_000)
    # Market buys reserve at the upper limit (126,800 for 005930): 7 fit, 8 do not.
    assert acct.place(_req("m", "buy", 8), 0).order.reject_code == "insufficient_cash"
    assert acct.place(_req("m2", "buy", 7), 0).order.status == "accepted"
    # 1,000,000 - 7 x 126,800 - commission 133 = 112,267 left.
    assert acct.place(_req("l1", "buy", 1, 112_200), 0).order.status == "accepted"
    rej = acct.place(_req("l2", "buy", 1, 68_400), 0).order
    assert rej.reject_code == "insufficient_cash"
    assert "available" in (rej.message or "") and "reserved by open buy orders" in (rej.message or "")


def test_cancel_errors_and_malformed() -> None:
    acct = _account()
    with pytest.raises(OrderNotFound):
        acct.cancel("S99999999", 0)
    order = acct.place(_req("a", "buy", 1, 68_400), 0).order
    acct.cancel(order.order_id, 0)
    with pytest.raises(NotCancellable, match="is cancelled"):
        acct.cancel(order.order_id, 0)
    with pytest.raises(Malformed, match="needs a price"):
        acct.place(_req("x", "buy", 1, None, type="limit"), 0)
    assert acct.order_count == 1  # a malformed request stores nothing


def test_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    acct = _account(store=store)
    acct.place(_req("a", "buy", 5, 97_600), 0)
    acct.on_trade(_trade(97_500, 2))
    acct.place(_req("bad", "buy", 0, 97_600), 0)
    store.close()

    store = Store(path)
    again = _account(cash=1, store=store)  # saved cash wins over the initial cash
    assert again.cash == acct.cash
    assert again.snapshot() == acct.snapshot()
    assert [o.info() for o in again.orders()] == [o.info() for o in acct.orders()]
    assert again.fills() == acct.fills() and len(acct.fills()) == 1
    assert again.place(_req("a", "buy", 1, 97_600), 0).duplicate
    assert again.place(_req("new", "buy", 1, 97_600), 0).order.order_id == "S00000003"
    ev = again.on_trade(_trade(97_600, 100))[0]
    assert (ev.order_id, ev.fill_id, ev.filled_qty) == ("S00000001", "S00000001-2", 5)
    store.close()
