"""The fake account: orders, executions, positions and cash, and the matching rules.

Matching (the fake's own model, simple on purpose so tests can predict it):
- a market order (OrdprcPtnCode "03") fills in full at once at the last price;
- a marketable limit order (a buy at or above the last price, a sell at or below) also fills in
  full at once, at the last price;
- any other limit order rests, and each later print at or through its price fills up to the
  print's quantity, at the order's own price, in time priority. So a large order fills in parts.
KRX settles T+2: the deposit (Dps) does not move with today's trades; the D+2 deposit does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from tests.faketape import Side

OrderKind = Literal["new", "modify", "cancel"]
# open: working; filled; cancelled (remaining cancelled, maybe after partial fills); rejected
# (refused by the exchange after the REST acceptance: SC4); replaced (remaining moved to a modify
# order); done (a cancel record, which never trades).
OrderStatus = Literal["open", "filled", "cancelled", "rejected", "replaced", "done"]

LIMIT = "00"
MARKET = "03"


@dataclass(slots=True)
class Execution:
    execno: int
    qty: int
    price: int
    time: str  # HHMMSSmmm


@dataclass(eq=False, slots=True)
class Order:
    ordno: int
    kind: OrderKind
    code: str
    side: Side
    qty: int
    price: int  # 0 for market orders
    ptn: str  # OrdprcPtnCode
    cndi: str  # OrdCndiTpCode
    env: str  # "real" / "paper": the app key's mode that placed it
    created_at: float  # epoch seconds on the fake's clock
    date: str  # YYYYMMDD, Seoul
    time: str  # HHMMSSmmm, Seoul
    isu_no: str  # IsuNo exactly as sent
    mbr_no: str = ""
    orgordno: int = 0
    status: OrderStatus = "open"
    filled: int = 0
    fill_amount: int = 0
    cancelled: int = 0
    replaced: int = 0
    rejected: int = 0
    reserve_price: int = 0  # per-share cash held by a working buy (the upper limit for market buys)
    executions: list[Execution] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        if self.kind == "cancel":
            return 0
        return self.qty - self.filled - self.cancelled - self.replaced - self.rejected

    @property
    def is_market(self) -> bool:
        return self.ptn == MARKET

    @property
    def avg_price(self) -> float:
        return self.fill_amount / self.filled if self.filled else 0.0

    def crosses(self, price: int) -> bool:
        if self.is_market:
            return True
        return price <= self.price if self.side == "buy" else price >= self.price


@dataclass(slots=True)
class Position:
    code: str
    qty: int = 0
    cost: int = 0  # purchase amount of the shares still held
    prior_qty: int = 0
    today_buy_qty: int = 0
    today_buy_amt: int = 0
    today_sell_qty: int = 0
    today_sell_amt: int = 0
    realized: int = 0
    fees: int = 0
    taxes: int = 0

    @property
    def avg_price(self) -> float:
        return self.cost / self.qty if self.qty else 0.0


@dataclass(slots=True)
class Account:
    number: str  # 11 digits, as AcntNo/accno in the LS examples
    name: str
    cash: int  # Dps: the settled deposit
    commission_rate: float
    sell_tax_rate: float
    d2_cash: int = 0  # D2Dps: cash after today's trades, fees and tax
    realized: int = 0
    positions: dict[str, Position] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.d2_cash = self.cash

    def set_cash(self, amount: int) -> None:
        self.cash = self.d2_cash = amount

    def buy_cost(self, price: int, qty: int) -> int:
        return price * qty + math.ceil(price * qty * self.commission_rate)

    def reserved(self, orders: list[Order]) -> int:
        return sum(self.buy_cost(o.reserve_price, o.remaining) for o in orders
                   if o.side == "buy" and o.status == "open" and o.remaining > 0)  # fmt: skip

    def orderable(self, orders: list[Order]) -> int:
        return max(self.d2_cash - self.reserved(orders), 0)

    def sellable(self, code: str, orders: list[Order]) -> int:
        held = self.positions[code].qty if code in self.positions else 0
        pending = sum(o.remaining for o in orders
                      if o.side == "sell" and o.code == code and o.status == "open")  # fmt: skip
        return held - pending

    def apply_fill(self, order: Order, price: int, qty: int, execno: int, time: str) -> Execution:
        amount = price * qty
        # Commission and tax truncated to whole won: LS's rounding is not in the reference.
        fee = int(amount * self.commission_rate)
        pos = self.positions.setdefault(order.code, Position(code=order.code))
        pos.fees += fee
        if order.side == "buy":
            self.d2_cash -= amount + fee
            pos.qty += qty
            pos.cost += amount
            pos.today_buy_qty += qty
            pos.today_buy_amt += amount
        else:
            tax = int(amount * self.sell_tax_rate)
            pos.taxes += tax
            self.d2_cash += amount - fee - tax
            cost = round(pos.avg_price * qty)
            pnl = amount - cost - fee - tax
            pos.realized += pnl
            self.realized += pnl
            pos.cost -= cost
            pos.qty -= qty
            pos.today_sell_qty += qty
            pos.today_sell_amt += amount
            if pos.qty == 0:
                pos.cost = 0
        ex = Execution(execno=execno, qty=qty, price=price, time=time)
        order.filled += qty
        order.fill_amount += amount
        order.executions.append(ex)
        if order.remaining == 0:
            order.status = "filled"
        return ex
