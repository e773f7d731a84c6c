"""The fake account: orders, positions, cash and the matching rules against the tape."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from tests.fakekis.tape import Trade
from tests.faketape import Side

OrderKind = Literal["new", "cancel", "modify"]
# open: working; filled; cancelled (remaining cancelled, maybe partly filled); rejected (exchange
# refusal after acceptance); replaced (remaining moved to a modify order); done (a cancel/modify
# record itself, which never trades).
OrderStatus = Literal["open", "filled", "cancelled", "rejected", "replaced", "done"]

MARKET = "01"
LIMIT = "00"


@dataclass(eq=False, slots=True)
class FakeOrder:
    odno: str
    kind: OrderKind
    symbol: str
    side: Side
    qty: int
    price: int  # order price; 0 for market orders
    ord_dvsn: str
    tr_id: str
    created_at: float  # epoch seconds on the fake's clock
    ord_tmd: str  # HHMMSS KST
    ord_dt: str = ""  # YYYYMMDD KST: the Seoul date KIS books the order on
    orgn_odno: str = ""
    status: OrderStatus = "open"
    filled: int = 0
    fill_amount: int = 0
    cancelled: int = 0
    rejected: int = 0
    replaced: int = 0
    reserve_price: int = 0  # per-share cash held for a working buy (upper limit for market buys)
    fills: list[tuple[int, int]] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        if self.kind == "cancel":
            return 0
        return self.qty - self.filled - self.cancelled - self.rejected - self.replaced

    @property
    def is_market(self) -> bool:
        return self.ord_dvsn == MARKET

    @property
    def avg_fill_price(self) -> float:
        return self.fill_amount / self.filled if self.filled else 0.0

    def crosses(self, trade: Trade) -> bool:
        if self.is_market:
            return True
        return trade.price <= self.price if self.side == "buy" else trade.price >= self.price


@dataclass(slots=True)
class Position:
    code: str
    name: str
    qty: int = 0
    cost: int = 0  # purchase amount of the shares still held (pchs_amt)
    today_buy: int = 0
    today_sell: int = 0
    prior_qty: int = 0  # held before today (bfdy)

    @property
    def avg_price(self) -> float:
        return self.cost / self.qty if self.qty else 0.0


@dataclass(slots=True)
class Account:
    cano: str
    prdt: str
    cash: int  # settled deposit (dnca_tot_amt); KRX settles T+2 so today's trades do not move it
    commission_rate: float
    sell_tax_rate: float
    d2_cash: int = 0  # projected D+2 deposit: cash after today's trades, fees and tax
    today_buy_amt: int = 0
    today_sell_amt: int = 0
    today_fees: int = 0
    positions: dict[str, Position] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.d2_cash = self.cash

    def buy_cost(self, price: int, qty: int) -> int:
        return price * qty + math.ceil(price * qty * self.commission_rate)

    def reserved_cash(self, orders: list[FakeOrder]) -> int:
        return sum(
            self.buy_cost(o.reserve_price, o.remaining)
            for o in orders
            if o.side == "buy" and o.status == "open" and o.remaining > 0
        )

    def orderable_cash(self, orders: list[FakeOrder]) -> int:
        return self.d2_cash - self.reserved_cash(orders)

    def sellable(self, code: str, orders: list[FakeOrder]) -> int:
        held = self.positions[code].qty if code in self.positions else 0
        pending = sum(
            o.remaining for o in orders if o.side == "sell" and o.symbol == code and o.status == "open"
        )
        return held - pending

    def apply_fill(self, order: FakeOrder, price: int, qty: int, name: str) -> None:
        amount = price * qty
        # Commission and tax are truncated to whole won; KIS's exact rounding is not in the
        # reference, and the fill notice never carries fees anyway.
        fee = int(amount * self.commission_rate)
        pos = self.positions.setdefault(order.symbol, Position(code=order.symbol, name=name))
        if order.side == "buy":
            self.d2_cash -= amount + fee
            self.today_buy_amt += amount
            pos.qty += qty
            pos.cost += amount
            pos.today_buy += qty
        else:
            tax = int(amount * self.sell_tax_rate)
            fee += tax
            self.d2_cash += amount - fee
            self.today_sell_amt += amount
            pos.cost -= round(pos.avg_price * qty)
            pos.qty -= qty
            pos.today_sell += qty
            if pos.qty == 0:
                pos.cost = 0
        self.today_fees += fee
        order.filled += qty
        order.fill_amount += amount
        order.fills.append((qty, price))
        if order.remaining == 0:
            order.status = "filled"
