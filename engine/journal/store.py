"""SQLite (WAL) journal, written from one dedicated thread so the event loop never waits on disk.

Every method is a coroutine that runs its statement on the journal thread and returns when the
transaction is committed. WAL with synchronous=NORMAL survives a killed process (the case that
matters for "restart loses nothing"); JOURNAL_SYNC=full also survives power loss at the cost of
an fsync per commit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from engine.clock import Clock
from engine.files import private_file
from engine.journal.records import AuditRecord, FillRecord, OrderRecord, SubscriptionRecord
from engine.ordertypes import LIVE_STATUSES, OrderStatus, Side

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    intent_key      TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    type            TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    price           INTEGER,
    origin          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    broker_order_id TEXT,
    filled_qty      INTEGER NOT NULL DEFAULT 0,
    message         TEXT,
    created_ns      INTEGER NOT NULL,
    updated_ns      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_intent ON orders(intent_key);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status);
CREATE TABLE IF NOT EXISTS fills (
    fill_id         TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    price           INTEGER NOT NULL,
    commission      INTEGER NOT NULL,
    tax             INTEGER NOT NULL,
    ts_ns           INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    symbol     TEXT PRIMARY KEY,
    strategy   TEXT NOT NULL,
    params     TEXT NOT NULL,
    qty        INTEGER,
    source     TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    sent_ns    INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(sent_ns) WHERE sent_ns IS NULL;
CREATE TABLE IF NOT EXISTS equity (
    ts_ns  INTEGER PRIMARY KEY,
    equity INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns   INTEGER NOT NULL,
    level   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    title   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    transport TEXT NOT NULL,
    command   TEXT NOT NULL,
    args      TEXT NOT NULL,
    ok        INTEGER NOT NULL,
    result    TEXT NOT NULL
);
"""

_ORDER_COLUMNS = (
    "client_order_id, intent_key, symbol, side, type, qty, price, origin, reason, status, "
    "broker_order_id, filled_qty, message, created_ns, updated_ns"
)


def _order_row(o: OrderRecord) -> tuple[Any, ...]:
    return (
        o.client_order_id,
        o.intent_key,
        o.symbol,
        o.side,
        o.type,
        o.qty,
        o.price,
        o.origin,
        o.reason,
        o.status,
        o.broker_order_id,
        o.filled_qty,
        o.message,
        o.created_ns,
        o.updated_ns,
    )


def _order(row: tuple[Any, ...]) -> OrderRecord:
    return OrderRecord(
        client_order_id=row[0],
        intent_key=row[1],
        symbol=row[2],
        side=Side(row[3]),
        type=row[4],
        qty=row[5],
        price=row[6],
        origin=row[7],
        reason=row[8],
        status=OrderStatus(row[9]),
        broker_order_id=row[10],
        filled_qty=row[11],
        message=row[12],
        created_ns=row[13],
        updated_ns=row[14],
    )


class Journal:
    def __init__(self, path: Path, sync: str = "normal", clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or Clock()
        self._sync = sync
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._db: sqlite3.Connection | None = None
        self._order_batch: list[tuple[tuple[Any, ...], asyncio.Future[None]]] = []
        self._flushes: set[asyncio.Future[None]] = set()
        self._sub_ops: list[tuple[str, tuple[Any, ...]]] = []
        self._sub_flush: asyncio.Future[None] | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("journal is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, db)

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def connect() -> sqlite3.Connection:
            private_file(self.path)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self._sync == 'full' else 'NORMAL'}")
            db.executescript(_SCHEMA)
            return db

        self._db = await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        if self._db is not None:
            await self.flush_subscriptions()
            if self._flushes:
                await asyncio.gather(*self._flushes, return_exceptions=True)
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=True)

    # ---- orders --------------------------------------------------------------------------

    async def insert_order(self, order: OrderRecord) -> None:
        """Returns once the order is committed. Inserts requested in the same moment share one
        transaction (group commit): each caller still waits for its own row to be durable."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._order_batch.append((_order_row(order), fut))
        if len(self._order_batch) == 1:
            asyncio.get_running_loop().call_soon(self._flush_orders_soon)
        await fut

    def _flush_orders_soon(self) -> None:
        batch, self._order_batch = self._order_batch, []
        rows = [row for row, _ in batch]
        sql = f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES ({', '.join('?' * 15)})"

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.executemany(sql, rows)

        def settle(done: asyncio.Future[None]) -> None:
            error = None if done.cancelled() else done.exception()
            for _, fut in batch:
                if fut.done():
                    continue
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(None)

        task = asyncio.ensure_future(self._run(write))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)
        task.add_done_callback(settle)

    async def update_order(self, order: OrderRecord) -> None:
        order.updated_ns = self.clock.time_ns()
        args = (
            order.status,
            order.broker_order_id,
            order.filled_qty,
            order.message,
            order.updated_ns,
            order.client_order_id,
        )
        await self._run(
            lambda db: db.execute(
                "UPDATE orders SET status=?, broker_order_id=?, filled_qty=?, message=?, updated_ns=? "
                "WHERE client_order_id=?",
                args,
            )
        )

    async def orders(self, live_only: bool = False) -> list[OrderRecord]:
        if live_only:
            marks = ", ".join("?" * len(LIVE_STATUSES))
            sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE status IN ({marks}) ORDER BY created_ns"
            params: tuple[Any, ...] = tuple(sorted(LIVE_STATUSES))
        else:
            sql = f"SELECT {_ORDER_COLUMNS} FROM orders ORDER BY created_ns"
            params = ()
        rows = await self._run(lambda db: db.execute(sql, params).fetchall())
        return [_order(r) for r in rows]

    # ---- fills ---------------------------------------------------------------------------

    async def record_fill(self, fill: FillRecord, order: OrderRecord) -> bool:
        """Journal a fill and its order's new state in one transaction; False on a replay.

        One transaction, so a crash can never leave a fill without its order's progress.
        """
        row = (
            fill.fill_id,
            fill.client_order_id,
            fill.symbol,
            fill.side,
            fill.qty,
            fill.price,
            fill.commission,
            fill.tax,
            fill.ts_ns,
        )
        order.updated_ns = self.clock.time_ns()
        upd = (
            order.status,
            order.broker_order_id,
            order.filled_qty,
            order.message,
            order.updated_ns,
            order.client_order_id,
        )

        def write(db: sqlite3.Connection) -> bool:
            with db:
                db.execute("BEGIN")
                cur = db.execute("INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?)", row)
                if cur.rowcount != 1:
                    return False
                db.execute(
                    "UPDATE orders SET status=?, broker_order_id=?, filled_qty=?, message=?, "
                    "updated_ns=? WHERE client_order_id=?",
                    upd,
                )
                return True

        return await self._run(write)

    async def fills(self) -> list[FillRecord]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT fill_id, client_order_id, symbol, side, qty, price, commission, tax, ts_ns "
                "FROM fills ORDER BY ts_ns, rowid"
            ).fetchall()
        )
        return [FillRecord(r[0], r[1], r[2], Side(r[3]), *r[4:]) for r in rows]

    # ---- subscriptions -------------------------------------------------------------------

    def subscription_changed(self, sub: SubscriptionRecord | None, symbol: str) -> None:
        """Write-behind for subscription changes: kept in order and committed on the next loop
        turn in one transaction, so subscribing and cancelling never wait on the disk. Only
        subscriptions are written this way (a crash can lose the last few milliseconds of
        subscription changes, never an order or a fill); reads and close() flush first."""
        if sub is None:
            self._sub_ops.append(("DELETE FROM subscriptions WHERE symbol=?", (symbol,)))
        else:
            self._sub_ops.append(
                (
                    "INSERT OR REPLACE INTO subscriptions VALUES (?,?,?,?,?,?)",
                    (sub.symbol, sub.strategy, json.dumps(sub.params), sub.qty, sub.source, sub.created_ns),
                )
            )
        if self._sub_flush is None or self._sub_flush.done():
            self._sub_flush = asyncio.ensure_future(self._flush_subscriptions())

    async def _flush_subscriptions(self) -> None:
        await asyncio.sleep(0)  # gather what this loop turn adds
        while self._sub_ops:
            ops, self._sub_ops = self._sub_ops, []

            def write(db: sqlite3.Connection, ops: list[tuple[str, tuple[Any, ...]]] = ops) -> None:
                with db:
                    db.execute("BEGIN")
                    for sql, args in ops:
                        db.execute(sql, args)

            await self._run(write)

    async def flush_subscriptions(self) -> None:
        while self._sub_flush is not None and not self._sub_flush.done():
            await asyncio.shield(self._sub_flush)

    async def subscriptions(self) -> list[SubscriptionRecord]:
        await self.flush_subscriptions()
        rows = await self._run(
            lambda db: db.execute(
                "SELECT symbol, strategy, params, qty, source, created_ns FROM subscriptions "
                "ORDER BY created_ns"
            ).fetchall()
        )
        return [SubscriptionRecord(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    # ---- state ---------------------------------------------------------------------------

    async def set_state(self, key: str, value: Any) -> None:
        row = (key, json.dumps(value))
        await self._run(lambda db: db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", row))

    async def get_state(self, key: str, default: Any = None) -> Any:
        row = await self._run(lambda db: db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone())
        return default if row is None else json.loads(row[0])

    # ---- outbox: messages for a transport that has not delivered them yet ----------------

    async def outbox_add(self, channel: str, payloads: list[dict[str, Any]]) -> list[int]:
        """Keep messages before trying to deliver them; returns their ids in order."""
        now = self.clock.time_ns()

        def add(db: sqlite3.Connection) -> list[int]:
            # Encoded here, on the journal thread: a burst's JSON stays off the event loop.
            rows = [(channel, json.dumps(p, ensure_ascii=False), now) for p in payloads]
            with db:
                db.execute("BEGIN")
                return [
                    db.execute(
                        "INSERT INTO outbox (channel, payload, created_ns) VALUES (?,?,?)", row
                    ).lastrowid
                    or 0
                    for row in rows
                ]

        return await self._run(add)

    async def outbox_sent(self, ids: list[int]) -> None:
        now = self.clock.time_ns()
        args = [(now, i) for i in ids]

        def mark(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.executemany("UPDATE outbox SET sent_ns=? WHERE id=?", args)

        await self._run(mark)

    async def outbox_pending(self) -> list[tuple[int, str, dict[str, Any], int]]:
        """(id, channel, payload, created_ns) of every undelivered message, oldest first."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT id, channel, payload, created_ns FROM outbox WHERE sent_ns IS NULL ORDER BY id"
            ).fetchall()
        )
        return [(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    # ---- equity samples and alerts, for the daily report -----------------------------------

    async def add_equity(self, ts_ns: int, equity: int) -> None:
        await self._run(lambda db: db.execute("INSERT OR REPLACE INTO equity VALUES (?, ?)", (ts_ns, equity)))

    async def equity_between(self, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT ts_ns, equity FROM equity WHERE ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns",
                (start_ns, end_ns),
            ).fetchall()
        )
        return [(r[0], r[1]) for r in rows]

    async def add_alert(self, ts_ns: int, level: str, kind: str, title: str, message: str) -> None:
        row = (ts_ns, level, kind, title, message)
        await self._run(
            lambda db: db.execute(
                "INSERT INTO alerts (ts_ns, level, kind, title, message) VALUES (?,?,?,?,?)", row
            )
        )

    async def alerts_between(self, start_ns: int, end_ns: int) -> list[tuple[int, str, str, str, str]]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT ts_ns, level, kind, title, message FROM alerts WHERE ts_ns >= ? AND ts_ns < ? "
                "ORDER BY id",
                (start_ns, end_ns),
            ).fetchall()
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    # ---- audit ---------------------------------------------------------------------------

    async def audit(self, record: AuditRecord) -> None:
        row = (
            record.ts_ns,
            record.actor,
            record.transport,
            record.command,
            record.args,
            int(record.ok),
            record.result,
        )
        await self._run(
            lambda db: db.execute(
                "INSERT INTO audit (ts_ns, actor, transport, command, args, ok, result) "
                "VALUES (?,?,?,?,?,?,?)",
                row,
            )
        )

    async def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT ts_ns, actor, transport, command, args, ok, result FROM audit "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        )
        return [AuditRecord(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]
