"""The simulated exchange's server: HTTP endpoints and the websocket feed on one aiohttp port.

One background task runs the tape: every few milliseconds it advances the market, fills
resting orders, adds the trades to the day's 1-minute bars, evaluates the condition search and
queues frames for each connection. Each connection has its own queue and writer task, so a slow
reader delays only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from engine.clock import Clock, seoul_date
from engine.krx.prices import daily_limits
from engine.krx.universe import BY_CODE
from engine.sim.account import NotCancellable, OrderNotFound, SimAccount
from engine.sim.bars import BarBook, history_start_ns
from engine.sim.conditions import ConditionSearch, UnknownCondition
from engine.sim.config import SimConfig
from engine.sim.market import MINUTE_NS, Market
from engine.sim.orders import Malformed, decode_request
from engine.sim.protocol import (
    AccountSubscribe,
    Ack,
    BarInfo,
    Condition,
    ConditionEventsRequest,
    ConditionSubscribe,
    ConditionUnsubscribe,
    Error,
    ErrorBody,
    Heartbeat,
    OrderEvent,
    Ping,
    Pong,
    Stats,
    Subscribe,
    SymbolInfo,
    TickRow,
    Ticks,
    Unsubscribe,
    client_message_decoder,
)
from engine.sim.store import Store

log = logging.getLogger(__name__)

# Tape step: short enough that a tick reaches clients within ~20 ms of being printed.
STEP_S = 0.015
# After a stall (a debugger, a suspended laptop) the tape skips time instead of printing
# minutes of trades in one burst.
MAX_STEP_DT_S = 0.25
# How long a websocket close may wait for the peer before the transport is dropped.
CLOSE_TIMEOUT_S = 2.0
# Bound on the tape's error log: a bug that fails every step must not flood stderr.
ERROR_LOG_INTERVAL_S = 1.0

VALID_MESSAGES = (
    '{"op":"subscribe","symbols":["005930"]}, {"op":"unsubscribe","symbols":["005930"]}, '
    '{"op":"condition_subscribe","name":"momentum"}, {"op":"condition_subscribe","id":"0"}, '
    '{"op":"condition_unsubscribe","name":"momentum"}, {"op":"condition_unsubscribe","id":"0"}, '
    '{"op":"account_subscribe"}, '
    '{"op":"ping","id":1}'
)


class InjectResult(msgspec.Struct, kw_only=True):
    """Answer of POST /admin/condition_events (the protocol leaves it open)."""

    name: str
    id: str = ""
    count: int
    first_seq: int | None
    last_seq: int | None


class DropResult(msgspec.Struct, kw_only=True):
    closed: int


_encoder = msgspec.json.Encoder()


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(obj), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(ErrorBody(code=code, message=message), status)


class _Connection:
    __slots__ = (
        "account",
        "close_request",
        "closing",
        "conditions",
        "finished",
        "queue",
        "sub_key",
        "symbols",
        "writer",
        "ws",
    )

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        # (close code, reason): set to make the connection's handler close it.
        self.close_request: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        # Set once the handler is done with the connection, so a closer can wait for it.
        self.finished = asyncio.Event()
        # (encoded frame, tick rows in it)
        self.queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
        self.symbols: set[str] = set()
        # Frozen copy of `symbols`: the key under which a step's Ticks frame is encoded once
        # and shared by every connection with the same subscriptions.
        self.sub_key: frozenset[str] = frozenset()
        self.conditions: set[str] = set()
        self.account = False
        self.closing = False
        self.writer: asyncio.Task[None] | None = None


async def _cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    # wait() rather than `await task`: it does not re-raise the task's CancelledError, which
    # would be indistinguishable from a cancellation of the caller itself.
    await asyncio.wait([task])


class SimExchange:
    """The simulated KRX exchange. `await start()`, then use `url` / `ws_url`; `await stop()`."""

    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config if config is not None else SimConfig()
        self.clock = clock or Clock()
        self.market = Market.from_config(self.config)
        cfg = self.config
        self.conditions = ConditionSearch(
            {code: BY_CODE[code].prev_close for code in self.market.codes},
            cfg.condition_threshold_pct,
            opens={code: self.market.state(code).open for code in self.market.codes},
            riser_pct=cfg.riser_threshold_pct,
            surge_ratio=cfg.surge_ratio,
            surge_s=cfg.surge_s,
        )
        # Filled when the exchange starts: the history needs to know what time it is.
        self.bars = BarBook(self.market.codes)
        # The earliest minute whose bars changed since they were last saved.
        self._bars_unsaved_from = 0
        self._account: SimAccount | None = None
        self._store: Store | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._tape: asyncio.Task[None] | None = None
        self._conns: set[_Connection] = set()
        self._order_requests = 0
        self._duplicate_requests = 0
        self._ticks_sent = 0
        self._last_error_log = 0.0
        self._suppressed_errors = 0

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("SimExchange is already running")
        cfg = self.config
        if cfg.state_path is not None:
            self._store = Store(cfg.state_path)
        try:
            if self._store is not None or self._account is None:
                # With a store the account is reloaded from it, so a restart sees what was saved.
                self._account = SimAccount(
                    {code: BY_CODE[code] for code in self.market.codes},
                    initial_cash=cfg.initial_cash,
                    commission_rate=cfg.commission_rate,
                    store=self._store,
                    today=self.clock.today,
                )
            self._start_bars()
        except BaseException:
            self._close_store()
            raise
        app = web.Application(middlewares=[self._errors_middleware])
        app.router.add_get("/health", self._health)
        app.router.add_get("/symbols", self._symbols)
        app.router.add_get("/bars", self._get_bars)
        app.router.add_get("/conditions", self._conditions)
        app.router.add_post("/orders", self._post_order)
        app.router.add_get("/orders", self._list_orders)
        app.router.add_get("/orders/{order_id}", self._get_order)
        app.router.add_delete("/orders/{order_id}", self._cancel_order)
        app.router.add_get("/account", self._get_account)
        app.router.add_get("/fills", self._get_fills)
        app.router.add_post("/admin/condition_events", self._inject_conditions)
        app.router.add_post("/admin/drop_connections", self._drop_connections)
        app.router.add_get("/admin/stats", self._stats)
        app.router.add_get("/ws", self._ws_handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._close_store()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._tape = asyncio.create_task(self._run_tape(), name="sim-tape")
        log.info(
            "sim serving %s: %d symbols, %.3g trades/s each, seed %d",
            self.url,
            len(self.market.codes),
            cfg.tick_rate * cfg.speed,
            cfg.seed,
        )

    async def stop(self) -> None:
        """Stop serving: closes every websocket, stops the tape and closes the state file."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        tape, self._tape = self._tape, None
        await _cancel_and_wait(tape)
        await self._close_all(WSCloseCode.GOING_AWAY, "simulator stopping", wait=True)
        await runner.cleanup()
        try:
            self._save_bars()
        finally:
            self._close_store()
        self._port = None
        log.info("sim stopped")

    # ---- the day's bars --------------------------------------------------------------------

    def _start_bars(self) -> None:
        """Bring every symbol's bars up to now: the saved bars of today when the state file has
        them, then the history walked from the day's start (or from the last bar, after a
        restart) to now, so the live tape begins where the bars end."""
        now_ns = self.clock.time_ns()
        market, book, store = self.market, self.bars, self._store
        if store is not None and not any(book.bars(code) for code in market.codes):
            day = seoul_date(now_ns)
            day_key = day.year * 10_000 + day.month * 100 + day.day
            saved = {
                code: bars
                for code, bars in store.load_bars(day_key, self.config.seed).items()
                if code in market
            }
            # The tape's seed fixes each open; a clock set back finds bars from its future.
            if all(
                bars[0].open == market.state(code).open and bars[-1].ts_ns <= now_ns
                for code, bars in saved.items()
            ):
                now_minute = now_ns - now_ns % MINUTE_NS
                for code, bars in saved.items():
                    market.restore(code, bars, carry_on=bars[-1].ts_ns == now_minute)
                    book.extend(code, bars)
            else:
                saved = {}
            if not saved:
                store.reset_bars(day_key, self.config.seed)
        start = history_start_ns(now_ns)
        now_minute = now_ns - now_ns % MINUTE_NS
        walked: list[tuple[str, BarInfo]] = []
        for code in market.codes:
            bars = book.bars(code)
            if not bars:
                rng = market.history_rng(code)
                new = market.walk_minutes(code, start, now_ns, rng, market.state(code).open)
            elif bars[-1].ts_ns < now_minute:
                first = bars[-1].ts_ns + MINUTE_NS
                rng = market.history_rng(code, first)
                new = market.walk_minutes(code, first, now_ns, rng, bars[-1].close)
            else:
                continue
            book.extend(code, new)
            walked.extend((code, bar) for bar in new)
        if store is not None:
            store.save_bars(walked)
        self._bars_unsaved_from = now_minute

    def _save_bars(self) -> None:
        if self._store is not None:
            self._store.save_bars(self.bars.since(self._bars_unsaved_from))

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def __aenter__(self) -> SimExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SimExchange is not running: await start() first")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def account(self) -> SimAccount:
        if self._account is None:
            raise RuntimeError("SimExchange is not running: await start() first")
        return self._account

    def stats(self) -> Stats:
        subs: Counter[str] = Counter()
        for conn in self._conns:
            subs.update(conn.symbols)
        return Stats(
            connections=len(self._conns),
            subscriptions=dict(sorted(subs.items())),
            orders=self._account.order_count if self._account is not None else 0,
            order_requests=self._order_requests,
            duplicate_requests=self._duplicate_requests,
            ticks_sent=self._ticks_sent,
        )

    # ---- the tape --------------------------------------------------------------------------

    async def _run_tape(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        next_heartbeat = last + self.config.heartbeat_interval
        while True:
            await asyncio.sleep(STEP_S)
            now = loop.time()
            dt = min(now - last, MAX_STEP_DT_S)
            last = now
            if now >= next_heartbeat:
                next_heartbeat = now + self.config.heartbeat_interval
                self._broadcast(_encoder.encode(Heartbeat(ts_ns=self.clock.time_ns())))
            try:
                self._step(dt, now)
            except Exception:
                # Keep the market running: one bad step must not silence the feed, but every
                # failure is reported.
                if now - self._last_error_log >= ERROR_LOG_INTERVAL_S:
                    log.exception(
                        "tape step failed (%d similar failures not logged since the last)",
                        self._suppressed_errors,
                    )
                    self._last_error_log = now
                    self._suppressed_errors = 0
                else:
                    self._suppressed_errors += 1

    def _step(self, dt: float, now: float) -> None:
        now_ns = self.clock.time_ns()
        rows = self.market.advance(dt, now_ns)
        if not rows:
            return
        self.bars.add(rows)
        minute = now_ns - now_ns % MINUTE_NS
        if minute > self._bars_unsaved_from and self._store is not None:
            # A minute is saved once it is complete, and stop() saves the partial one: a crash
            # loses at most the minute it happened in.
            self._save_bars()
            self._bars_unsaved_from = minute
        account = self.account
        fills: list[OrderEvent] = []
        for row in rows:
            fills.extend(account.on_trade(row))
        transitions = self.conditions.on_ticks(rows, now)
        self._send_ticks(rows)
        self._send_order_events(fills)
        self._send_conditions(transitions)

    def _send_ticks(self, rows: list[TickRow]) -> None:
        frames: dict[frozenset[str], tuple[bytes, int] | None] = {}
        for conn in self._conns:
            if not conn.sub_key:
                continue
            if conn.sub_key in frames:
                frame = frames[conn.sub_key]
            else:
                mine = [r for r in rows if r.symbol in conn.sub_key]
                frame = (_encoder.encode(Ticks(data=mine)), len(mine)) if mine else None
                frames[conn.sub_key] = frame
            if frame is not None:
                self._send(conn, *frame)

    def _send_order_events(self, events: Iterable[OrderEvent]) -> None:
        targets = [c for c in self._conns if c.account]
        if not targets:
            return
        for ev in events:
            data = _encoder.encode(ev)
            for conn in targets:
                self._send(conn, data)

    def _send_conditions(self, events: Iterable[Condition]) -> None:
        for ev in events:
            data: bytes | None = None
            for conn in self._conns:
                if ev.name in conn.conditions:
                    data = data or _encoder.encode(ev)
                    self._send(conn, data)

    def _broadcast(self, data: bytes) -> None:
        for conn in list(self._conns):
            self._send(conn, data)

    # ---- connections -----------------------------------------------------------------------

    def _send(self, conn: _Connection, data: bytes, rows: int = 0) -> None:
        if conn.closing:
            return
        if conn.queue.qsize() >= self.config.max_backlog:
            reason = f"send backlog over {self.config.max_backlog} frames: client too slow"
            log.warning("closing a websocket: %s", reason)
            self._close_later(conn, WSCloseCode.POLICY_VIOLATION, reason)
            return
        conn.queue.put_nowait((data, rows))

    async def _write_loop(self, conn: _Connection) -> None:
        try:
            while True:
                data, rows = await conn.queue.get()
                await conn.ws.send_frame(data, WSMsgType.TEXT)
                self._ticks_sent += rows
        except ConnectionError:
            # The peer went away; the connection's reader sees it and the handler cleans up.
            conn.closing = True
        except Exception:
            log.exception("websocket writer failed; closing the connection")
            self._close_later(conn, WSCloseCode.INTERNAL_ERROR, "simulator send error")

    def _close_later(self, conn: _Connection, code: int, reason: str) -> None:
        conn.closing = True
        if not conn.close_request.done():
            conn.close_request.set_result((code, reason))

    async def _close_all(self, code: int, reason: str, *, wait: bool) -> int:
        """Ask every connection's handler to close it; with `wait`, until all have finished
        (each handler bounds its own close handshake by CLOSE_TIMEOUT_S)."""
        conns = [c for c in self._conns if not c.close_request.done()]
        for conn in conns:
            self._close_later(conn, code, reason)
        if wait:
            waits = [asyncio.ensure_future(c.finished.wait()) for c in self._conns]
            if waits:
                _, pending = await asyncio.wait(waits, timeout=2 * CLOSE_TIMEOUT_S)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)
                    log.warning("%d websocket(s) did not finish closing", len(pending))
        return len(conns)

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        # Compression would cost more CPU than it saves on a local socket.
        ws = web.WebSocketResponse(compress=False, timeout=CLOSE_TIMEOUT_S)
        await ws.prepare(request)
        conn = _Connection(ws)
        conn.writer = asyncio.create_task(self._write_loop(conn), name="sim-ws-writer")
        reader = asyncio.create_task(self._read_loop(conn), name="sim-ws-reader")
        self._conns.add(conn)
        either: list[asyncio.Future[Any]] = [reader, conn.close_request]
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._conns.discard(conn)
            conn.closing = True
            await _cancel_and_wait(reader)
            await _cancel_and_wait(conn.writer)
            if conn.close_request.done() and not ws.closed:
                # Closing here, with no reader running, lets aiohttp wait for the client's
                # close frame: the client sees our code and reason, not an abnormal closure.
                code, reason = conn.close_request.result()
                # A close reason is at most 123 bytes (RFC 6455).
                message = reason.encode()[:123]
                # On timeout aiohttp aborts the transport itself.
                with contextlib.suppress(TimeoutError, ConnectionError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await ws.close(code=code, message=message)
            conn.finished.set()
        return ws

    async def _read_loop(self, conn: _Connection) -> None:
        async for msg in conn.ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    self._on_message(conn, msg.data)
                except Exception:
                    # A bug handling one message must not cut the client off its feed.
                    log.exception("handling a websocket message failed: %.200r", msg.data)
                    self._reply(
                        conn,
                        Error(
                            op="?", code="internal", message="internal error in the simulator; see its log"
                        ),
                    )

    def _on_message(self, conn: _Connection, raw: str | bytes) -> None:
        try:
            msg = client_message_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            self._reply(
                conn,
                Error(
                    op="?",
                    code="bad_message",
                    message=f"could not read the message ({exc}); valid messages: {VALID_MESSAGES}",
                ),
            )
            return
        match msg:
            case Subscribe(symbols=symbols) | Unsubscribe(symbols=symbols):
                op = "subscribe" if isinstance(msg, Subscribe) else "unsubscribe"
                for symbol in symbols:
                    if symbol not in self.market:
                        self._reply(
                            conn,
                            Error(
                                op=op,
                                code="unknown_symbol",
                                message=f"unknown symbol {symbol!r}: this simulator trades "
                                f"{', '.join(self.market.codes)}",
                                symbol=symbol,
                            ),
                        )
                        continue
                    if op == "subscribe":
                        conn.symbols.add(symbol)
                    else:
                        conn.symbols.discard(symbol)
                    self._reply(conn, Ack(op=op, symbol=symbol))
                conn.sub_key = frozenset(conn.symbols)
            case ConditionSubscribe(name=name, id=cid) | ConditionUnsubscribe(name=name, id=cid):
                op = "condition_subscribe" if isinstance(msg, ConditionSubscribe) else "condition_unsubscribe"
                try:
                    info = self.conditions.resolve(name, cid)
                except UnknownCondition as exc:
                    self._reply(conn, Error(op=op, code="unknown_condition", message=exc.message))
                    return
                except ValueError as exc:
                    self._reply(
                        conn,
                        Error(op=op, code="bad_message", message=f"{exc}; valid messages: {VALID_MESSAGES}"),
                    )
                    return
                # Echo the keys as sent: the client matches the ack to its request by them.
                ack = Ack(op=op, name=name, id=cid)
                if op == "condition_subscribe":
                    conn.conditions.add(info.name)
                    self._reply(conn, ack)
                    for ev in self.conditions.snapshot(info.name):
                        self._reply(conn, ev)
                else:
                    conn.conditions.discard(info.name)
                    self._reply(conn, ack)
            case AccountSubscribe():
                conn.account = True
                self._reply(conn, Ack(op="account_subscribe"))
            case Ping(id=ping_id):
                self._reply(conn, Pong(id=ping_id))

    def _reply(self, conn: _Connection, msg: msgspec.Struct) -> None:
        self._send(conn, _encoder.encode(msg))

    # ---- HTTP ------------------------------------------------------------------------------

    @web.middleware
    async def _errors_middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        # Every error a client sees is an ErrorBody, so one decoder handles them all.
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = "not_found" if exc.status == 404 else exc.reason.lower().replace(" ", "_")
            return _error(exc.status, code, f"{request.method} {request.path}: {exc.reason}")
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _error(500, "internal", "internal error in the simulator; see its log")

    async def _health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def _symbols(self, request: web.Request) -> web.Response:
        out = []
        for code in self.market.codes:
            st = self.market.state(code)
            lst = st.listing
            limits = daily_limits(lst.prev_close)
            out.append(
                SymbolInfo(
                    code=code,
                    name=lst.name,
                    market=lst.market.value,
                    prev_close=lst.prev_close,
                    prev_high=lst.prev_high,
                    prev_low=lst.prev_low,
                    open=st.open,
                    last=st.last,
                    upper_limit=limits.upper,
                    lower_limit=limits.lower,
                )
            )
        return _json(out)

    async def _get_bars(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol")
        if not symbol:
            return _error(400, "malformed", "GET /bars needs a symbol: /bars?symbol=005930")
        if symbol not in self.market:
            return _error(
                404,
                "unknown_symbol",
                f"unknown symbol {symbol!r}: this simulator trades {', '.join(self.market.codes)}",
            )
        return _json(self.bars.bars(symbol))

    async def _conditions(self, request: web.Request) -> web.Response:
        return _json(self.conditions.infos())

    async def _post_order(self, request: web.Request) -> web.Response:
        self._order_requests += 1
        body = await request.read()
        try:
            req = decode_request(body)
            placed = self.account.place(req, self.clock.time_ns())
        except Malformed as exc:
            return _error(400, "malformed", str(exc))
        if placed.duplicate:
            self._duplicate_requests += 1
        self._send_order_events(placed.events)
        return _json(placed.order.info(duplicate=placed.duplicate))

    async def _list_orders(self, request: web.Request) -> web.Response:
        status = request.query.get("status", "all")
        if status not in ("open", "all"):
            return _error(400, "bad_status", f"status must be open or all, got {status!r}")
        client_order_id = request.query.get("client_order_id")
        if client_order_id is not None:
            order = self.account.by_client_id(client_order_id)
            orders = [] if order is None or (status == "open" and not order.is_open) else [order]
        else:
            orders = self.account.orders("open" if status == "open" else "all")
        return _json([o.info() for o in orders])

    async def _get_order(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        order = self.account.get(order_id)
        if order is None:
            return _error(404, "order_not_found", OrderNotFound(order_id).message)
        return _json(order.info())

    async def _cancel_order(self, request: web.Request) -> web.Response:
        try:
            order, event = self.account.cancel(request.match_info["order_id"], self.clock.time_ns())
        except OrderNotFound as exc:
            return _error(404, "order_not_found", exc.message)
        except NotCancellable as exc:
            return _error(409, "not_cancellable", exc.message)
        self._send_order_events([event])
        return _json(order.info())

    async def _get_account(self, request: web.Request) -> web.Response:
        return _json(self.account.snapshot())

    async def _get_fills(self, request: web.Request) -> web.Response:
        return _json(self.account.fills())

    async def _inject_conditions(self, request: web.Request) -> web.Response:
        try:
            req = msgspec.json.decode(await request.read(), type=ConditionEventsRequest)
        except msgspec.DecodeError as exc:
            return _error(
                400,
                "malformed",
                f"invalid condition events ({exc}); expected "
                '{"name": str, "events": [{"symbol": str, "event": "enter"|"leave"}]} '
                '(or "id": str instead of "name")',
            )
        unknown = sorted({ev.symbol for ev in req.events if ev.symbol not in self.market})
        if unknown:
            return _error(
                400,
                "unknown_symbol",
                f"unknown symbol(s) {', '.join(unknown)}: this simulator trades "
                f"{', '.join(self.market.codes)}",
            )
        try:
            info = self.conditions.resolve(req.name, req.id)
        except UnknownCondition as exc:
            return _error(404, "unknown_condition", exc.message)
        except ValueError as exc:
            return _error(400, "malformed", f'{exc}: give "name" or "id"')
        # Synchronous from here to the last send: no tape step can interleave, so the injected
        # events get consecutive seqs and reach clients in the order given.
        events = self.conditions.inject(info.name, req.events, self.clock.time_ns())
        self._send_conditions(events)
        return _json(
            InjectResult(
                name=info.name,
                id=info.id,
                count=len(events),
                first_seq=events[0].seq if events else None,
                last_seq=events[-1].seq if events else None,
            )
        )

    async def _drop_connections(self, request: web.Request) -> web.Response:
        # Not waiting for the close handshakes: a client that is itself waiting for this
        # response would only answer its close frame after it, and stall both sides.
        closed = await self._close_all(
            WSCloseCode.SERVICE_RESTART, "dropped by /admin/drop_connections", wait=False
        )
        return _json(DropResult(closed=closed))

    async def _stats(self, request: web.Request) -> web.Response:
        return _json(self.stats())


__all__ = ["SimExchange"]
