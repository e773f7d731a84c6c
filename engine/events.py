"""Typed events the engine publishes for transports (console, Discord) to render.

Events are immutable facts; a transport never reaches back into engine state to explain one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from engine.clock import Clock
from engine.ordertypes import Side
from engine.report import DailyReport

Side = Side


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

    Alerts are also kept for the rest of the run (the last `alert_backlog` of them), so a
    transport that attaches late, after the start-up reconciliation raised its alerts, still
    gets them: `subscribe(replay_alerts=True)`. When more were raised than are kept, the replay
    ends with an alert that says how many were left out.
    """

    ALERT_BACKLOG = 500

    def __init__(self, clock: Clock | None = None, alert_backlog: int = ALERT_BACKLOG) -> None:
        self.clock = clock or Clock()
        self._queues: list[asyncio.Queue[Event]] = []
        self._alerts: deque[AlertEvent] = deque(maxlen=max(alert_backlog, 0))
        self._alerts_left_out = 0

    def subscribe(self, replay_alerts: bool = False) -> asyncio.Queue[Event]:
        """A new queue of every event published from now on; with replay_alerts, the alerts
        published so far in this run come first."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        if replay_alerts:
            for alert in self._alerts:
                queue.put_nowait(alert)
            if self._alerts_left_out:
                queue.put_nowait(
                    AlertEvent(
                        AlertLevel.WARNING,
                        AlertKind.INFO,
                        "Earlier alerts left out",
                        f"{self._alerts_left_out:,} earlier alerts of this run are not repeated "
                        f"here: only the last {len(self._alerts):,} are kept.",
                        self.clock.time_ns(),
                    )
                )
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: Event) -> None:
        if event.ts_ns == 0:
            event = replace(event, ts_ns=self.clock.time_ns())
        if isinstance(event, AlertEvent):
            if len(self._alerts) == self._alerts.maxlen:
                self._alerts_left_out += 1
            self._alerts.append(event)
        for queue in self._queues:
            queue.put_nowait(event)
