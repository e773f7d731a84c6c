"""The real engine, and the real agent process (`python -m bot`, BROKER=kiwoom), with the Kiwoom
adapter against the protocol-faithful fake Kiwoom (tests/fakekiwoom) over loopback sockets."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.brokers.base import BrokerSink, ConditionChange, OrderRequest, OrderUpdate
from engine.brokers.kiwoom.client import KiwoomBroker
from engine.brokers.kiwoom.config import KiwoomConfig
from engine.clock import SEOUL, Clock
from engine.config import EngineConfig
from engine.core import Engine
from engine.journal.store import Journal
from engine.krx.costs import CostModel
from engine.krx.prices import daily_limits, round_up
from engine.marketdata import Tick
from engine.orders import OrderIntent
from engine.ordertypes import Side
from engine.strategies.breakout import VolatilityBreakout
from tests.agent import Agent
from tests.conftest import PYTHON, ROOT, eventually, subprocess_env
from tests.fakekiwoom import DEFAULT_KEYS, FakeKiwoom, WsConn, WsSettings
from tests.fakekiwoom.codec import PingStyle

KEY, SECRET = DEFAULT_KEYS["paper"]
CONDITIONS = [("0", "급등주"), ("1", "거래량급증"), ("2", "신고가")]


def kiwoom_config(fake: FakeKiwoom) -> KiwoomConfig:
    return KiwoomConfig(
        env="paper",
        app_key=KEY,
        secret_key=SECRET,
        rest_url=fake.url,
        ws_url=fake.ws_url,
        orders_per_second=0.0,
        queries_per_second=0.0,
    )


def engine_for(fake: FakeKiwoom, data_dir: Path) -> Engine:
    base = EngineConfig()
    return Engine(
        replace(
            base,
            data_dir=data_dir,
            broker="kiwoom",
            broker_settings=kiwoom_config(fake),
            defaults=replace(base.defaults, leave_grace=0.0),
            risk=replace(base.risk, max_order_value=10**9, max_position_value=10**9),
        )
    )


def new_fake(**kwargs: Any) -> FakeKiwoom:
    kwargs.setdefault("rate_limits", None)
    kwargs.setdefault("ws", WsSettings(ping_interval=0.5))
    fake = FakeKiwoom(env="paper", **kwargs)
    fake.set_conditions(CONDITIONS)
    fake.pause_tape()  # ticks come from fake.trade(): every print is one the test chose
    return fake


@pytest.fixture
async def fake() -> AsyncIterator[FakeKiwoom]:
    server = new_fake()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def engine(fake: FakeKiwoom, tmp_path: Path) -> AsyncIterator[Engine]:
    eng = engine_for(fake, tmp_path / "data")
    await eng.start()
    await eng.wait_ready(15)
    yield eng
    await eng.stop()


def newest(fake: FakeKiwoom) -> WsConn | None:
    conns = [c for c in fake.connections if c.logged_in]
    return max(conns, key=lambda c: c.id) if conns else None


def registered(fake: FakeKiwoom) -> set[tuple[str, str]]:
    conn = newest(fake)
    return conn.registrations if conn is not None else set()


def new_orders(fake: FakeKiwoom) -> list[str]:
    return [o.ord_no for o in fake.orders if o.kind == "new"]


def requests_of(fake: FakeKiwoom, api_id: str) -> list[Any]:
    return [r for r in fake.order_requests if r.api_id == api_id]


def adapter(engine: Engine) -> KiwoomBroker:
    broker = engine.broker
    assert isinstance(broker, KiwoomBroker)
    return broker


# ---- the money path, in the engine ----------------------------------------------------------------


async def test_subscribe_ticks_signal_order_fill_position_journal(engine: Engine, fake: FakeKiwoom) -> None:
    await engine.ensure_instrument("005930")
    inst = engine.instruments["005930"]
    tape = fake.tape.symbols["005930"]
    assert (inst.prev_close, inst.lower_limit, inst.upper_limit) == (tape.base, *tape.limits)
    assert (inst.prev_high, inst.prev_low) == (tape.history[0].high, tape.history[0].low)
    events = engine.bus.subscribe()
    await engine.subscriptions.subscribe(
        "005930", "breakout", qty=3, params={"k": 0.05, "tp": 50, "sl": 50, "trail": 0}
    )
    await eventually(lambda: ("0B", "005930") in registered(fake), 5, "the 0B registration")
    strategy = engine.subscriptions.strategies["005930"]
    assert isinstance(strategy, VolatilityBreakout)
    target = strategy.target
    price = round_up(max(target, inst.open))
    ticks = engine.feed.ticks
    await fake.trade("005930", price, qty=50, side="buy")  # the tick that crosses the target
    await eventually(lambda: len(new_orders(fake)) == 1, 5, "kt10000")
    assert engine.feed.ticks > ticks
    (sent,) = requests_of(fake, "kt10000")
    assert (sent.body["trde_tp"], sent.body["ord_qty"], sent.body["dmst_stex_tp"]) == ("0", "3", "KRX")
    await fake.trade("005930", price, qty=50, side="sell")  # the tape fills the resting limit
    await eventually(lambda: engine.portfolio.qty("005930") == 3, 5, "the 00 fill")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("SignalEvent") < kinds.index("OrderAccepted") < kinds.index("FillEvent")
    (fill,) = await engine.journal.fills()
    ord_no = new_orders(fake)[0]
    cntr_no = fake.order(ord_no).fills[0].cntr_no
    assert fill.fill_id == f"{engine.clock.today():%Y%m%d}-{ord_no}-{cntr_no}"
    assert (fill.qty, fill.price, fill.commission) == (3, price, CostModel().commission(3 * price))
    (order,) = await engine.journal.orders()
    assert (order.broker_order_id, order.status, order.filled_qty) == (ord_no, "filled", 3)
    assert (await engine.broker.account()).positions == {"005930": 3}
    assert adapter(engine).bad_frames == 0


async def test_cancel_removes_the_registration(engine: Engine, fake: FakeKiwoom) -> None:
    await engine.ensure_instrument("000660")
    await engine.subscriptions.subscribe("000660", "watch")
    await eventually(lambda: ("0B", "000660") in registered(fake), 5, "the registration")
    await engine.subscriptions.cancel("000660")
    await eventually(lambda: ("0B", "000660") not in registered(fake), 5, "the REMOVE")
    assert ("00", "") in registered(fake)  # the account's order events stay


async def test_an_ambiguous_5xx_or_a_rate_limit_on_an_order_makes_exactly_one(
    engine: Engine, fake: FakeKiwoom
) -> None:
    await engine.ensure_instrument("005930")
    fake.fail_next_orders(1, 502)  # taken by the fake, then answered with a bare 502
    first = await engine.orders.submit(
        OrderIntent("005930", Side.BUY, 2, None, "test", "5xx", "k1", is_auto=False)
    )
    assert first.order is not None and first.order.broker_order_id is not None
    assert new_orders(fake) == [first.order.broker_order_id]
    assert len(requests_of(fake, "kt10000")) == 1  # the retry looked it up instead of resending
    fake.rate_limit_next(1, "kt10000")  # refused with 1700 before anything was done
    second = await engine.orders.submit(
        OrderIntent("005930", Side.BUY, 1, None, "test", "1700", "k2", is_auto=False)
    )
    assert second.order is not None and second.order.broker_order_id is not None
    assert new_orders(fake) == [first.order.broker_order_id, second.order.broker_order_id]
    assert [r.injected for r in requests_of(fake, "kt10000")] == ["502_after_create", "rate_limit", ""]
    assert adapter(engine).http.rate_limited == 1
    await eventually(lambda: engine.portfolio.qty("005930") == 3, 10, "both market orders filled")


async def test_a_refused_token_is_renewed_once_for_rest_and_for_login(
    engine: Engine, fake: FakeKiwoom
) -> None:
    assert len(fake.tokens_issued) == 1
    fake.expire_tokens(8031)
    assert (await engine.broker.account()).cash > 0  # renewed and sent again, once
    assert len(fake.tokens_issued) == 2
    fake.expire_tokens(8005)
    connects = adapter(engine).stream.connects
    await fake.drop_websockets()  # the next LOGIN carries the expired token: refused
    await eventually(lambda: adapter(engine).stream.connects > connects, 15, "a LOGIN again")
    assert len(fake.tokens_issued) == 3
    refused = [c for c in fake.hub.conns if not c.logged_in and any('"LOGIN"' in t for t in c.received)]
    assert refused, "the expired token's LOGIN was not tried"
    await eventually(lambda: ("00", "") in registered(fake), 10, "the account registered again")


async def test_a_dropped_socket_restores_conditions_ticks_and_order_events_in_order(
    engine: Engine, fake: FakeKiwoom
) -> None:
    fake.set_condition_members("0", ["035720"])
    await engine.ensure_instrument("005930")
    await engine.subscriptions.subscribe("005930", "watch")
    await engine.auto.enable("급등주", "watch")
    await eventually(lambda: "035720" in engine.subscriptions.records, 10, "the snapshot's entry")
    lower = engine.instruments["005930"].lower_limit
    resting = await engine.orders.submit(
        OrderIntent("005930", Side.BUY, 4, lower, "test", "rest", "rest", is_auto=False)
    )
    assert resting.order is not None and resting.order.broker_order_id is not None
    before = newest(fake)
    assert before is not None
    assert await fake.drop_websockets() >= 1
    await eventually(
        lambda: (
            (conn := newest(fake)) is not None
            and conn.id > before.id
            and "0" in conn.cond.realtime
            and {("00", ""), ("0B", "005930"), ("0B", "035720")} <= conn.registrations
        ),
        15,
        "the new connection with everything registered",
    )
    conn = newest(fake)
    assert conn is not None and not conn.cond.unanswered
    asked = [json.loads(t).get("trnm") for t in conn.received if t.startswith("{")]
    asked = [t for t in asked if t in ("LOGIN", "CNSRLST", "CNSRREQ", "REG")]
    assert asked[:4] == ["LOGIN", "CNSRLST", "CNSRREQ", "REG"], asked
    # Ticks, the condition and the account's order events all flow again.
    ticks = engine.feed.ticks
    await fake.trade("005930", fake.tape.symbols["005930"].base, qty=1)
    await eventually(lambda: engine.feed.ticks > ticks, 5, "a tick after the reconnect")
    await fake.condition_enter("0", "035420")
    await eventually(lambda: "035420" in engine.subscriptions.records, 10, "an enter after it")
    await fake.trade("005930", lower, qty=4, side="sell")
    await eventually(lambda: engine.portfolio.qty("005930") == 4, 10, "a fill after it")
    await eventually(lambda: conn.pings_answered >= 1, 5, "a PING echoed")
    assert conn.ping_mismatches == 0 and adapter(engine).bad_frames == 0


async def test_auto_mode_follows_enters_and_cancels_leaves_flat(engine: Engine, fake: FakeKiwoom) -> None:
    listed = await engine.auto.available()
    assert [(c.id, c.name) for c in listed] == CONDITIONS
    fake.set_condition_members("1", ["000660"])
    await engine.auto.enable("거래량급증", "watch")
    await eventually(lambda: ("0B", "000660") in registered(fake), 10, "the snapshot's symbol")
    await fake.condition_enter("1", "035420")
    await eventually(lambda: ("0B", "035420") in registered(fake), 10, "the entered symbol")
    await fake.condition_leave("1", "000660")
    await eventually(lambda: ("0B", "000660") not in registered(fake), 10, "the flat leaver")
    assert "000660" not in engine.subscriptions.records
    await engine.auto.disable("거래량급증")
    await eventually(lambda: (c := newest(fake)) is not None and not c.cond.realtime, 5, "CNSRCLR")


class Recorder(BrokerSink):
    def __init__(self) -> None:
        self.connections: list[bool] = []
        self.updates: list[OrderUpdate] = []

    def on_ticks(self, ticks: list[Tick]) -> None:
        pass

    def on_condition(self, change: ConditionChange) -> None:
        pass

    def on_order_update(self, update: OrderUpdate) -> None:
        self.updates.append(update)

    def on_connection(self, connected: bool, detail: str) -> None:
        self.connections.append(connected)


async def test_bad_frames_are_counted_and_said_and_the_feed_goes_on(engine: Engine, fake: FakeKiwoom) -> None:
    await engine.ensure_instrument("005930")
    await engine.subscriptions.subscribe("005930", "watch")
    await eventually(lambda: ("0B", "005930") in registered(fake), 5, "the registration")
    await fake.send_raw("{not json")
    await fake.send_raw(
        '{"trnm":"REAL","data":[{"type":"00","name":"주문체결","item":"005930",'
        '"values":{"9203":"","913":"체결"}}]}'
    )
    ticks = engine.feed.ticks
    await fake.trade("005930", fake.tape.symbols["005930"].base, qty=1)
    await eventually(lambda: engine.feed.ticks > ticks, 5, "a tick after the bad frames")
    assert adapter(engine).bad_frames == 2 and engine.broker.connected
    assert [o for o in await engine.journal.orders()] == []  # nothing made of the bad 00 entry


async def test_listings_follow_cont_yn_and_next_key(tmp_path: Path) -> None:
    clock = Clock.at(datetime(2026, 3, 3, 10, 30))  # mid-session: the chart's minutes are today's
    server = new_fake(clock=clock, history_minutes=20, page_sizes={"kt00007": 2, "kt00018": 2, "ka10080": 7})
    server.seed_positions(5)
    await server.start()
    broker = KiwoomBroker(kiwoom_config(server), tmp_path, clock=clock)
    try:
        await broker.start(Recorder())
        lower = (await broker.instrument("005930")).lower_limit
        placed = [
            await broker.place_order(OrderRequest(f"C{i}", "005930", Side.BUY, "limit", 1, lower))
            for i in range(5)
        ]
        assert {o.broker_order_id for o in await broker.open_orders()} == {o.broker_order_id for o in placed}
        assert server.pages_served["kt00007"] == 3
        assert len((await broker.account()).positions) == 5
        assert server.pages_served["kt00018"] == 3
        bars = await broker.minute_bars("005930")
        starts = [datetime.fromtimestamp(b.start_ns / 1e9, SEOUL).strftime("%H%M") for b in bars]
        assert starts[0] == "1010" and len(bars) >= 20 and starts == sorted(starts)
        assert server.pages_served["ka10080"] >= 3
    finally:
        await broker.stop()
        await server.stop()


async def test_a_refusal_after_the_answer_and_a_cancel_are_said_once(tmp_path: Path) -> None:
    server = new_fake()
    await server.start()
    broker = KiwoomBroker(kiwoom_config(server), tmp_path, clock=Clock())
    sink = Recorder()
    try:
        await broker.start(sink)
        lower = (await broker.instrument("005930")).lower_limit
        server.reject_next_orders(1)  # answered with an ord_no, then 접수 and 거부
        refused = await broker.place_order(OrderRequest("R1", "005930", Side.BUY, "limit", 1, lower))
        await eventually(lambda: any(u.event == "rejected" for u in sink.updates), 5, "the 거부 event")
        (rejected,) = [u for u in sink.updates if u.event == "rejected"]
        assert (rejected.broker_order_id, rejected.client_order_id) == (refused.broker_order_id, "R1")
        assert rejected.message and "FakeKiwoom" in rejected.message
        resting = await broker.place_order(OrderRequest("R2", "005930", Side.BUY, "limit", 2, lower))
        answer = await broker.cancel_order(resting.broker_order_id)
        assert answer.status == "cancelled"
        await eventually(lambda: any(u.event == "cancelled" for u in sink.updates), 5, "the cancel's events")
        marker = await broker.place_order(OrderRequest("R3", "005930", Side.BUY, "limit", 1, lower))
        await eventually(
            lambda: any(u.broker_order_id == marker.broker_order_id for u in sink.updates),
            5,
            "the marker's acceptance",
        )
        cancelled = [u for u in sink.updates if u.event == "cancelled"]
        assert [(u.broker_order_id, u.client_order_id) for u in cancelled] == [
            (resting.broker_order_id, "R2")
        ]
        # The cancel order's own number never reaches the engine as an order.
        cancel_no = next(o.ord_no for o in server.orders if o.kind == "cancel")
        assert not [u for u in sink.updates if u.broker_order_id == cancel_no]
    finally:
        await broker.stop()
        await server.stop()


async def test_orders_never_wait_behind_queries(tmp_path: Path) -> None:
    server = new_fake(rate_limits="env")  # paper: 1 query/s, and orders apart
    await server.start()
    config = replace(kiwoom_config(server), orders_per_second=5.0, queries_per_second=1.0)
    broker = KiwoomBroker(config, tmp_path, clock=Clock())
    done: list[str] = []

    async def balance(name: str) -> None:
        await broker.account()  # two queries each
        done.append(name)

    async def buy() -> None:
        await broker.place_order(OrderRequest("B1", "005930", Side.BUY, "market", 1, None))
        done.append("order")

    try:
        await broker.start(Recorder())
        await asyncio.gather(balance("first"), balance("second"), buy())
        assert done == ["order", "first", "second"]
        assert [r.api_id for r in server.order_requests] == ["kt10000"]
    finally:
        await broker.stop()
        await server.stop()


@pytest.mark.parametrize("style", ["dict", "bare", "dict_seq"])
async def test_every_ping_form_is_echoed_as_sent(style: PingStyle, tmp_path: Path) -> None:
    server = new_fake(ws=WsSettings(ping_interval=0.1, ping_style=style, ping_miss_limit=2))
    await server.start()
    broker = KiwoomBroker(kiwoom_config(server), tmp_path, clock=Clock())
    sink = Recorder()
    try:
        await broker.start(sink)
        await eventually(
            lambda: (c := newest(server)) is not None and c.pings_answered >= 3, 5, "three PINGs echoed"
        )
        conn = newest(server)
        assert conn is not None and conn.ping_mismatches == 0 and broker.stream.pings >= 3
        assert sink.connections == [True]  # never closed for a missed heartbeat
    finally:
        await broker.stop()
        await server.stop()


async def test_a_silent_socket_is_given_up_and_opened_again(tmp_path: Path) -> None:
    server = new_fake(ws=WsSettings(ping_interval=60.0))  # nothing comes: no PING, no ticks
    await server.start()
    broker = KiwoomBroker(kiwoom_config(server), tmp_path, clock=Clock())
    broker.stream.silence_timeout = 0.5
    sink = Recorder()
    try:
        await broker.start(sink)
        await eventually(lambda: broker.stream.connects >= 2, 10, "a second connection")
        assert sink.connections[:3] == [True, False, True]
    finally:
        await broker.stop()
        await server.stop()


async def test_the_token_is_issued_once_and_reused_across_a_restart(fake: FakeKiwoom, tmp_path: Path) -> None:
    for _ in range(2):
        engine = engine_for(fake, tmp_path / "data")
        await engine.start()
        await engine.wait_ready(15)
        await engine.stop()
    assert len(fake.tokens_issued) == 1
    path = tmp_path / "data" / "kiwoom_token.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KEY not in path.read_text() and SECRET not in path.read_text()


# ---- the agent process: the console ----------------------------------------------------------------


async def quit_agent(agent: Agent) -> str:
    """End of input: the agent must stop cleanly; everything it printed, stderr included."""
    code = await agent.finish()
    assert code == 0, agent.output[-4000:]
    return agent.output


def agent_env(fake: FakeKiwoom, data: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(
        data,
        BROKER="kiwoom",
        KIWOOM_ENV="paper",
        KIWOOM_APP_KEY=KEY,
        KIWOOM_SECRET_KEY=SECRET,
        KIWOOM_REST_URL=fake.url,
        KIWOOM_WS_URL=fake.ws_url,
        AUTO_LEAVE_GRACE_SECONDS="0",
        AUTO_AT_OPEN="no",
        LOG_LEVEL="debug",
        **extra,
    )


async def start_agent(env: dict[str, str]) -> Agent:
    agent = await Agent.start(env)
    await agent.until("[PAPER]")
    return agent


def assert_no_secret(fake: FakeKiwoom, data: Path, *outputs: str) -> None:
    secrets = [KEY, SECRET, *(t.token for t in fake.tokens_issued)]
    texts = list(outputs) + [p.read_text(errors="replace") for p in (data / "logs").glob("*")]
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret was printed or logged"


async def test_the_console_drives_kiwoom_and_a_restart_reuses_the_token_and_reconciles(
    tmp_path: Path,
) -> None:
    # The published request budgets, enforced by the fake: the adapter paces itself to them,
    # and a 1700 it meets all the same (a restart within the second) is waited out.
    fake = new_fake(rate_limits="env")
    fake.set_condition_members("0", ["035720"])
    await fake.start()
    data = tmp_path / "data"
    env = agent_env(fake, data)
    agent = await start_agent(env)
    try:
        agent.send("/conditions")
        await agent.until("saved conditions at kiwoom")
        assert "급등주" in await agent.until("급등주")
        # /subscribe -> 0B ticks -> a breakout signal -> kt10000 -> a 00 fill -> the position
        agent.send("/subscribe 005930 breakout 3 k=0.05 tp=50 sl=50 trail=0")
        await agent.until("subscribed 005930")
        await eventually(lambda: ("0B", "005930") in registered(fake), 10, "the 0B registration")
        tape = fake.tape.symbols["005930"]
        yesterday = tape.history[0]
        price = round_up(tape.open + round(0.05 * (yesterday.high - yesterday.low)))
        await fake.trade("005930", price, qty=20, side="buy")
        await eventually(lambda: len(new_orders(fake)) == 1, 10, "the strategy's kt10000")
        await fake.trade("005930", price, qty=20, side="sell")
        await agent.until("FILL   BUY 3 005930")
        agent.send("/positions")
        assert "      3 @" in await agent.until("005930 삼성전자")
        # /cancel removes the registration
        agent.send("/subscribe 000660 watch")
        await agent.until("subscribed 000660")
        await eventually(lambda: ("0B", "000660") in registered(fake), 10, "000660 registered")
        agent.send("/cancel 000660")
        await agent.until("000660")
        await eventually(lambda: ("0B", "000660") not in registered(fake), 10, "000660 removed")
        # /auto on: the snapshot and an enter are subscribed, a flat leaver is cancelled
        agent.send("/auto on 급등주 watch")
        await agent.until("following 급등주 with watch")
        await agent.until("added 035720")
        await fake.condition_enter("0", "035420")
        await agent.until("added 035420")
        await fake.condition_leave("0", "035720")
        await agent.until("removed 035720")
        await eventually(lambda: ("0B", "035720") not in registered(fake), 10, "035720 removed")
        # A resting buy that fills while the agent is down.
        lower = daily_limits(fake.tape.symbols["005380"].base).lower
        agent.send(f"/buy 005380 2 {lower}")
        await agent.until("order sent:")
        first_run = await quit_agent(agent)
    finally:
        if agent.proc.returncode is None:
            agent.proc.kill()
            await agent.proc.wait()
    assert len(fake.tokens_issued) == 1
    (resting,) = [o for o in fake.orders if o.code == "005380"]
    await fake.trade("005380", lower, qty=2, side="sell")
    assert resting.filled == 2
    agent = await start_agent(env)
    try:
        await agent.until("Reconciled at start-up")
        agent.send("/positions")
        assert "      2 @" in await agent.until("005380")
        second_run = await quit_agent(agent)
    finally:
        if agent.proc.returncode is None:
            agent.proc.kill()
            await agent.proc.wait()
    await fake.stop()
    assert len(fake.tokens_issued) == 1  # the restart used the token on disk
    journal = Journal(data / "journal.db")
    await journal.open()
    try:
        fills = {(f.symbol, f.qty) for f in await journal.fills()}
    finally:
        await journal.close()
    assert fills == {("005930", 3), ("005380", 2)}
    assert "Traceback" not in first_run + second_run
    assert_no_secret(fake, data, first_run, second_run)


def test_real_trading_without_live_trading_refuses_to_start(tmp_path: Path) -> None:
    import subprocess

    real_key, real_secret = DEFAULT_KEYS["real"]
    env = subprocess_env(
        tmp_path / "data",
        BROKER="kiwoom",
        KIWOOM_ENV="real",
        KIWOOM_APP_KEY=real_key,
        KIWOOM_SECRET_KEY=real_secret,
    )
    env.pop("LIVE_TRADING", None)
    proc = subprocess.run(
        [PYTHON, "-m", "bot"], input="quit\n", capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "KIWOOM_ENV=real" in out and "LIVE_TRADING=yes" in out, out
    assert real_key not in out and real_secret not in out and "Traceback" not in out
    assert not (tmp_path / "data" / "kiwoom_token.json").exists()
    assert re.search(r"(?m)^- KIWOOM_ENV=real trades real money", out), out


async def test_chart_right_after_subscribing_starts_at_the_open(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 12, 1, 10, 30, tzinfo=SEOUL))
    fake = new_fake(clock=clock, history_minutes=90)  # 09:00 to 10:29
    await fake.start()
    base = EngineConfig()
    engine = Engine(
        replace(base, data_dir=tmp_path / "data", broker="kiwoom", broker_settings=kiwoom_config(fake)),
        clock=clock,
    )
    await engine.start()
    try:
        await engine.ensure_instrument("005930")
        await engine.subscriptions.subscribe("005930", "watch")
        await eventually(lambda: len(engine.bars["005930"]) >= 90, 20, "the day's bars")
        first = engine.bars["005930"].bars()[0]
        opened = datetime.fromtimestamp(first.start_ns / 1e9, SEOUL)
        assert (opened.hour, opened.minute) == (9, 0), opened
    finally:
        await engine.stop()
        await fake.stop()
