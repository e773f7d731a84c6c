"""What commands return: plain data, rendered by each transport (text, embeds, …)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from engine.core import EngineStatus
from engine.report import DailyReport


def broker_line(s: EngineStatus) -> str:
    """The broker's state in a few words, for /status and the dashboard."""
    if s.broker_ready:
        return "connected" if s.connected else "DISCONNECTED"
    return f"NOT READY: {s.broker_state}"


@dataclass(frozen=True, slots=True)
class Subscribed:
    symbol: str
    name: str
    strategy: str
    params: dict[str, float]
    qty: int | None
    created: bool


@dataclass(frozen=True, slots=True)
class Cancelled:
    symbol: str
    name: str


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    symbol: str
    name: str
    strategy: str
    qty: int | None
    source: str
    last: int | None
    position: int


@dataclass(frozen=True, slots=True)
class SubscriptionList:
    rows: list[SubscriptionRow]
    cap: int | None


@dataclass(frozen=True, slots=True)
class WatchRow:
    condition_id: str
    name: str
    strategy: str
    qty: int | None
    params: dict[str, float]


@dataclass(frozen=True, slots=True)
class AutoState:
    watches: list[WatchRow]
    paused: bool = False  # market closed: followed again at the open
    waiting: int = 0  # entries waiting for a free registration
    changed: str = ""  # what this command did, in words


@dataclass(frozen=True, slots=True)
class ConditionRow:
    condition_id: str
    name: str
    watched_by: str | None  # the strategy following it, if any


@dataclass(frozen=True, slots=True)
class ConditionList:
    rows: list[ConditionRow]
    broker: str


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: str  # the broker's id when known, else the client order id
    client_order_id: str
    symbol: str
    name: str
    side: str
    type: str
    qty: int
    price: int | None
    filled_qty: int
    status: str
    origin: str
    message: str | None


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    order: OrderRow
    duplicate: bool


@dataclass(frozen=True, slots=True)
class OrderList:
    rows: list[OrderRow]


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    order: OrderRow
    by: str  # who cancelled it
    owner: str  # whose order it was: a person, or a strategy


def owner(origin: str) -> str:
    """Whose order an origin names: `manual:<actor>` is a person, anything else a strategy."""
    kind, _, who = origin.partition(":")
    return who if kind == "manual" and who else f"strategy {origin}"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An autocomplete entry: what is shown, and the value it fills in."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class PositionRow:
    symbol: str
    name: str
    qty: int
    avg_price: float
    last: int | None
    value: int
    unrealized: int


@dataclass(frozen=True, slots=True)
class PositionList:
    rows: list[PositionRow]
    cash: int
    equity: int


@dataclass(frozen=True, slots=True)
class Pnl:
    realized_gross: int
    commission: int
    tax: int
    realized_net: int
    unrealized: int
    trades: int
    equity: int
    initial_cash: int


@dataclass(frozen=True, slots=True)
class Status:
    engine: EngineStatus


@dataclass(frozen=True, slots=True)
class HaltState:
    halted: bool
    reason: str
    cancelled_orders: int = 0
    pending_orders: int = 0
    detail: str = ""  # the kill switch's own account of the cancels, for the reply


@dataclass(frozen=True, slots=True)
class Settings:
    """What an admin may see of the configuration (never secrets)."""

    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class OrderPreview:
    """A validated manual order awaiting confirmation."""

    symbol: str
    name: str
    side: str
    qty: int
    price: int | None
    estimated_value: int
    last: int | None


@dataclass(frozen=True, slots=True)
class MarketInfo:
    day: date
    is_open: bool
    opens: datetime | None
    closes: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class ScheduleList:
    mode: str
    jobs: list[tuple[str, datetime]]


@dataclass(frozen=True, slots=True)
class ReportResult:
    report: DailyReport
    chart_path: str


@dataclass(frozen=True, slots=True)
class ChartResult:
    symbol: str
    name: str
    interval_min: int
    bars: int
    chart_path: str


@dataclass(frozen=True, slots=True)
class HelpRow:
    usage: str
    summary: str
    allowed: bool


@dataclass(frozen=True, slots=True)
class Help:
    rows: list[HelpRow]


def audit_note(result: object) -> str:
    """What the audit row says a successful command did."""
    if isinstance(result, OrderPreview):
        return "confirmation asked"
    if isinstance(result, OrderCancelled):
        return f"OrderCancelled {result.order.order_id}: {result.owner}'s order, by {result.by}"
    return type(result).__name__


Result = (
    Subscribed
    | Cancelled
    | SubscriptionList
    | AutoState
    | ConditionList
    | OrderPlaced
    | OrderList
    | OrderCancelled
    | PositionList
    | Pnl
    | Status
    | HaltState
    | Help
    | Settings
    | OrderPreview
    | MarketInfo
    | ScheduleList
    | ReportResult
    | ChartResult
)
