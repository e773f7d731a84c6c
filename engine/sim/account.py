"""The simulated brokerage account: cash, positions and the orders placed against the tape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from engine.clock import Clock
from engine.krx.costs import CostModel
from engine.krx.prices import daily_limits
from engine.krx.universe import Listing
from engine.sim.matching import match_trade
from engine.sim.orders import (
    Order,
    OrderRequestIn,
    Reject,
    check_static,
    format_order_id,
    valid_qty,
)
from engine.sim.protocol import (
    REJECT_INSUFFICIENT_CASH,
    REJECT_INSUFFICIENT_SHARES,
    Account,
    FillInfo,
    OrderEvent,
    Position,
    TickRow,
)
from engine.sim.store import Store


class OrderNotFound(LookupError):
    def __init__(self, order_id: str) -> None:
        self.message = f"no order {order_id!r}: order ids look like S00000001"
        super().__init__(self.message)


class NotCancellable(Exception):
    def __init__(self, order: Order) -> None:
        self.message = (
            f"order {order.order_id} is {order.status}: only accepted or partially filled "
            f"orders can be cancelled"
        )
        super().__init__(self.message)


@dataclass(slots=True)
class Holding:
    qty: int
    avg_price: float


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    duplicate: bool
    events: list[OrderEvent]


class SimAccount:
    def __init__(
        self,
        listings: Mapping[str, Listing],
        *,
        initial_cash: int,
        commission_rate: float,
        store: Store | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._listings = dict(listings)
        self._upper = {code: daily_limits(lst.prev_close).upper for code, lst in listings.items()}
        self._cost = CostModel(commission_rate)
        self._store = store
        # The trading date for the sell tax: Seoul's, from the exchange's clock.
        self._today = today or Clock().today
        self.cash = initial_cash
        self._holdings: dict[str, Holding] = {}
        self._orders: dict[str, Order] = {}
        self._by_client: dict[str, Order] = {}
        # Per symbol, open orders oldest first: the FIFO queue a trade fills.
        self._open: dict[str, list[Order]] = {}
        self._fills: list[FillInfo] = []
        self._last_seq = 0
        saved = store.load() if store is not None else None
        if saved is None:
            if store is not None:
                store.save(cash=self.cash, last_order_seq=0)
        else:
            self.cash = saved.cash
            self._last_seq = saved.last_order_seq
            for order in saved.orders:
                self._add(order)
                self._last_seq = max(self._last_seq, order.seq)
            self._holdings = {s: Holding(q, a) for s, (q, a) in saved.positions.items()}
            self._fills = saved.fills

    # ---- queries -------------------------------------------------------------------------

    @property
    def order_count(self) -> int:
        return len(self._orders)

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def by_client_id(self, client_order_id: str) -> Order | None:
        return self._by_client.get(client_order_id)

    def orders(self, status: Literal["open", "all"] = "all") -> list[Order]:
        orders = list(self._orders.values())
        return [o for o in orders if o.is_open] if status == "open" else orders

    def fills(self) -> list[FillInfo]:
        """Every fill of the account, oldest first."""
        return list(self._fills)

    def holding(self, symbol: str) -> Holding | None:
        return self._holdings.get(symbol)

    def snapshot(self) -> Account:
        return Account(
            cash=self.cash,
            positions=[
                Position(symbol=s, qty=h.qty, avg_price=h.avg_price)
                for s, h in sorted(self._holdings.items())
            ],
        )

    def reserved_cash(self) -> int:
        """Cash that open buy orders would spend at their worst price, commission included."""
        total = 0
        for queue in self._open.values():
            for order in queue:
                if order.side == "buy":
                    total += self._buy_cost(order.symbol, order.price, order.remaining)
        return total

    def _buy_cost(self, symbol: str, price: int | None, qty: int) -> int:
        # A market buy may fill anywhere up to the upper limit, so brokers hold that much.
        px = price if price is not None else self._upper.get(symbol, 0)
        amount = qty * px
        return amount + self._cost.commission(amount)

    def _shares_in_open_sells(self, symbol: str) -> int:
        return sum(o.remaining for o in self._open.get(symbol, ()) if o.side == "sell")

    # ---- changes ---------------------------------------------------------------------------

    def place(self, req: OrderRequestIn, ts_ns: int) -> Placed:
        """Accept or reject an order. Raises orders.Malformed (nothing stored) for a body that
        is not an order request."""
        existing = self._by_client.get(req.client_order_id)
        if existing is not None:
            return Placed(existing, True, [])
        listing = self._listings.get(req.symbol)
        reject = check_static(req, self._listings, listing.prev_close if listing else None)
        if reject is None:
            reject = self._check_funds(req)
        qty = valid_qty(req.qty) or 0
        seq = self._last_seq + 1
        order = Order(
            seq=seq,
            order_id=format_order_id(seq),
            client_order_id=req.client_order_id,
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            qty=qty,
            price=req.price if req.type == "limit" else None,
            status="accepted" if reject is None else "rejected",
            created_ts_ns=ts_ns,
        )
        if reject is not None:
            order.reject_code = reject.code
            order.message = reject.message
        if self._store is not None:
            self._store.save(orders=[order], last_order_seq=seq)
        self._last_seq = seq
        self._add(order)
        return Placed(order, False, [order.event("rejected" if reject else "accepted", ts_ns)])

    def _check_funds(self, req: OrderRequestIn) -> Reject | None:
        qty: int = req.qty
        if req.side == "buy":
            need = self._buy_cost(req.symbol, req.price if req.type == "limit" else None, qty)
            reserved = self.reserved_cash()
            available = self.cash - reserved
            if need > available:
                basis = (
                    f"{qty:,} x {req.price:,} KRW"
                    if req.type == "limit"
                    else f"{qty:,} x the upper limit {self._upper[req.symbol]:,} KRW "
                    f"(market buys reserve the upper limit)"
                )
                return Reject(
                    REJECT_INSUFFICIENT_CASH,
                    f"insufficient cash: this buy needs {need:,} KRW ({basis} plus commission) "
                    f"but {available:,} KRW is available (cash {self.cash:,} minus "
                    f"{reserved:,} reserved by open buy orders)",
                )
            return None
        holding = self._holdings.get(req.symbol)
        held = holding.qty if holding else 0
        pending = self._shares_in_open_sells(req.symbol)
        if qty > held - pending:
            return Reject(
                REJECT_INSUFFICIENT_SHARES,
                f"insufficient shares: selling {qty:,} {req.symbol} needs {qty:,} shares but "
                f"{held - pending:,} are available ({held:,} held, {pending:,} in open sell "
                f"orders)",
            )
        return None

    def _add(self, order: Order) -> None:
        self._orders[order.order_id] = order
        self._by_client[order.client_order_id] = order
        if order.is_open:
            self._open.setdefault(order.symbol, []).append(order)

    def _close(self, order: Order) -> None:
        queue = self._open.get(order.symbol)
        if queue is not None:
            queue.remove(order)
            if not queue:
                del self._open[order.symbol]

    def cancel(self, order_id: str, ts_ns: int) -> tuple[Order, OrderEvent]:
        order = self._orders.get(order_id)
        if order is None:
            raise OrderNotFound(order_id)
        if not order.is_open:
            raise NotCancellable(order)
        order.status = "cancelled"
        if self._store is not None:
            self._store.save(orders=[order])
        self._close(order)
        return order, order.event("cancelled", ts_ns)

    def on_trade(self, trade: TickRow) -> list[OrderEvent]:
        """Fill open orders of the trade's symbol; returns one fill event per fill."""
        queue = self._open.get(trade.symbol)
        if not queue:
            return []
        events: list[OrderEvent] = []
        for match in match_trade(list(queue), trade):
            events.append(self._fill(match.order, match.qty, match.price, trade.ts_ns))
        return events

    def _fill(self, order: Order, qty: int, price: int, ts_ns: int) -> OrderEvent:
        amount = qty * price
        commission = self._cost.commission(amount)
        holding = self._holdings.get(order.symbol) or Holding(0, 0.0)
        tax = 0
        if order.side == "buy":
            self.cash -= amount + commission
            new_qty = holding.qty + qty
            holding.avg_price = (holding.qty * holding.avg_price + amount) / new_qty
            holding.qty = new_qty
        else:
            tax = self._cost.sell_tax(amount, self._listings[order.symbol].market, self._today())
            self.cash += amount - commission - tax
            # A sell keeps the average price of the shares that remain.
            holding.qty -= qty
        if holding.qty > 0:
            self._holdings[order.symbol] = holding
        else:
            self._holdings.pop(order.symbol, None)
        order.filled_qty += qty
        order.fill_value += amount
        order.fills += 1
        order.status = "filled" if order.filled_qty >= order.qty else "partially_filled"
        fill = FillInfo(
            fill_id=f"{order.order_id}-{order.fills}",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            commission=commission,
            tax=tax,
            ts_ns=ts_ns,
        )
        if self._store is not None:
            self._store.save(
                orders=[order],
                fills=[fill],
                cash=self.cash,
                positions=[(order.symbol, holding.qty, holding.avg_price)],
            )
        self._fills.append(fill)
        if not order.is_open:
            self._close(order)
        return order.event(
            "fill",
            ts_ns,
            fill_id=fill.fill_id,
            fill_qty=qty,
            fill_price=price,
            commission=commission,
            tax=tax,
        )
