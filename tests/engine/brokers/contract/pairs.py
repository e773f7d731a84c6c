"""Each broker adapter paired with its fake, behind one harness the contract cases drive.

A `BrokerPair` starts the fake and the adapter (with a `RecordingSink`), restarts the adapter as
an agent restart would, and offers the fault hooks the cases need, each done through the fake's
public hooks (or, for the sim, a network relay in front of it). Adding a broker: write its fake,
subclass `BrokerPair`, declare its `Capabilities`, and append the class to `PAIRS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from engine.brokers.base import Broker, ConditionChange, OrderRequest, OrderUpdate
from engine.brokers.kis.client import KisBroker
from engine.brokers.kis.config import KisConfig
from engine.brokers.kiwoom.client import KiwoomBroker
from engine.brokers.kiwoom.config import KiwoomConfig
from engine.brokers.ls.client import LsBroker
from engine.brokers.ls.config import LsConfig
from engine.brokers.sim import SimBroker
from engine.brokers.sim.config import SimSettings
from engine.marketdata import Tick
from engine.ordertypes import Side
from engine.sim import SimConfig, SimExchange
from engine.sim.protocol import TickRow
from tests.conftest import eventually
from tests.fakekis import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, FakeKis
from tests.fakekis import frames as kis_frames
from tests.fakekiwoom import DEFAULT_KEYS as KIWOOM_KEYS
from tests.fakekiwoom import FakeKiwoom
from tests.fakekiwoom import codec as kiwoom_frames
from tests.fakels import PAPER_APP_KEY as LS_PAPER_KEY
from tests.fakels import PAPER_APP_SECRET as LS_PAPER_SECRET
from tests.fakels import REAL_APP_KEY as LS_REAL_KEY
from tests.fakels import REAL_APP_SECRET as LS_REAL_SECRET
from tests.fakels import FakeLS
from tests.fakels.codes import SUCCESS_CODES as LS_SUCCESS_CODES
from tests.faketape import DEFAULT_SYMBOLS as KIS_TAPE_SYMBOLS


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a broker offers, declared once; the cases pick their pairs from it."""

    # Orders carry our client order id end to end (else the tie is the broker's order number).
    client_order_ids: bool
    # Realtime condition search: "pushed" (enter/leave events over the socket), "polled" (the
    # adapter asks again and again and diffs) or "none".
    condition_search: Literal["pushed", "polled", "none"]
    # Condition search on a paper account too (KIS serves it to real accounts only).
    conditions_on_paper: bool
    # adapter.max_subscriptions.
    max_subscriptions: int | None
    # Past max_subscriptions the adapter refuses with a BrokerError (True), or it accepts and the
    # cap is the engine's to keep (engine/subscriptions.py) (False).
    cap_enforced: bool


class RecordingSink:
    """A BrokerSink that keeps every message, in arrival order, for the cases to inspect."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.conditions: list[ConditionChange] = []
        self.updates: list[OrderUpdate] = []
        self.connections: list[tuple[bool, str]] = []

    def on_ticks(self, ticks: list[Tick]) -> None:
        self.ticks.extend(ticks)

    def on_condition(self, change: ConditionChange) -> None:
        self.conditions.append(change)

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)

    def on_connection(self, connected: bool, detail: str) -> None:
        self.connections.append((connected, detail))

    def of(self, broker_order_id: str, event: str | None = None) -> list[OrderUpdate]:
        return [
            u
            for u in self.updates
            if u.broker_order_id == broker_order_id and (event is None or u.event == event)
        ]

    def fills(self, broker_order_id: str) -> list[OrderUpdate]:
        return self.of(broker_order_id, "fill")

    def tick_symbols(self, since: int = 0) -> set[str]:
        return {t.symbol for t in self.ticks[since:]}


class BrokerPair(ABC):
    """One broker adapter and its fake, started together; the hooks the contract cases use."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # The saved condition (id, name) the fake can be told to move symbols in and out of.
    condition: ClassVar[tuple[str, str] | None] = None
    other_condition: ClassVar[tuple[str, str] | None] = None  # a second one, watched beside it

    def __init__(self, data_dir: Path, real: bool = False) -> None:
        self.data_dir = data_dir
        # The broker's real environment, against the fake (for what KIS serves only there).
        self.real = real
        self.sink = RecordingSink()
        self._broker: Broker | None = None

    @property
    def broker(self) -> Broker:
        assert self._broker is not None, f"{self.name}: the adapter is not running"
        return self._broker

    # ---- lifecycle ----------------------------------------------------------------------

    @abstractmethod
    async def start_fake(self) -> None: ...

    @abstractmethod
    async def stop_fake(self) -> None: ...

    @abstractmethod
    def new_broker(self) -> Broker:
        """A fresh adapter instance on the fake's account (nothing carried over in memory)."""

    @abstractmethod
    def account_ready(self) -> bool:
        """The fake has the adapter's account channel registered on its newest connection."""

    async def start(self) -> None:
        await self.start_fake()
        await self.start_adapter()

    async def stop(self) -> None:
        try:
            await self.stop_adapter()
        finally:
            await self.stop_fake()

    async def start_adapter(self) -> None:
        self.sink = RecordingSink()
        self._broker = self.new_broker()
        await self._broker.start(self.sink)
        # Started means the account channel is live at the fake: a notice sent from here on
        # reaches the sink (otherwise a case could lose an early one to a start-up race).
        await eventually(self.account_ready, 10, f"{self.name}: the account channel registered")

    async def stop_adapter(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.stop()

    async def restart_adapter(self, while_down: Callable[[], Awaitable[None]] | None = None) -> None:
        """An agent restart: the adapter stops, `while_down` runs, a new instance starts (with a
        new sink) on the same account."""
        await self.stop_adapter()
        if while_down is not None:
            await while_down()
        await self.start_adapter()

    # ---- market -------------------------------------------------------------------------

    @abstractmethod
    def symbols(self, n: int) -> list[str]:
        """`n` distinct symbols the adapter may subscribe; the first six trade on the fake's
        tape (ticks flow for them)."""

    async def print_ticks(self, symbols: Iterable[str]) -> None:
        """Trades print for these symbols now, at a price no resting test order crosses, where
        the fake's tape is held still (a no-op where it runs on its own)."""

    async def resting_buy(self, client_order_id: str, symbol: str, qty: int) -> OrderRequest:
        """A limit buy at the lower daily limit: accepted, and the tape never reaches it, so
        only force_fill fills it."""
        price = (await self.broker.instrument(symbol)).lower_limit
        return OrderRequest(client_order_id, symbol, Side.BUY, "limit", qty, price)

    async def rejected_request(self, client_order_id: str, symbol: str) -> OrderRequest:
        """A buy the broker refuses for its own reason: it costs more than the account's cash."""
        price = (await self.broker.instrument(symbol)).lower_limit
        cash = (await self.broker.account()).cash
        return OrderRequest(client_order_id, symbol, Side.BUY, "limit", cash // price + 1, price)

    # ---- faults -------------------------------------------------------------------------

    @abstractmethod
    def fail_next_order_answer(self) -> None:
        """The next order placement is taken by the broker, then answered with a 5xx."""

    @abstractmethod
    def hold_next_order_answer(self) -> Callable[[], None]:
        """The next order's REST answer is held back while its notices (and fills) go out;
        returns what releases it (a no-op where the fake releases it itself)."""

    @abstractmethod
    async def drop_socket(self) -> None:
        """Cut the realtime connection the way a network does."""

    @abstractmethod
    async def force_fill(self, broker_order_id: str, qty: int) -> None:
        """Print a trade at the resting order's price that fills `qty` of it; returns once the
        fake has booked the fill (whether or not an adapter is listening)."""

    @abstractmethod
    async def repeat_fill_notice(self, broker_order_id: str) -> None:
        """Send the order's last fill notice again, unchanged."""

    async def set_condition(self, condition_id: str, symbol: str, event: Literal["enter", "leave"]) -> None:
        raise NotImplementedError(f"{self.name} declares no condition search")

    # ---- inspection ---------------------------------------------------------------------

    @abstractmethod
    def orders_at_fake(self) -> list[str]:
        """Broker order ids of every order the fake holds (cancel records excluded)."""

    @abstractmethod
    def refusal_code(self) -> str:
        """The code of the fake's last order refusal, as the fake gave it."""

    @abstractmethod
    def registered_symbols(self) -> set[str]:
        """Symbols with realtime trades registered on the fake's newest connection."""


# ---- the simulated exchange -----------------------------------------------------------------


@dataclass(eq=False)
class _Relay:
    """One adapter websocket and its upstream twin."""

    client: web.WebSocketResponse
    open: bool = True
    account_acked: bool = False
    symbols: set[str] = field(default_factory=set)


class SimWire:
    """A transparent relay between SimBroker and SimExchange, REST and websocket on one port, that
    faults as a network can: the sim has no hooks for a lost or held answer or a repeated
    frame, and these are transport faults, so they live here rather than in the sim."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self.fail_orders = 0
        self._holds: deque[asyncio.Event] = deque()  # armed, for the next placements
        self._gates: list[asyncio.Event] = []  # every hold ever armed, released at stop
        self._fill_frames: dict[str, str] = {}  # order id -> its last fill frame
        self._relays: list[_Relay] = []
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        for gate in self._gates:  # a case that failed mid-hold must not hang the teardown
            gate.set()
        for relay in self._relays:
            with contextlib.suppress(Exception):
                await relay.client.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    @property
    def latest(self) -> _Relay | None:
        return self._relays[-1] if self._relays else None

    def hold_next_order(self) -> Callable[[], None]:
        gate = asyncio.Event()
        self._holds.append(gate)
        self._gates.append(gate)
        return gate.set

    async def repeat(self, order_id: str) -> None:
        frame = self._fill_frames[order_id]
        for relay in self._relays:
            if relay.open:
                await relay.client.send_str(frame)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        headers = {"content-type": request.content_type} if body else None
        async with self._http.request(
            request.method, self.upstream + request.path_qs, data=body or None, headers=headers
        ) as resp:
            payload, status, ctype = await resp.read(), resp.status, resp.content_type
        if request.method == "POST" and request.path == "/orders":
            # Only after the sim has taken the order: the worst case for a client.
            if self.fail_orders > 0:
                self.fail_orders -= 1
                return web.Response(status=502, text="502 Bad Gateway (injected after the order)")
            if self._holds:
                await self._holds.popleft().wait()
        return web.Response(status=status, body=payload, content_type=ctype)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        client = web.WebSocketResponse(compress=False)
        await client.prepare(request)
        ws_url = self.upstream.replace("http://", "ws://", 1) + "/ws"
        try:
            upstream = await self._http.ws_connect(ws_url, compress=0, max_msg_size=0)
        except (aiohttp.ClientError, OSError):
            # The sim is away: the adapter sees a refused connection and retries, as it would.
            await client.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"sim unreachable")
            return client
        relay = _Relay(client)
        self._relays.append(relay)
        close: list[tuple[int, str]] = []

        async def down() -> None:
            async for msg in upstream:
                if msg.type is WSMsgType.TEXT:
                    self._note(relay, msg.data)
                    await client.send_str(msg.data)
            close.append((upstream.close_code or WSCloseCode.GOING_AWAY, "upstream closed"))

        async def up() -> None:
            async for msg in client:
                if msg.type is WSMsgType.TEXT:
                    await upstream.send_str(msg.data)

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            relay.open = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await upstream.close()
            code, reason = close[0] if close else (WSCloseCode.GOING_AWAY, "relay closing")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(code=code, message=reason.encode()), 2.0)
        return client

    def _note(self, relay: _Relay, text: str) -> None:
        # Cheap substring tests first: most frames are ticks.
        if '"type":"ack"' in text:
            msg = json.loads(text)
            if msg.get("op") == "account_subscribe":
                relay.account_acked = True
            elif msg.get("op") == "subscribe":
                relay.symbols.add(msg["symbol"])
            elif msg.get("op") == "unsubscribe":
                relay.symbols.discard(msg["symbol"])
        elif '"type":"order"' in text and '"event":"fill"' in text:
            self._fill_frames[json.loads(text)["order_id"]] = text


class SimPair(BrokerPair):
    name = "sim"
    capabilities = Capabilities(
        client_order_ids=True,
        condition_search="pushed",
        conditions_on_paper=True,
        max_subscriptions=4,
        cap_enforced=False,
    )
    condition = ("0", "momentum")
    other_condition = ("1", "급등주")
    # A few symbols keep the tape cheap; the cap (a setting, MAX_SUBSCRIPTIONS) is set below
    # their number so the cap case can go past it.
    SYMBOLS = ("005930", "000660", "035720", "035420", "005380", "373220")

    def __init__(self, data_dir: Path, real: bool = False) -> None:
        super().__init__(data_dir, real)
        self._sim: SimExchange | None = None
        self._wire: SimWire | None = None
        self._prints: deque[tuple[str, int, int]] = deque()  # (symbol, price, qty) to print

    @property
    def sim(self) -> SimExchange:
        assert self._sim is not None
        return self._sim

    @property
    def wire(self) -> SimWire:
        assert self._wire is not None
        return self._wire

    async def start_fake(self) -> None:
        # A threshold no symbol reaches keeps the automatic condition stream quiet.
        self._sim = SimExchange(
            SimConfig(
                tick_rate=20.0,
                seed=11,
                condition_threshold_pct=29.0,
                heartbeat_interval=1.0,
                symbols=self.SYMBOLS,
            )
        )
        await self._sim.start()
        self._tap_tape()
        self._wire = SimWire(self._sim.url)
        await self._wire.start()

    def _tap_tape(self) -> None:
        # The sim has no "print this trade" hook (FakeKis.trade is the KIS one): chosen prints
        # join the tape's own at its next step, through the public Market.advance, the way
        # tests/engine/sim/test_feed.py interposes on it. Matching, fills, notices and ticks
        # then run the sim's real path.
        market = self.sim.market
        advance = market.advance

        def advance_with_prints(dt: float, now_ns: int | None = None) -> list[TickRow]:
            rows = advance(dt, now_ns)
            while self._prints:
                symbol, price, qty = self._prints.popleft()
                ts = now_ns if now_ns is not None else (rows[-1].ts_ns if rows else 0)
                rows.append(TickRow(symbol, ts, price, qty, -1, market.state(symbol).volume))
            return rows

        market.advance = advance_with_prints  # type: ignore[method-assign]

    async def stop_fake(self) -> None:
        if self._wire is not None:
            await self._wire.stop()
        if self._sim is not None:
            await self._sim.stop()

    def new_broker(self) -> Broker:
        return SimBroker(
            SimSettings(url=self.wire.url, max_subscriptions=self.capabilities.max_subscriptions)
        )

    def account_ready(self) -> bool:
        relay = self.wire.latest
        return relay is not None and relay.open and relay.account_acked

    def symbols(self, n: int) -> list[str]:
        assert n <= len(self.SYMBOLS), f"the sim pair trades {len(self.SYMBOLS)} symbols"
        return list(self.SYMBOLS[:n])

    def fail_next_order_answer(self) -> None:
        self.wire.fail_orders += 1

    def hold_next_order_answer(self) -> Callable[[], None]:
        return self.wire.hold_next_order()

    async def drop_socket(self) -> None:
        # The sim's own control endpoint: it closes every websocket (1012).
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.sim.url + "/admin/drop_connections") as resp,
        ):
            assert resp.status == 200, await resp.text()

    async def force_fill(self, broker_order_id: str, qty: int) -> None:
        order = self.sim.account.get(broker_order_id)
        assert order is not None and order.is_open and order.price is not None, order
        target = order.filled_qty + qty
        self._prints.append((order.symbol, order.price, qty))
        await eventually(
            lambda: order.filled_qty >= target, 10, f"the sim to fill {qty} of {broker_order_id}"
        )

    async def repeat_fill_notice(self, broker_order_id: str) -> None:
        await self.wire.repeat(broker_order_id)

    async def set_condition(self, condition_id: str, symbol: str, event: Literal["enter", "leave"]) -> None:
        name = {info.id: info.name for info in self.sim.conditions.infos()}[condition_id]
        body = {"name": name, "events": [{"symbol": symbol, "event": event}]}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.sim.url + "/admin/condition_events", json=body) as resp,
        ):
            assert resp.status == 200, await resp.text()

    def orders_at_fake(self) -> list[str]:
        return [o.order_id for o in self.sim.account.orders()]

    def refusal_code(self) -> str:
        refused = [o for o in self.sim.account.orders() if o.status == "rejected"]
        return refused[-1].reject_code or "" if refused else ""

    def registered_symbols(self) -> set[str]:
        relay = self.wire.latest
        return set(relay.symbols) if relay is not None and relay.open else set()


# ---- KIS ------------------------------------------------------------------------------------

HTS_ID = "testuser"
# FakeKis holds an answer for a fixed time (delay_next_order_answer), not until told: long
# enough that the case's forced fill lands well inside it.
KIS_ANSWER_HOLD_S = 3.0


class KisPair(BrokerPair):
    name = "kis"
    capabilities = Capabilities(
        client_order_ids=False,
        condition_search="polled",
        conditions_on_paper=False,
        max_subscriptions=40,
        cap_enforced=True,
    )

    condition = ("0", "급등주")
    other_condition = ("1", "거래량급증")

    def __init__(self, data_dir: Path, real: bool = False) -> None:
        super().__init__(data_dir, real)
        self._fake: FakeKis | None = None

    @property
    def fake(self) -> FakeKis:
        assert self._fake is not None
        return self._fake

    async def start_fake(self) -> None:
        # No rate limit: pacing is not under test here, and it would only slow the cases.
        self._fake = FakeKis(env="real" if self.real else "paper", rate_limit=None, hts_id=HTS_ID)
        # The tape held still, as the KIS e2e tests hold it: FakeKis.trade moves the tape's
        # price to the forced print (the lower limit), and a running tape would go on from
        # there and fill the resting orders by itself. Ticks come from print_ticks instead.
        self._fake.pause_tape()
        await self._fake.start()

    async def stop_fake(self) -> None:
        if self._fake is not None:
            await self._fake.stop()

    def new_broker(self) -> Broker:
        config = KisConfig(
            env="real" if self.real else "paper",
            app_key=DEFAULT_APP_KEY,
            app_secret=DEFAULT_APP_SECRET,
            account="12345678-01",
            hts_id=HTS_ID,
            rest_url=self.fake.url,
            ws_url=self.fake.ws_url + "/tryitout",
            requests_per_second=0.0,
            condition_poll_seconds=0.2,
        )
        # The same data_dir on a restart: the token cached on disk is reused, as in production.
        return KisBroker(config, self.data_dir)

    def _newest_regs(self) -> set[tuple[str, str]]:
        conns = self.fake.connections
        return max(conns, key=lambda c: c.id).registrations if conns else set()

    def account_ready(self) -> bool:
        return (self.fake.notice_tr, HTS_ID) in self._newest_regs()

    def symbols(self, n: int) -> list[str]:
        # The tape's six symbols first; then well-formed codes KIS registers but never ticks.
        codes = list(KIS_TAPE_SYMBOLS)
        codes += [f"{910_000 + i:06d}" for i in range(max(0, n - len(codes)))]
        return codes[:n]

    async def print_ticks(self, symbols: Iterable[str]) -> None:
        for code in symbols:
            tape = self.fake.tape.symbols.get(code)
            if tape is not None:
                # At the previous close: far above every resting test buy (the lower limit).
                await self.fake.trade(code, tape.base, qty=1)

    def fail_next_order_answer(self) -> None:
        self.fake.fail_next_orders(1, "502_after_create")

    def hold_next_order_answer(self) -> Callable[[], None]:
        self.fake.delay_next_order_answer(KIS_ANSWER_HOLD_S)
        return lambda: None

    async def drop_socket(self) -> None:
        assert await self.fake.drop_websockets() >= 1

    async def set_condition(self, condition_id: str, symbol: str, event: Literal["enter", "leave"]) -> None:
        if event == "enter":
            self.fake.condition_enter(condition_id, symbol)
        else:
            self.fake.condition_leave(condition_id, symbol)

    async def force_fill(self, broker_order_id: str, qty: int) -> None:
        order = next(o for o in self.fake.orders if o.odno == broker_order_id)
        # An order whose REST answer is held is created before it is booked: wait for the book.
        await eventually(
            lambda: order in self.fake.working_orders, 10, f"{broker_order_id} working at the fake"
        )
        before = order.filled
        await self.fake.trade(order.symbol, order.price, qty=qty, side="sell")
        assert order.filled == before + qty, f"the print did not fill {qty} of {broker_order_id}"

    async def repeat_fill_notice(self, broker_order_id: str) -> None:
        fake = self.fake
        notice = next(n for n in reversed(fake.notices) if n.oder_no == broker_order_id and n.cntg_yn == "2")
        for conn in fake.connections:
            key_iv = conn.regs.get((fake.notice_tr, HTS_ID))
            if key_iv is not None:
                frame = kis_frames.notice_frame(fake.notice_tr, notice, fake.notice_layout, *key_iv)
                await fake.send_raw(frame, conn.id)

    def orders_at_fake(self) -> list[str]:
        return [o.odno for o in self.fake.orders if o.kind == "new"]

    def refusal_code(self) -> str:
        refused = [r for r in self.fake.order_requests if r.rt_cd == "1"]
        return refused[-1].msg_cd if refused else ""

    def registered_symbols(self) -> set[str]:
        return {key for tr, key in self._newest_regs() if tr == kis_frames.TICK_TR}


# ---- Kiwoom ---------------------------------------------------------------------------------

# FakeKiwoom holds an answer for a fixed time (delay_next_order_answer), as FakeKis does.
KIWOOM_ANSWER_HOLD_S = 3.0


class KiwoomPair(BrokerPair):
    name = "kiwoom"
    capabilities = Capabilities(
        client_order_ids=False,
        condition_search="pushed",
        conditions_on_paper=True,
        max_subscriptions=95,
        cap_enforced=True,
    )

    condition = ("0", "급등주")
    other_condition = ("1", "거래량급증")

    def __init__(self, data_dir: Path, real: bool = False) -> None:
        super().__init__(data_dir, real)
        self._fake: FakeKiwoom | None = None

    @property
    def fake(self) -> FakeKiwoom:
        assert self._fake is not None
        return self._fake

    @property
    def env(self) -> Literal["real", "paper"]:
        return "real" if self.real else "paper"

    async def start_fake(self) -> None:
        # No rate limit (pacing is not under test here), and the tape held still as for KIS:
        # a forced print at the lower limit must not be followed by a walk that fills the
        # resting orders by itself. Ticks come from print_ticks.
        self._fake = FakeKiwoom(env=self.env, rate_limits=None)
        self._fake.set_conditions([("0", "급등주"), ("1", "거래량급증"), ("2", "신고가")])
        self._fake.pause_tape()
        await self._fake.start()

    async def stop_fake(self) -> None:
        if self._fake is not None:
            await self._fake.stop()

    def new_broker(self) -> Broker:
        key, secret = KIWOOM_KEYS[self.env]
        config = KiwoomConfig(
            env=self.env,
            app_key=key,
            secret_key=secret,
            rest_url=self.fake.url,
            ws_url=self.fake.ws_url,
            orders_per_second=0.0,
            queries_per_second=0.0,
        )
        # The same data_dir on a restart: the token cached on disk is reused, as in production.
        return KiwoomBroker(config, self.data_dir)

    def _newest_regs(self) -> set[tuple[str, str]]:
        conns = [c for c in self.fake.connections if c.logged_in]
        return max(conns, key=lambda c: c.id).registrations if conns else set()

    def account_ready(self) -> bool:
        return ("00", "") in self._newest_regs()

    def symbols(self, n: int) -> list[str]:
        # The tape's six symbols first; then well-formed codes Kiwoom registers but never ticks.
        codes = list(KIS_TAPE_SYMBOLS)
        codes += [f"{910_000 + i:06d}" for i in range(max(0, n - len(codes)))]
        return codes[:n]

    async def print_ticks(self, symbols: Iterable[str]) -> None:
        for code in symbols:
            tape = self.fake.tape.symbols.get(code)
            if tape is not None:
                # At the previous close: far above every resting test buy (the lower limit).
                await self.fake.trade(code, tape.base, qty=1)

    def fail_next_order_answer(self) -> None:
        self.fake.fail_next_orders(1, 502)

    def hold_next_order_answer(self) -> Callable[[], None]:
        self.fake.delay_next_order_answer(KIWOOM_ANSWER_HOLD_S)
        return lambda: None

    async def drop_socket(self) -> None:
        assert await self.fake.drop_websockets() >= 1

    async def set_condition(self, condition_id: str, symbol: str, event: Literal["enter", "leave"]) -> None:
        if event == "enter":
            await self.fake.condition_enter(condition_id, symbol)
        else:
            await self.fake.condition_leave(condition_id, symbol)

    async def force_fill(self, broker_order_id: str, qty: int) -> None:
        order = self.fake.order(broker_order_id)
        # An order whose REST answer is held is booked at once; wait for the book all the same.
        await eventually(
            lambda: order in self.fake.working_orders, 10, f"{broker_order_id} working at the fake"
        )
        before = order.filled
        await self.fake.trade(order.code, order.price, qty=qty, side="sell")
        assert order.filled == before + qty, f"the print did not fill {qty} of {broker_order_id}"

    async def repeat_fill_notice(self, broker_order_id: str) -> None:
        values = next(
            v for v in reversed(self.fake.events) if v["9203"] == broker_order_id and v["913"] == "체결"
        )
        frame = kiwoom_frames.real([kiwoom_frames.real_entry("00", "주문체결", values["9001"], values)])
        for conn in self.fake.connections:
            if conn.logged_in and conn.has("00"):
                await self.fake.send_raw(frame, conn.id)

    def orders_at_fake(self) -> list[str]:
        return [o.ord_no for o in self.fake.orders if o.kind == "new"]

    def refusal_code(self) -> str:
        refused = [r for r in self.fake.order_requests if r.return_code not in (None, 0)]
        return str(refused[-1].return_code) if refused else ""

    def registered_symbols(self) -> set[str]:
        return {item for kind, item in self._newest_regs() if kind == "0B"}


# ---- LS --------------------------------------------------------------------------------------

# FakeLS holds an answer for a fixed time (delay_next_order_answer), as FakeKis does.
LS_ANSWER_HOLD_S = 3.0
LS_ACCOUNT_FEEDS = {(tr, "") for tr in ("SC0", "SC1", "SC2", "SC3", "SC4")}


class LsPair(BrokerPair):
    name = "ls"
    capabilities = Capabilities(
        client_order_ids=False,
        condition_search="pushed",
        conditions_on_paper=False,
        max_subscriptions=93,
        cap_enforced=True,
    )

    # The fake's saved conditions: the official t1866 example's rows under its user id.
    condition = ("testID0000", "테스트1")
    other_condition = ("testID0002", "테스트2")

    def __init__(self, data_dir: Path, real: bool = False) -> None:
        super().__init__(data_dir, real)
        self._fake: FakeLS | None = None

    @property
    def fake(self) -> FakeLS:
        assert self._fake is not None
        return self._fake

    async def start_fake(self) -> None:
        # No rate limit (pacing is not under test here), and the tape held still as for KIS:
        # ticks come from print_ticks, fills from force_fill.
        self._fake = FakeLS(rates=None)
        self._fake.pause_tape()
        await self._fake.start()

    async def stop_fake(self) -> None:
        if self._fake is not None:
            await self._fake.stop()

    def new_broker(self) -> Broker:
        key, secret = (LS_REAL_KEY, LS_REAL_SECRET) if self.real else (LS_PAPER_KEY, LS_PAPER_SECRET)
        config = LsConfig(
            env="real" if self.real else "paper",
            app_key=key,
            app_secret=secret,
            user_id=self.fake.user_id,
            rest_url=self.fake.url,
            ws_url=self.fake.ws_url + "/websocket",
            paced=False,
        )
        # The same data_dir on a restart: the token cached on disk is reused, as in production.
        return LsBroker(config, self.data_dir)

    def _newest_subs(self) -> set[tuple[str, str]]:
        conns = self.fake.connections
        return max(conns, key=lambda c: c.id).subscriptions if conns else set()

    def account_ready(self) -> bool:
        return self._newest_subs() >= LS_ACCOUNT_FEEDS

    def symbols(self, n: int) -> list[str]:
        # The tape's listings first (KOSPI and KOSDAQ both); then codes listed here so that the
        # adapter can look their market up (t1102), which never trade.
        codes = list(self.fake.tape.instruments)
        for i in range(max(0, n - len(codes))):
            code = f"{910_000 + i:06d}"
            if code not in self.fake.tape.instruments:
                self.fake.add_listing(code, f"테스트{i}", "KOSPI", 10_000)
            codes.append(code)
        return codes[:n]

    async def print_ticks(self, symbols: Iterable[str]) -> None:
        for code in symbols:
            inst = self.fake.tape.instruments.get(code)
            if inst is not None:
                # At the base price: far above every resting test buy (the lower limit).
                await self.fake.push_trade(code, inst.base, qty=1)

    def fail_next_order_answer(self) -> None:
        self.fake.fail_next_order_after_create(502)

    def hold_next_order_answer(self) -> Callable[[], None]:
        self.fake.delay_next_order_answer(LS_ANSWER_HOLD_S)
        return lambda: None

    async def drop_socket(self) -> None:
        assert await self.fake.drop_websockets() >= 1

    async def set_condition(self, condition_id: str, symbol: str, event: Literal["enter", "leave"]) -> None:
        if event == "enter":
            await self.fake.condition_enter(condition_id, symbol)
        else:
            await self.fake.condition_leave(condition_id, symbol)

    async def force_fill(self, broker_order_id: str, qty: int) -> None:
        order = self.fake.order(int(broker_order_id))
        await eventually(
            lambda: order in self.fake.working_orders, 10, f"{broker_order_id} working at the fake"
        )
        before = order.filled
        await self.fake.push_trade(order.code, order.price, qty=qty, side="sell")
        assert order.filled == before + qty, f"the print did not fill {qty} of {broker_order_id}"

    async def repeat_fill_notice(self, broker_order_id: str) -> None:
        for conn in self.fake.connections:
            if ("SC1", "") not in conn.subscriptions:
                continue
            frame = next(
                (
                    f
                    for f in reversed(conn.sent)
                    if f["header"].get("tr_cd") == "SC1"
                    and f["body"].get("ordno") == broker_order_id
                    and f["body"].get("ordxctptncode") == "11"
                ),
                None,
            )
            if frame is not None:
                await self.fake.send_raw(frame, conn.id)

    def orders_at_fake(self) -> list[str]:
        return [str(o.ordno) for o in self.fake.orders if o.kind == "new"]

    def refusal_code(self) -> str:
        refused = [r for r in self.fake.order_requests if r.rsp_cd and r.rsp_cd not in LS_SUCCESS_CODES]
        return refused[-1].rsp_cd if refused else ""

    def registered_symbols(self) -> set[str]:
        return {key for tr, key in self._newest_subs() if tr in ("S3_", "K3_")}


PAIRS: list[type[BrokerPair]] = [SimPair, KisPair, KiwoomPair, LsPair]
