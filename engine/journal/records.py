"""Rows of the journal as typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.ordertypes import OrderStatus, Side

OrderType = Literal["limit", "market"]


@dataclass(slots=True)
class OrderRecord:
    client_order_id: str
    intent_key: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    price: int | None
    origin: str  # strategy name or "manual:<actor>"
    reason: str
    status: OrderStatus = OrderStatus.PENDING
    broker_order_id: str | None = None
    filled_qty: int = 0
    message: str | None = None
    created_ns: int = 0
    updated_ns: int = 0

    @property
    def live(self) -> bool:
        return self.status.live

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty


@dataclass(frozen=True, slots=True)
class FillRecord:
    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    price: int
    commission: int
    tax: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    symbol: str
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    qty: int | None = None
    source: str = "manual"
    created_ns: int = 0


@dataclass(frozen=True, slots=True)
class AuditRecord:
    ts_ns: int
    actor: str
    transport: str
    command: str
    args: str
    ok: bool
    result: str
