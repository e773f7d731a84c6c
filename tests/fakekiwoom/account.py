"""The fake account: orders, fills, positions, cash, and the matching rule against the tape."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from tests.fakekiwoom.tape import Trade
from tests.faketape import Side

LIMIT = "0"  # trde_tp 보통(지정가)
MARKET = "3"  # trde_tp 시장가
TRDE_TP_NAMES = {LIMIT: "보통", MARKET: "시장가"}

OrderKind = Literal["new", "cancel"]
# open: working; filled; cancelled (the rest cancelled, maybe partly filled); rejected (exchange
# refusal after the REST answer); done (a cancel order's own record, which never trades).
OrderStatus = Literal["open", "filled", "cancelled", "rejected", "done"]


@dataclass(slots=True)
class Fill:
    cntr_no: str  # 체결번호
    qty: int
    price: int
    hhmmss: str


@dataclass(eq=False, slots=True)
class FakeOrder:
    ord_no: str  # 7 digits
    kind: OrderKind
    api_id: str  # kt10000 / kt10001 / kt10003
    code: str
    side: Side
    qty: int
    price: int  # order price; 0 for market orders
    trde_tp: str
    dmst_stex_tp: str
    created_at: float  # epoch seconds on the fake's clock
    ord_tm: str  # HHMMSS Seoul
    ord_dt: str  # YYYYMMDD Seoul: the date Kiwoom books the order on
    orig_ord_no: str = "0000000"
    status: OrderStatus = "open"
    filled: int = 0
    fill_amount: int = 0
    cancelled: int = 0
    rejected: int = 0
    reserve_price: int = 0  # per-share cash held for a working buy (the upper limit for market)
    reject_on_accept: bool = False  # reject_next_orders(): refused by the exchange after the answer
    fees: int = 0
    tax: int = 0
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        if self.kind == "cancel":
            return 0
        return self.qty - self.filled - self.cancelled - self.rejected

    @property
    def is_market(self) -> bool:
        return self.trde_tp == MARKET

    @property
    def avg_price(self) -> int:
        return round(self.fill_amount / self.filled) if self.filled else 0

    @property
    def working(self) -> bool:
        return self.status == "open" and self.remaining > 0

    def crosses(self, trade: Trade) -> bool:
        if self.is_market:
            return True
        return trade.price <= self.price if self.side == "buy" else trade.price >= self.price


@dataclass(slots=True)
class Position:
    code: str
    name: str
    qty: int = 0
    cost: int = 0  # purchase amount of the shares still held
    prior_qty: int = 0  # held before today
    today_buy: int = 0
    today_sell: int = 0
    buy_fees: int = 0

    @property
    def avg_price(self) -> float:
        return self.cost / self.qty if self.qty else 0.0


@dataclass(slots=True)
class Account:
    acct_no: str  # 10 digits (ka00001)
    cash: int  # settled deposit (예수금); KRX settles T+2 so today's trades move d2 only
    commission_rate: float
    sell_tax_rate: float
    d2_cash: int = 0
    positions: dict[str, Position] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.d2_cash = self.cash

    def buy_cost(self, price: int, qty: int) -> int:
        return price * qty + math.ceil(price * qty * self.commission_rate)

    def reserved_cash(self, orders: list[FakeOrder]) -> int:
        return sum(
            self.buy_cost(o.reserve_price, o.remaining) for o in orders if o.side == "buy" and o.working
        )

    def orderable_cash(self, orders: list[FakeOrder]) -> int:
        return self.d2_cash - self.reserved_cash(orders)

    def sellable(self, code: str, orders: list[FakeOrder]) -> int:
        held = self.positions[code].qty if code in self.positions else 0
        pending = sum(o.remaining for o in orders if o.side == "sell" and o.code == code and o.working)
        return held - pending

    def apply_fill(self, order: FakeOrder, fill: Fill, name: str) -> None:
        amount = fill.price * fill.qty
        # Kiwoom's fee rounding is not in the reference (UNCONFIRMED): truncated to whole won.
        fee = int(amount * self.commission_rate)
        pos = self.positions.setdefault(order.code, Position(code=order.code, name=name))
        if order.side == "buy":
            self.d2_cash -= amount + fee
            pos.qty += fill.qty
            pos.cost += amount
            pos.today_buy += fill.qty
            pos.buy_fees += fee
        else:
            tax = int(amount * self.sell_tax_rate)
            order.tax += tax
            self.d2_cash += amount - fee - tax
            pos.cost -= round(pos.avg_price * fill.qty)
            pos.qty -= fill.qty
            pos.today_sell += fill.qty
            if pos.qty == 0:
                pos.cost = 0
        order.fees += fee
        order.filled += fill.qty
        order.fill_amount += amount
        order.fills.append(fill)
        if order.remaining == 0:
            order.status = "filled"
