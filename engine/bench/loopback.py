"""A broker that answers at once, for measuring the engine's own costs (subscription churn,
memory per subscription, the publisher): broker round trips are left out on purpose, and the
benchmark output says so. Orders are accepted and never filled."""

from __future__ import annotations

from engine.brokers.base import (
    AccountSnapshot,
    Broker,
    BrokerOrder,
    BrokerSink,
    Capabilities,
    ConditionSearch,
    OrderRequest,
)
from engine.instruments import Instrument
from engine.krx.costs import Market
from engine.krx.prices import daily_limits
from engine.ordertypes import OrderStatus


def synthetic_code(i: int) -> str:
    return f"{100000 + i:06d}"


class LoopbackBroker(Broker):
    name = "loopback"
    paper = True

    def __init__(self, symbols: int, cash: int = 10_000_000) -> None:
        self.capabilities = Capabilities(
            client_order_ids=True,
            lists_fills=True,
            lists_orders=True,
            condition_search=ConditionSearch.NONE,
            max_conditions=0,
            conditions_on_paper=False,
            intraday_bars=False,
            max_symbols=None,
            environments=("paper",),
        )
        self.cash = cash
        self._instruments = {}
        for i in range(symbols):
            code = synthetic_code(i)
            limits = daily_limits(10_000)
            self._instruments[code] = Instrument(
                code, f"SYN{i}", Market.KOSPI, 10_000, 10_100, 9_900, 10_000, limits.upper, limits.lower
            )
        self.subscribed: set[str] = set()
        self.orders: dict[str, BrokerOrder] = {}

    async def start(self, sink: BrokerSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        return None

    @property
    def connected(self) -> bool:
        return True

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    async def subscribe(self, symbol: str) -> None:
        self.subscribed.add(symbol)

    async def unsubscribe(self, symbol: str) -> None:
        self.subscribed.discard(symbol)

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        order = BrokerOrder(
            f"L{len(self.orders):08d}",
            request.client_order_id,
            request.symbol,
            request.side,
            request.qty,
            request.price,
            OrderStatus.ACCEPTED,
            0,
        )
        self.orders.setdefault(request.client_order_id, order)
        return self.orders[request.client_order_id]

    async def cancel_order(self, broker_order_id: str) -> BrokerOrder:
        raise NotImplementedError

    async def find_order(
        self,
        request: OrderRequest,
        placed_after_ns: int,
        claimed: set[str],
        broker_order_id: str | None = None,
    ) -> BrokerOrder | None:
        return self.orders.get(request.client_order_id)

    async def open_orders(self) -> list[BrokerOrder]:
        return list(self.orders.values())

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot(cash=self.cash, positions={})
