"""Typed events the engine publishes for transports (console, Discord) to render.

Events are immutable facts; a transport never reaches back into engine state to explain one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from engine.clock import Clock
from engine.report import DailyReport

Side = Literal["buy", "sell"]


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class AlertKind(StrEnum):
    """Why an alert was raised; transports use it to decide who to notify."""

    HALT = "halt"
    LOSS_LIMIT = "loss_limit"
    DISCONNECT = "disconnect"
    ERROR = "error"
    TASK_CRASH = "task_crash"
    RECONCILE = "reconcile"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class SignalEvent:
    symbol: str
    side: Side
    qty: int
    price: int | None
    strategy: str
    reason: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    qty: int
    price: int | None
    origin: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class OrderRejected:
    client_order_id: str | None
    symbol: str
    side: Side
    qty: int
    price: int | None
    code: str
    message: str
    origin: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: Side
    remaining: int
    reason: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class FillEvent:
    client_order_id: str
    fill_id: str
    symbol: str
    side: Side
    qty: int
    price: int
    commission: int
    tax: int
    realized_pnl: int
    position_qty: int
    order_filled_qty: int
    order_qty: int
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class AlertEvent:
    level: AlertLevel
    kind: AlertKind
    title: str
    message: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    symbol: str
    action: Literal["added", "removed"]
    strategy: str
    source: str
    reason: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class HaltChanged:
    halted: bool
    actor: str
    reason: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    connected: bool
    detail: str
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class AutoModeChanged:
    enabled: bool
    condition: str | None
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


@dataclass(frozen=True, slots=True)
class ReportEvent:
    """The day's report, with its equity-curve PNG (a file in the data directory)."""

    report: DailyReport
    chart_path: str | None
    ts_ns: int = 0  # 0: stamped by the bus from the engine clock


Event = (
    SignalEvent
    | OrderAccepted
    | OrderRejected
    | OrderCancelled
    | FillEvent
    | AlertEvent
    | SubscriptionChanged
    | HaltChanged
    | ConnectionChanged
    | AutoModeChanged
    | ReportEvent
)


class EventBus:
    """Fan-out of engine events: every consumer gets its own unbounded queue.

    Unbounded on purpose: an event is never dropped because a transport is slow; transports
    coalesce on their side.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._queues: list[asyncio.Queue[Event]] = []

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        if event.ts_ns == 0:
            event = replace(event, ts_ns=self.clock.time_ns())
        for queue in self._queues:
            queue.put_nowait(event)
