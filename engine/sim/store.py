"""SQLite persistence of the simulated account, so a restarted sim keeps its orders and money,
and of the day's 1-minute bars, so a sim restarted the same day goes on with the same chart.

Each change is one small transaction. WAL with synchronous=NORMAL makes a commit a write to the
log without an fsync, cheap enough to run on the event loop that also drives the tape.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from engine.files import private_file
from engine.sim.orders import Order
from engine.sim.protocol import BarInfo, FillInfo, OrderStatus, OrderType, Side

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    seq             INTEGER PRIMARY KEY,
    order_id        TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    type            TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    price           INTEGER,
    status          TEXT NOT NULL,
    created_ts_ns   INTEGER NOT NULL,
    filled_qty      INTEGER NOT NULL,
    fill_value      INTEGER NOT NULL,
    fills           INTEGER NOT NULL,
    reject_code     TEXT,
    message         TEXT
);
CREATE INDEX IF NOT EXISTS orders_open ON orders (status)
    WHERE status IN ('accepted', 'partially_filled');
CREATE TABLE IF NOT EXISTS fills (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    fill_id         TEXT NOT NULL UNIQUE,
    order_id        TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    price           INTEGER NOT NULL,
    commission      INTEGER NOT NULL,
    tax             INTEGER NOT NULL,
    ts_ns           INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    symbol    TEXT PRIMARY KEY,
    qty       INTEGER NOT NULL,
    avg_price REAL NOT NULL
);
-- Added after version 1 shipped: CREATE IF NOT EXISTS gives older files the table, and an
-- older sim never reads it, so the schema version stays.
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL,
    ts_ns  INTEGER NOT NULL,
    open   INTEGER NOT NULL,
    high   INTEGER NOT NULL,
    low    INTEGER NOT NULL,
    close  INTEGER NOT NULL,
    volume INTEGER NOT NULL,
    PRIMARY KEY (symbol, ts_ns)
) WITHOUT ROWID;
"""

_ORDER_COLUMNS = (
    "seq, order_id, client_order_id, symbol, side, type, qty, price, status, created_ts_ns, "
    "filled_qty, fill_value, fills, reject_code, message"
)

_UPSERT_ORDER = f"""
INSERT INTO orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (seq) DO UPDATE SET
    status = excluded.status, filled_qty = excluded.filled_qty,
    fill_value = excluded.fill_value, fills = excluded.fills,
    reject_code = excluded.reject_code, message = excluded.message
"""


@dataclass(slots=True)
class StoredState:
    cash: int
    last_order_seq: int
    orders: list[Order]
    fills: list[FillInfo]
    positions: dict[str, tuple[int, float]]


class Store:
    def __init__(self, path: Path) -> None:
        private_file(path)
        # isolation_level=None: transactions are opened explicitly, one per change.
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is not None and row[0] != _SCHEMA_VERSION:
            self._conn.close()
            raise ValueError(
                f"{path}: sim state schema version {row[0]}, this sim reads version "
                f"{_SCHEMA_VERSION}; move the file away to start a fresh account"
            )
        self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (_SCHEMA_VERSION,))

    def load(self) -> StoredState | None:
        """The saved account, or None when the file is new."""
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        if "cash" not in meta:
            return None
        orders = [
            Order(
                seq=r[0],
                order_id=r[1],
                client_order_id=r[2],
                symbol=r[3],
                side=cast(Side, r[4]),
                type=cast(OrderType, r[5]),
                qty=r[6],
                price=r[7],
                status=cast(OrderStatus, r[8]),
                created_ts_ns=r[9],
                filled_qty=r[10],
                fill_value=r[11],
                fills=r[12],
                reject_code=r[13],
                message=r[14],
            )
            for r in self._conn.execute(f"SELECT {_ORDER_COLUMNS} FROM orders ORDER BY seq")
        ]
        fills = [
            FillInfo(
                fill_id=r[0],
                order_id=r[1],
                client_order_id=r[2],
                symbol=r[3],
                side=cast(Side, r[4]),
                qty=r[5],
                price=r[6],
                commission=r[7],
                tax=r[8],
                ts_ns=r[9],
            )
            for r in self._conn.execute(
                "SELECT fill_id, order_id, client_order_id, symbol, side, qty, price, "
                "commission, tax, ts_ns FROM fills ORDER BY seq"
            )
        ]
        positions = {
            sym: (qty, avg)
            for sym, qty, avg in self._conn.execute("SELECT symbol, qty, avg_price FROM positions")
        }
        return StoredState(
            cash=meta["cash"],
            last_order_seq=meta.get("last_order_seq", 0),
            orders=orders,
            fills=fills,
            positions=positions,
        )

    def save(
        self,
        *,
        orders: Iterable[Order] = (),
        fills: Iterable[FillInfo] = (),
        cash: int | None = None,
        last_order_seq: int | None = None,
        positions: Iterable[tuple[str, int, float]] = (),
    ) -> None:
        """Write one change in one transaction. A position with qty 0 is deleted."""
        meta: list[tuple[str, int]] = []
        if cash is not None:
            meta.append(("cash", cash))
        if last_order_seq is not None:
            meta.append(("last_order_seq", last_order_seq))
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                meta,
            )
            conn.executemany(
                _UPSERT_ORDER,
                [
                    (
                        o.seq,
                        o.order_id,
                        o.client_order_id,
                        o.symbol,
                        o.side,
                        o.type,
                        o.qty,
                        o.price,
                        o.status,
                        o.created_ts_ns,
                        o.filled_qty,
                        o.fill_value,
                        o.fills,
                        o.reject_code,
                        o.message,
                    )
                    for o in orders
                ],
            )
            conn.executemany(
                "INSERT INTO fills (fill_id, order_id, client_order_id, symbol, side, qty, "
                "price, commission, tax, ts_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.fill_id,
                        f.order_id,
                        f.client_order_id,
                        f.symbol,
                        f.side,
                        f.qty,
                        f.price,
                        f.commission,
                        f.tax,
                        f.ts_ns,
                    )
                    for f in fills
                ],
            )
            for symbol, qty, avg in positions:
                if qty == 0:
                    conn.execute("DELETE FROM positions WHERE symbol = ?", (symbol,))
                else:
                    conn.execute(
                        "INSERT INTO positions (symbol, qty, avg_price) VALUES (?, ?, ?) "
                        "ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty, "
                        "avg_price = excluded.avg_price",
                        (symbol, qty, avg),
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def load_bars(self, day: int, seed: int) -> dict[str, list[BarInfo]]:
        """The bars saved for `day` (YYYYMMDD) by a tape of `seed`, per symbol, oldest first;
        none when the saved bars are of another day or another tape."""
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("bars_day") != day or meta.get("bars_seed") != seed:
            return {}
        out: dict[str, list[BarInfo]] = {}
        for r in self._conn.execute(
            "SELECT symbol, ts_ns, open, high, low, close, volume FROM bars ORDER BY symbol, ts_ns"
        ):
            out.setdefault(r[0], []).append(
                BarInfo(ts_ns=r[1], open=r[2], high=r[3], low=r[4], close=r[5], volume=r[6])
            )
        return out

    def reset_bars(self, day: int, seed: int) -> None:
        """Forget every saved bar: the bars saved from here on are `day`'s of `seed`'s tape."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.execute("DELETE FROM bars")
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [("bars_day", day), ("bars_seed", seed)],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def save_bars(self, bars: Iterable[tuple[str, BarInfo]]) -> None:
        """Insert or update bars (a minute's bar is saved again while it grows)."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT INTO bars (symbol, ts_ns, open, high, low, close, volume) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, ts_ns) DO UPDATE SET "
                "high = excluded.high, low = excluded.low, close = excluded.close, "
                "volume = excluded.volume",
                [(code, b.ts_ns, b.open, b.high, b.low, b.close, b.volume) for code, b in bars],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()
