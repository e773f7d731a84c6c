"""Load generator for the feed benchmarks: a server speaking the sim exchange's protocol.

    python -m engine.bench.blast --port 0 --symbols 500 --rate max --batch 200 --seconds 10

Same wire protocol as engine.sim (one websocket at /ws with subscribe acks, Ticks frames of
several positional rows, Heartbeat; JSON text frames) plus the minimal HTTP the SimBroker needs
(/symbols, /account, /fills, /orders, /conditions, POST /orders -> accepted), so the real Engine
and SimBroker run against it unchanged.

Frames are encoded once at start-up with a 19-digit placeholder in every row's ts_ns; at send
time one bytes.replace stamps the current time.time_ns() (same width, so the frame is built once
and only patched). Each connection gets its own stream once it has subscribed every symbol:
`--seconds` long, at `--rate` ticks/s (frames paced on the monotonic clock), or as fast as the
socket drains for `--rate max`. Rows go round-robin over the symbols, so each symbol gets
rate/N ticks/s. Prices stay below the breakout target (open + 0.5 x range), so the real strategy
runs its whole per-tick check without entering.

POST /orders records (client_order_id, receive time.time_ns()) for the latency measurement:
GET /admin/orders returns them, GET /admin/stats counts. Prints `BLAST LISTENING <url>`.
The process ends by itself after --lifetime seconds (a benchmark never leaves a server behind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from engine.krx.prices import daily_limits
from engine.sim import protocol as wire

PLACEHOLDER = 9_999_999_999_999_999_999  # 19 digits like any time.time_ns() until 2286
_PLACEHOLDER_BYTES = str(PLACEHOLDER).encode()
HEARTBEAT_S = 2.0
PREV_CLOSE = 30_000  # tick 50 between 20,000 and 50,000
PREV_HIGH = 31_000
PREV_LOW = 29_000
# Trades print between 29,000 and 30,950: below the default breakout target (31,000).
PRICES = tuple(range(29_000, 31_000, 50))
# Distinct frames cycled through: enough that prices vary, few enough to build in well under 1 s.
MAX_DISTINCT_FRAMES = 256

_encoder = msgspec.json.Encoder()
_client_decoder = wire.client_message_decoder


def symbol_code(i: int) -> str:
    """Synthetic but valid KRX short codes: 100000, 100001, ..."""
    return f"{100000 + i:06d}"


def symbol_infos(n: int) -> list[wire.SymbolInfo]:
    limits = daily_limits(PREV_CLOSE)
    return [
        wire.SymbolInfo(
            code=symbol_code(i),
            name=f"BENCH{i:04d}",
            market="KOSPI",
            prev_close=PREV_CLOSE,
            prev_high=PREV_HIGH,
            prev_low=PREV_LOW,
            open=PREV_CLOSE,
            last=PREV_CLOSE,
            upper_limit=limits.upper,
            lower_limit=limits.lower,
        )
        for i in range(n)
    ]


def build_frames(symbols: list[str], batch: int, seed: int = 1) -> list[bytes]:
    """Ticks frames (JSON payloads) covering the symbols round-robin, ts_ns a placeholder."""
    rng = random.Random(seed)
    n = len(symbols)
    # Cycle length: every symbol gets the same share; bounded so start-up stays fast.
    count = max(1, min(MAX_DISTINCT_FRAMES, (n * 8 + batch - 1) // batch))
    volume = dict.fromkeys(symbols, 0)
    frames = []
    idx = 0
    for _ in range(count):
        rows = []
        for _ in range(batch):
            sym = symbols[idx % n]
            idx += 1
            qty = rng.randint(1, 50)
            volume[sym] += qty
            rows.append(
                wire.TickRow(sym, PLACEHOLDER, rng.choice(PRICES), qty, rng.choice((1, -1)), volume[sym])
            )
        frames.append(_encoder.encode(wire.Ticks(data=rows)))
    return frames


class _Conn:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.symbols: set[str] = set()
        self.streaming = False
        self.account = False
        self.ticks_sent = 0
        self.frames_sent = 0
        self.stream_task: asyncio.Task[None] | None = None


class Blast:
    def __init__(
        self,
        symbols: int,
        rate: float | None,
        batch: int,
        seconds: float,
        seed: int = 1,
        cancel_after: float | None = 0.005,
    ) -> None:
        self.cancel_after = cancel_after
        self.codes = [symbol_code(i) for i in range(symbols)]
        self.code_set = frozenset(self.codes)
        self.infos = symbol_infos(symbols)
        self.rate = rate  # None: as fast as the socket takes it
        self.batch = batch
        self.seconds = seconds
        self.frames = build_frames(self.codes, batch, seed)
        self.conns: set[_Conn] = set()
        self.orders: list[tuple[str, int]] = []  # (client_order_id, receive time_ns)
        self.order_requests = 0
        self.ticks_sent = 0
        self.streams = 0
        self._order_seq = itertools.count(1)
        self._background: set[asyncio.Future[None]] = set()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_arrival])
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/health", _static({"status": "ok"}))
        app.router.add_get("/symbols", _static(self.infos))
        app.router.add_get("/conditions", _static([]))
        # Cash is never the limit in a benchmark.
        app.router.add_get("/account", _static(wire.Account(cash=10**15, positions=[])))
        app.router.add_get("/fills", _static([]))
        app.router.add_get("/orders", _static([]))
        app.router.add_post("/orders", self._post_order)
        app.router.add_get("/orders/{order_id}", self._get_order)
        app.router.add_delete("/orders/{order_id}", self._get_order)
        app.router.add_get("/admin/orders", self._admin_orders)
        app.router.add_get("/admin/stats", self._stats)
        return app

    # ---- HTTP ----------------------------------------------------------------------------

    async def _post_order(self, request: web.Request) -> web.Response:
        # When the request's first bytes reached this process (see _stamp_arrivals), not when
        # aiohttp got round to the handler: the engine is not charged for the generator's work.
        recv_ns: int = request["recv_ns"]
        self.order_requests += 1
        body = await request.read()
        try:
            req = msgspec.json.decode(body, type=wire.OrderRequest)
        except msgspec.DecodeError as exc:
            return _json(wire.ErrorBody("bad_request", str(exc)), status=400)
        self.orders.append((req.client_order_id, recv_ns))
        order_id = f"B{next(self._order_seq):08d}"
        if self.cancel_after is not None:
            # Like an unfilled IOC order: the account channel reports it cancelled a moment
            # later, so the client's open orders (and what its risk checks scan) stay few.
            asyncio.get_running_loop().call_later(self.cancel_after, self._cancelled, req, order_id)
        return _json(
            wire.OrderInfo(
                order_id=order_id,
                client_order_id=req.client_order_id,
                symbol=req.symbol,
                side=req.side,
                type=req.type,
                qty=req.qty,
                price=req.price,
                status="accepted",
                filled_qty=0,
                avg_fill_price=0.0,
                created_ts_ns=recv_ns,
            )
        )

    def _cancelled(self, req: wire.OrderRequest, order_id: str) -> None:
        event = _encoder.encode(
            wire.OrderEvent(
                event="cancelled",
                order_id=order_id,
                client_order_id=req.client_order_id,
                symbol=req.symbol,
                side=req.side,
                qty=req.qty,
                price=req.price,
                status="cancelled",
                filled_qty=0,
                message="unfilled (load generator)",
                ts_ns=time.time_ns(),
            )
        )
        for conn in self.conns:
            if conn.account and not conn.ws.closed:
                task = asyncio.ensure_future(conn.ws.send_frame(event, WSMsgType.TEXT))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _get_order(self, request: web.Request) -> web.Response:
        return _json(wire.ErrorBody("not_found", "the load generator keeps no orders"), status=404)

    async def _admin_orders(self, request: web.Request) -> web.Response:
        return _json(self.orders)

    async def _stats(self, request: web.Request) -> web.Response:
        return _json(
            {
                "connections": len(self.conns),
                "streams": self.streams,
                "ticks_sent": self.ticks_sent,
                "order_requests": self.order_requests,
            }
        )

    # ---- websocket -----------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws)
        self.conns.add(conn)
        beat = asyncio.create_task(self._heartbeat(conn))
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_message(conn, msg.data)
        finally:
            self.conns.discard(conn)
            beat.cancel()
            if conn.stream_task is not None:
                conn.stream_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        return ws

    async def _on_message(self, conn: _Conn, raw: str | bytes) -> None:
        try:
            msg = _client_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            await self._send(conn, wire.Error(op="?", code="bad_message", message=str(exc)))
            return
        if isinstance(msg, wire.Subscribe | wire.Unsubscribe):
            op = "subscribe" if isinstance(msg, wire.Subscribe) else "unsubscribe"
            out: list[msgspec.Struct] = []
            for symbol in msg.symbols:
                if symbol not in self.code_set:
                    out.append(
                        wire.Error(
                            op=op, code="unknown_symbol", symbol=symbol, message=f"unknown symbol {symbol!r}"
                        )
                    )
                    continue
                if op == "subscribe":
                    conn.symbols.add(symbol)
                else:
                    conn.symbols.discard(symbol)
                out.append(wire.Ack(op=op, symbol=symbol))
            for reply in out:
                await self._send(conn, reply)
            if not conn.streaming and len(conn.symbols) == len(self.code_set):
                conn.streaming = True
                conn.stream_task = asyncio.create_task(self._stream(conn))
        elif isinstance(msg, wire.AccountSubscribe):
            conn.account = True
            await self._send(conn, wire.Ack(op="account_subscribe"))
        elif isinstance(msg, wire.ConditionSubscribe | wire.ConditionUnsubscribe):
            await self._send(
                conn,
                wire.Error(
                    op=type(msg).__name__.lower(),
                    code="unknown_condition",
                    message="the load generator has no conditions",
                ),
            )
        elif isinstance(msg, wire.Ping):
            await self._send(conn, wire.Pong(id=msg.id))

    async def _send(self, conn: _Conn, msg: msgspec.Struct) -> None:
        await conn.ws.send_frame(_encoder.encode(msg), WSMsgType.TEXT)

    async def _heartbeat(self, conn: _Conn) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if conn.ws.closed:
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(conn, wire.Heartbeat(ts_ns=time.time_ns()))

    async def _stream(self, conn: _Conn) -> None:
        """Frames for `seconds`: paced at `rate`, or back to back (the socket's drain paces)."""
        self.streams += 1
        frames = self.frames
        nframes = len(frames)
        batch = self.batch
        send = conn.ws.send_frame
        text = WSMsgType.TEXT
        placeholder = _PLACEHOLDER_BYTES
        clock = time.monotonic
        start = clock()
        end = start + self.seconds
        i = 0
        try:
            if self.rate is None:
                while True:
                    # Check the clock once per 16 frames; drain (inside send) is the pacing.
                    if (i & 15) == 0 and clock() >= end:
                        break
                    await send(frames[i % nframes].replace(placeholder, b"%d" % time.time_ns()), text)
                    i += 1
            else:
                period = batch / self.rate  # seconds between frames
                while True:
                    now = clock()
                    if now >= end:
                        break
                    due = int((now - start) / period) + 1
                    while i < due:
                        await send(frames[i % nframes].replace(placeholder, b"%d" % time.time_ns()), text)
                        i += 1
                    # Sleep to the next frame's time (the loop wakes a little late, never early).
                    await asyncio.sleep(max(0.0, start + i * period - clock()))
        except (ConnectionError, RuntimeError):
            pass
        finally:
            conn.frames_sent += i
            conn.ticks_sent += i * batch
            self.ticks_sent += i * batch


_first_bytes_ns: dict[int, int] = {}


def _stamp_arrivals() -> None:
    """Record when each HTTP request's first bytes arrive (by connection), in this process only.

    aiohttp runs a handler a loop turn or more after the bytes arrived, later still while the
    generator is busy sending frames; stamping in data_received keeps that out of the order
    latency. The client sends one request at a time per connection (no pipelining).
    """
    from aiohttp import web_protocol

    handler = web_protocol.RequestHandler
    original_received = handler.data_received
    original_lost = handler.connection_lost

    def data_received(self: web_protocol.RequestHandler, data: bytes) -> None:
        _first_bytes_ns.setdefault(id(self), time.time_ns())
        original_received(self, data)

    def connection_lost(self: web_protocol.RequestHandler, exc: BaseException | None) -> None:
        _first_bytes_ns.pop(id(self), None)  # ids are reused: no stamp may outlive its connection
        original_lost(self, exc)

    handler.data_received = data_received  # type: ignore[method-assign]
    handler.connection_lost = connection_lost  # type: ignore[method-assign]


@web.middleware
async def _arrival(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    request["recv_ns"] = _first_bytes_ns.pop(id(request.protocol), None) or time.time_ns()
    try:
        return await handler(request)
    finally:
        # A body that came in a later read stamped again: clear it before the response goes
        # out, so the connection's next request starts fresh.
        _first_bytes_ns.pop(id(request.protocol), None)


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(obj), status=status, content_type="application/json")


def _static(obj: Any) -> Callable[[web.Request], Awaitable[web.Response]]:
    body = _encoder.encode(obj)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return handler


async def serve(args: argparse.Namespace) -> None:
    _stamp_arrivals()
    rate = None if str(args.rate).lower() == "max" else float(args.rate)
    cancel_after = None if args.cancel_after_ms < 0 else args.cancel_after_ms / 1000
    blast = Blast(args.symbols, rate, args.batch, args.seconds, args.seed, cancel_after)
    runner = web.AppRunner(blast.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=128)
    await site.start()
    port = runner.addresses[0][1]
    print(f"BLAST LISTENING http://{args.host}:{port}", flush=True)
    try:
        await asyncio.sleep(args.lifetime)
    finally:
        await runner.cleanup()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine.bench.blast", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--symbols", type=int, default=500)
    p.add_argument("--rate", default="max", help="ticks/s, or 'max' (as fast as the client reads)")
    p.add_argument("--batch", type=int, default=200, help="rows per Ticks frame")
    p.add_argument("--seconds", type=float, default=10.0, help="stream length per connection")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--cancel-after-ms",
        type=float,
        default=5.0,
        help="report each accepted order cancelled this long after (-1: never)",
    )
    p.add_argument("--lifetime", type=float, default=600.0, help="the server exits after this")
    # auto: uvloop when saturating (the most frames per second), the stock loop when pacing
    # (uvloop defers writes to the end of a loop turn: up to 0.5 ms between a frame's ts_ns
    # stamp and its send at p99, against 0.1 ms on the stock loop).
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.symbols < 1 or args.batch < 1:
        sys.exit("--symbols and --batch must be at least 1")
    loop_factory = None
    if args.loop == "uvloop" or (args.loop == "auto" and str(args.rate).lower() == "max"):
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=loop_factory) as runner, contextlib.suppress(KeyboardInterrupt):
        runner.run(serve(args))


if __name__ == "__main__":
    main()
