"""SimBroker: the Broker interface over the sim exchange's HTTP API and websocket."""

from __future__ import annotations

import asyncio
import logging

from engine.brokers.base import (
    AccountSnapshot,
    Broker,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerSink,
    OrderRequest,
)
from engine.brokers.sim import codec
from engine.brokers.sim.http import SimHttp
from engine.brokers.sim.websocket import SimStream
from engine.instruments import Instrument
from engine.krx.costs import Market
from engine.ordertypes import OrderStatus, Side
from engine.sim import protocol as wire
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)

ACK_TIMEOUT = 5.0


def wire_side(side: Side) -> wire.Side:
    # Side(...) refuses anything else outright: a wrong default here would flip an order.
    return "buy" if Side(side) == Side.BUY else "sell"


def _order(info: wire.OrderInfo) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id=info.order_id, client_order_id=info.client_order_id, symbol=info.symbol,
        side=Side(info.side), qty=info.qty, price=info.price, status=OrderStatus(info.status),
        filled_qty=info.filled_qty, reject_code=info.reject_code, message=info.message,
    )


class SimBroker(Broker):
    name = "sim"
    paper = True

    def __init__(self, base_url: str, max_subscriptions: int | None = 40,
                 heartbeat_timeout: float = 15.0) -> None:
        self.max_subscriptions = max_subscriptions
        self.endpoint = base_url
        self.http = SimHttp(base_url)
        ws_url = base_url.rstrip("/").replace("http://", "ws://", 1) + "/ws"
        self.stream = SimStream(ws_url, self._on_frame, self._on_connection, heartbeat_timeout)
        self._sink: BrokerSink | None = None
        self._tasks = TaskGroup("sim-broker")
        self._pending: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.bad_frames = 0

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self, sink: BrokerSink) -> None:
        self._sink = sink
        await self.http.open()
        await self.account()  # fails at once when the exchange is not there
        self.stream.account = True
        self._tasks.spawn(self.stream.run(), "websocket")
        try:
            await self.stream.wait_connected(10.0)
        except TimeoutError:
            log.warning("sim websocket not connected yet; it keeps retrying in the background")

    async def stop(self) -> None:
        await self._tasks.close()
        await self.http.close()
        for fut in self._pending.values():
            fut.cancel()
        self._pending.clear()

    @property
    def connected(self) -> bool:
        return self.stream.connected

    # ---- websocket frames ----------------------------------------------------------------

    def _on_connection(self, connected: bool, detail: str) -> None:
        if self._sink is not None:
            self._sink.on_connection(connected, detail)

    def _on_frame(self, frame: str | bytes) -> None:
        sink = self._sink
        assert sink is not None
        try:
            msg = codec.decode(frame)
        except codec.DecodeError as exc:
            self.bad_frames += 1
            log.warning("%s", exc)
            return
        if isinstance(msg, codec.TicksFrame):
            sink.on_ticks(msg.data)
        elif isinstance(msg, wire.OrderEvent):
            sink.on_order_update(codec.order_update(msg))
        elif isinstance(msg, wire.Condition):
            sink.on_condition(codec.condition_change(msg))
        elif isinstance(msg, wire.Ack):
            self._resolve(msg.op, msg.symbol or msg.name or "", None)
        elif isinstance(msg, wire.Error):
            error = BrokerError(msg.code, msg.message)
            key = msg.symbol if msg.symbol is not None else self._oldest_pending(msg.op)
            if not self._resolve(msg.op, key, error):
                log.warning("sim error without a waiting request: %s", msg.message)

    def _oldest_pending(self, op: str) -> str:
        # Errors about conditions name no symbol; the server answers in order, so the oldest
        # request of that kind is the one refused.
        return next((key for (pending_op, key) in self._pending if pending_op == op), "")

    def _resolve(self, op: str, key: str, error: BrokerError | None) -> bool:
        fut = self._pending.pop((op, key), None)
        if fut is None or fut.done():
            return False
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
        return True

    async def _request(self, op: str, key: str, frame: bytes) -> None:
        """Send a registration and wait for its ack; when offline it replays on reconnect."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[(op, key)] = fut
        if not await self.stream.send(frame):
            self._pending.pop((op, key), None)
            return
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives as the
            # ack does, and a stopping engine then waited forever for this task
            async with asyncio.timeout(ACK_TIMEOUT):
                await fut
        except TimeoutError:
            self._pending.pop((op, key), None)
            log.warning("no ack for %s %s within %.0fs", op, key, ACK_TIMEOUT)

    # ---- realtime registrations ----------------------------------------------------------

    async def subscribe(self, symbol: str) -> None:
        if symbol in self.stream.symbols:
            return
        self.stream.symbols.add(symbol)
        try:
            await self._request("subscribe", symbol, codec.subscribe([symbol]))
        except BaseException:
            self.stream.symbols.discard(symbol)
            raise

    async def unsubscribe(self, symbol: str) -> None:
        if symbol not in self.stream.symbols:
            return
        self.stream.symbols.discard(symbol)
        await self._request("unsubscribe", symbol, codec.unsubscribe([symbol]))

    async def subscribe_condition(self, name: str) -> None:
        self.stream.conditions.add(name)
        try:
            await self._request("condition_subscribe", name, codec.condition_subscribe(name))
        except BaseException:
            self.stream.conditions.discard(name)
            raise

    async def unsubscribe_condition(self, name: str) -> None:
        if name not in self.stream.conditions:
            return
        self.stream.conditions.discard(name)
        await self._request("condition_unsubscribe", name, codec.condition_unsubscribe(name))

    # ---- REST ----------------------------------------------------------------------------

    async def instruments(self) -> dict[str, Instrument]:
        infos = await self.http.request("GET", "/symbols", list[wire.SymbolInfo])
        return {
            i.code: Instrument(
                code=i.code, name=i.name, market=Market(i.market), prev_close=i.prev_close,
                prev_high=i.prev_high, prev_low=i.prev_low, open=i.open,
                upper_limit=i.upper_limit, lower_limit=i.lower_limit,
            )
            for i in infos
        }

    async def conditions(self) -> dict[str, str]:
        infos = await self.http.request("GET", "/conditions", list[wire.ConditionInfo])
        return {i.name: i.description for i in infos}

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        body = wire.OrderRequest(
            client_order_id=request.client_order_id, symbol=request.symbol,
            side=wire_side(request.side),
            type=request.type, qty=request.qty, price=request.price,
        )
        return _order(await self.http.request("POST", "/orders", wire.OrderInfo, body=body))

    async def cancel_order(self, broker_order_id: str) -> BrokerOrder:
        return _order(await self.http.request("DELETE", f"/orders/{broker_order_id}",
                                              wire.OrderInfo))

    async def find_order(self, request: OrderRequest, placed_after_ns: int,
                         claimed: set[str], broker_order_id: str | None = None) -> BrokerOrder | None:
        found = await self.http.request("GET", "/orders", list[wire.OrderInfo],
                                        params={"client_order_id": request.client_order_id})
        return _order(found[0]) if found else None

    async def open_orders(self) -> list[BrokerOrder]:
        infos = await self.http.request("GET", "/orders", list[wire.OrderInfo],
                                        params={"status": "open"})
        return [_order(i) for i in infos]

    async def fills(self) -> list[BrokerFill]:
        infos = await self.http.request("GET", "/fills", list[wire.FillInfo])
        return [
            BrokerFill(fill_id=f.fill_id, broker_order_id=f.order_id,
                       client_order_id=f.client_order_id, symbol=f.symbol, side=Side(f.side), qty=f.qty,
                       price=f.price, commission=f.commission, tax=f.tax, ts_ns=f.ts_ns)
            for f in infos
        ]

    async def account(self) -> AccountSnapshot:
        acct = await self.http.request("GET", "/account", wire.Account)
        return AccountSnapshot(cash=acct.cash, positions={p.symbol: p.qty for p in acct.positions})
