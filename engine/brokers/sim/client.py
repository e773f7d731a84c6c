"""SimBroker: the Broker interface over the sim exchange's HTTP API and websocket. With no
SIM_URL it starts the exchange itself, in this process, on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine.brokers.base import (
    AccountSnapshot,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    Capabilities,
    ConditionInfo,
    ConditionSearch,
    OrderRequest,
)
from engine.brokers.common.adapter import StreamingBroker
from engine.brokers.common.conditions import ConditionMembers
from engine.brokers.common.pacing import Priority
from engine.brokers.common.pending import PendingRequests
from engine.brokers.common.session import HttpSession
from engine.brokers.registry import BrokerContext
from engine.brokers.sim import codec
from engine.brokers.sim.config import SimSettings
from engine.brokers.sim.websocket import SimStream
from engine.charts.model import Bar
from engine.clock import Clock
from engine.instruments import Instrument
from engine.krx.costs import CostModel, Market
from engine.ordertypes import OrderStatus, Side
from engine.sim import protocol as wire

if TYPE_CHECKING:
    from engine.sim.server import SimExchange

log = logging.getLogger(__name__)

T = TypeVar("T")


def wire_side(side: Side) -> wire.Side:
    # Side(...) refuses anything else outright: a wrong default here would flip an order.
    return "buy" if Side(side) == Side.BUY else "sell"


def _order(info: wire.OrderInfo) -> BrokerOrder:
    return BrokerOrder(
        broker_order_id=info.order_id,
        client_order_id=info.client_order_id,
        symbol=info.symbol,
        side=Side(info.side),
        qty=info.qty,
        price=info.price,
        status=OrderStatus(info.status),
        filled_qty=info.filled_qty,
        reject_code=info.reject_code,
        message=info.message,
    )


class SimBroker(StreamingBroker):
    name = "sim"
    paper = True
    stream: SimStream
    connect_timeout = 10.0

    def __init__(
        self, settings: SimSettings, context: BrokerContext | None = None, heartbeat_timeout: float = 15.0
    ) -> None:
        super().__init__()
        self.settings = settings
        self.context = context or BrokerContext(Path("data"), Clock(), CostModel())
        self.capabilities = Capabilities(
            client_order_ids=True,
            lists_fills=True,
            lists_orders=True,
            condition_search=ConditionSearch.PUSHED,
            max_conditions=None,
            conditions_on_paper=True,
            intraday_bars=True,
            max_symbols=settings.max_subscriptions,
            environments=("paper",),
        )
        self.exchange: SimExchange | None = None  # the embedded one, when no URL is given
        self.endpoint = settings.url or ""
        self.http = HttpSession("the sim exchange", self.endpoint, timeout=5.0)
        self.stream = SimStream(
            self._ws_url(self.endpoint), self._on_frame, self._on_connection, heartbeat_timeout
        )
        self._pending: PendingRequests[tuple[str, str], None] = PendingRequests("sim")
        self._members = ConditionMembers(self._deliver_condition, self.context.clock)
        self._condition_ids: dict[str, str] = {}  # name -> id, for frames that give the name
        self._resync: dict[str, set[str]] = {}  # condition id -> enters since re-registering

    @staticmethod
    def _ws_url(base_url: str) -> str:
        return base_url.rstrip("/").replace("http://", "ws://", 1) + "/ws"

    # ---- lifecycle -----------------------------------------------------------------------

    async def _start_exchange(self) -> None:
        # Imported here: only a sim run with no SIM_URL loads (and starts) the exchange.
        from engine.sim.config import SimConfig
        from engine.sim.server import SimExchange

        s = self.settings
        self.exchange = SimExchange(
            SimConfig(
                seed=s.seed,
                tick_rate=s.tick_rate,
                speed=s.speed,
                initial_cash=s.cash,
                commission_rate=self.context.costs.commission_rate,
                state_path=self.context.data_dir / "sim_exchange.db",
            ),
            clock=self.context.clock,
        )
        await self.exchange.start()
        self.endpoint = self.exchange.url
        self.http.base_url = self.endpoint
        self.stream.url = self._ws_url(self.endpoint)

    async def _open(self) -> None:
        if self.settings.url is None and self.exchange is None:
            await self._start_exchange()
        await self.http.open()
        await self.account()  # fails at once when the exchange is not there
        self.stream.registrations[("account", "")] = None

    async def _close(self) -> None:
        await self.http.close()
        self._pending.cancel_all()
        if self.exchange is not None:
            await self.exchange.stop()
            self.exchange = None

    # ---- websocket frames ----------------------------------------------------------------

    def _on_connection(self, connected: bool, detail: str) -> None:
        if connected:
            # The replay re-registered every condition: its snapshot of enters follows, then
            # the ack, and members not in it left while the socket was down.
            self._resync = {cid: set() for cid in self._members.members}
        super()._on_connection(connected, detail)

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
            condition_id = msg.id or self._condition_ids.get(msg.name, msg.name)
            if condition_id in self._resync and msg.event == "enter":
                self._resync[condition_id].add(msg.symbol)
            self._members.change(condition_id, msg.symbol, msg.event == "enter")
        elif isinstance(msg, wire.Ack):
            key = msg.symbol or msg.name or ""
            if msg.op == "condition_subscribe":
                self._resynced(self._condition_ids.get(key, key))
            self._pending.resolve((msg.op, key), None)
        elif isinstance(msg, wire.Error):
            error = BrokerError(msg.code, msg.message)
            op = msg.op
            waiting = (
                (op, msg.symbol)
                if msg.symbol is not None
                # errors about conditions name none: the exchange answers in order
                else self._pending.oldest(lambda k: k[0] == op)
            )
            if waiting is None or not self._pending.fail(waiting, error):
                log.warning("sim error without a waiting request: %s", msg.message)

    def _resynced(self, condition_id: str) -> None:
        seen = self._resync.pop(condition_id, None)
        if seen is not None:
            self._members.snapshot(condition_id, seen)

    async def _request(self, op: str, key: str, frame: bytes) -> None:
        """Send a registration and wait for its ack; when offline it replays on reconnect."""
        await self._pending.request((op, key), lambda: self.stream.send(frame))

    # ---- realtime registrations ----------------------------------------------------------

    async def subscribe(self, symbol: str) -> None:
        key = ("symbol", symbol)
        if key in self.stream.registrations:
            return
        self.stream.registrations[key] = None
        try:
            await self._request("subscribe", symbol, codec.subscribe([symbol]))
        except BaseException:
            self.stream.registrations.pop(key, None)
            raise

    async def unsubscribe(self, symbol: str) -> None:
        if self.stream.registrations.pop(("symbol", symbol), 1) is None:
            await self._request("unsubscribe", symbol, codec.unsubscribe([symbol]))

    async def watch_condition(self, condition: ConditionInfo) -> None:
        key = ("condition", condition.name)
        self._condition_ids[condition.name] = condition.id
        self._members.watch(condition.id)
        self.stream.registrations[key] = None
        try:
            await self._request(
                "condition_subscribe", condition.name, codec.condition_subscribe(condition.name)
            )
        except BaseException:
            self.stream.registrations.pop(key, None)
            self._members.unwatch(condition.id)
            raise

    async def unwatch_condition(self, condition_id: str) -> None:
        name = next((n for n, i in self._condition_ids.items() if i == condition_id), None)
        self._members.unwatch(condition_id)
        if name is not None and self.stream.registrations.pop(("condition", name), 1) is None:
            await self._request("condition_unsubscribe", name, codec.condition_unsubscribe(name))

    # ---- REST ----------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        into: type[T],
        body: object = None,
        params: dict[str, str] | None = None,
        priority: Priority = Priority.QUERY,
    ) -> T:
        reply = await self.http.send(
            method,
            path,
            priority=priority,
            params=params,
            data=codec.encode_body(body) if body is not None else None,
            headers={"content-type": "application/json"} if body is not None else None,
        )
        if reply.status >= 500:
            raise BrokerError(f"http_{reply.status}", f"sim exchange error {reply.status}", retryable=True)
        if reply.status >= 400:
            err = codec.error_body(reply.body)
            if err is None:
                raise BrokerError(f"http_{reply.status}", reply.body[:200].decode(errors="replace"))
            raise BrokerError(err.code, err.message)
        try:
            return codec.decode_body(reply.body, into)
        except ValueError as exc:
            raise BrokerError("bad_response", f"unexpected answer from the sim: {exc}") from None

    async def instruments(self) -> dict[str, Instrument]:
        infos = await self._call("GET", "/symbols", list[wire.SymbolInfo])
        return {
            i.code: Instrument(
                code=i.code,
                name=i.name,
                market=Market(i.market),
                prev_close=i.prev_close,
                prev_high=i.prev_high,
                prev_low=i.prev_low,
                open=i.open,
                upper_limit=i.upper_limit,
                lower_limit=i.lower_limit,
            )
            for i in infos
        }

    async def conditions(self) -> list[ConditionInfo]:
        infos = await self._call("GET", "/conditions", list[wire.ConditionInfo])
        found = [ConditionInfo(i.id or i.name, i.name) for i in infos]
        self._condition_ids.update({c.name: c.id for c in found})
        return found

    async def minute_bars(self, symbol: str) -> list[Bar]:
        rows = await self._call("GET", "/bars", list[wire.BarInfo], params={"symbol": symbol})
        return [Bar(b.ts_ns, b.open, b.high, b.low, b.close, b.volume) for b in rows]

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        body = wire.OrderRequest(
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=wire_side(request.side),
            type=request.type,
            qty=request.qty,
            price=request.price,
        )
        return _order(await self._call("POST", "/orders", wire.OrderInfo, body=body, priority=Priority.ORDER))

    async def cancel_order(self, broker_order_id: str) -> BrokerOrder:
        return _order(
            await self._call("DELETE", f"/orders/{broker_order_id}", wire.OrderInfo, priority=Priority.ORDER)
        )

    async def find_order(
        self,
        request: OrderRequest,
        placed_after_ns: int,
        claimed: set[str],
        broker_order_id: str | None = None,
    ) -> BrokerOrder | None:
        found = await self._call(
            "GET", "/orders", list[wire.OrderInfo], params={"client_order_id": request.client_order_id}
        )
        return _order(found[0]) if found else None

    async def open_orders(self) -> list[BrokerOrder]:
        infos = await self._call("GET", "/orders", list[wire.OrderInfo], params={"status": "open"})
        return [_order(i) for i in infos]

    async def fills(self) -> list[BrokerFill]:
        infos = await self._call("GET", "/fills", list[wire.FillInfo])
        return [
            BrokerFill(
                fill_id=f.fill_id,
                broker_order_id=f.order_id,
                client_order_id=f.client_order_id,
                symbol=f.symbol,
                side=Side(f.side),
                qty=f.qty,
                price=f.price,
                commission=f.commission,
                tax=f.tax,
                ts_ns=f.ts_ns,
            )
            for f in infos
        ]

    async def account(self) -> AccountSnapshot:
        acct = await self._call("GET", "/account", wire.Account)
        return AccountSnapshot(cash=acct.cash, positions={p.symbol: p.qty for p in acct.positions})
