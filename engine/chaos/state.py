"""What the invariants compare: the broker's record and the agent's journal, as plain values.

The journal is read from a copy (database and WAL), so inspecting it between rounds can never
change what the next agent start finds on disk.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Broker order states, normalized across brokers.
OPEN, FILLED, CANCELLED, REJECTED = "open", "filled", "cancelled", "rejected"


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    order_id: str
    client_order_id: str | None  # None for brokers without client order ids (KIS)
    symbol: str
    side: str
    qty: int
    price: int | None
    status: str  # OPEN | FILLED | CANCELLED | REJECTED
    filled_qty: int
    created_ns: int = 0

    def describe(self) -> str:
        price = "market" if not self.price else f"@ {self.price:,}"
        return (
            f"{self.order_id} {self.side} {self.qty:,} {self.symbol} {price} "
            f"[{self.status}, filled {self.filled_qty:,}]"
        )


@dataclass(frozen=True, slots=True)
class BrokerFill:
    fill_id: str | None  # None where the broker has no fill ids (KIS: fills per order)
    order_id: str
    symbol: str
    side: str
    qty: int
    price: int
    commission: int
    tax: int


@dataclass(frozen=True, slots=True)
class BrokerState:
    broker: str
    orders: tuple[BrokerOrder, ...]
    fills: tuple[BrokerFill, ...]
    cash: int
    positions: Mapping[str, int] = field(default_factory=dict)
    # The sim names each fill; KIS reports executed quantities per order, so fills are compared
    # per order there.
    fill_ids: bool = True

    @property
    def open_orders(self) -> list[BrokerOrder]:
        return [o for o in self.orders if o.status == OPEN]


@dataclass(frozen=True, slots=True)
class JournalOrder:
    client_order_id: str
    intent_key: str
    symbol: str
    side: str
    type: str
    qty: int
    price: int | None
    origin: str
    status: str
    broker_order_id: str | None
    filled_qty: int
    message: str | None
    created_ns: int

    @property
    def base_intent(self) -> str:
        # A re-send after a dead attempt gets "#n" appended to the same intent.
        return self.intent_key.split("#", 1)[0]

    def describe(self) -> str:
        price = "market" if self.price is None else f"@ {self.price:,}"
        broker = f" = broker {self.broker_order_id}" if self.broker_order_id else ""
        return (
            f"{self.client_order_id}{broker} {self.side} {self.qty:,} {self.symbol} {price} "
            f"[{self.status}, filled {self.filled_qty:,}] ({self.origin})"
        )


@dataclass(frozen=True, slots=True)
class JournalFill:
    fill_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: int
    price: int
    commission: int
    tax: int


@dataclass(frozen=True, slots=True)
class JournalState:
    orders: tuple[JournalOrder, ...]
    fills: tuple[JournalFill, ...]
    initial_cash: int | None
    halted: bool
    halt_reason: str
    subscriptions: tuple[str, ...] = ()
    auto_enabled: bool = False

    @property
    def unsettled(self) -> list[JournalOrder]:
        return [o for o in self.orders if o.status in ("pending", "unknown")]


def _read(db: sqlite3.Connection) -> JournalState:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    orders: list[JournalOrder] = []
    fills: list[JournalFill] = []
    state: dict[str, Any] = {}
    subs: list[str] = []
    if "orders" in tables:
        for r in db.execute(
            "SELECT client_order_id, intent_key, symbol, side, type, qty, price, origin, status, "
            "broker_order_id, filled_qty, message, created_ns FROM orders "
            "ORDER BY created_ns, rowid"
        ):
            orders.append(JournalOrder(*r))
    if "fills" in tables:
        for r in db.execute(
            "SELECT fill_id, client_order_id, symbol, side, qty, price, commission, "
            "tax FROM fills ORDER BY ts_ns, rowid"
        ):
            fills.append(JournalFill(*r))
    if "state" in tables:
        for key, value in db.execute("SELECT key, value FROM state"):
            try:
                state[key] = json.loads(value)
            except ValueError:
                state[key] = value
    if "subscriptions" in tables:
        subs = [r[0] for r in db.execute("SELECT symbol FROM subscriptions ORDER BY created_ns")]
    halt = state.get("halt")
    halt_state = halt if isinstance(halt, dict) else {}
    auto = state.get("auto")
    initial = state.get("initial_cash")
    return JournalState(
        orders=tuple(orders),
        fills=tuple(fills),
        initial_cash=initial if isinstance(initial, int) else None,
        halted=bool(halt_state.get("halted", False)),
        halt_reason=str(halt_state.get("reason", "")),
        subscriptions=tuple(subs),
        auto_enabled=bool(isinstance(auto, dict) and auto.get("watches") and not auto.get("paused")),
    )


def load_journal(path: Path) -> JournalState:
    """The journal at `path` as it would be opened now (its WAL included), read from a copy."""
    if not path.exists():
        return JournalState((), (), None, False, "")
    with tempfile.TemporaryDirectory(prefix="chaos-journal-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            # Without its -shm, SQLite rebuilds the WAL index from the log on open.
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        db = sqlite3.connect(copy)
        try:
            return _read(db)
        finally:
            db.close()


def dump_broker(state: BrokerState, path: Path) -> None:
    """Keep the broker's final record next to the journal, for diagnosis and for tests."""
    path.write_text(json.dumps(asdict(state), indent=1, ensure_ascii=False))


def load_broker(path: Path) -> BrokerState:
    raw = json.loads(path.read_text())
    return BrokerState(
        raw["broker"],
        tuple(BrokerOrder(**o) for o in raw["orders"]),
        tuple(BrokerFill(**f) for f in raw["fills"]),
        raw["cash"],
        dict(raw["positions"]),
        raw.get("fill_ids", True),
    )
