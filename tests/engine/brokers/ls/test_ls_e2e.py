"""The real engine and LS adapter against the protocol-faithful fake LS (tests/fakels), over
real sockets; the console items through `python -m bot` as a subprocess with BROKER=ls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from engine import events as ev
from engine.brokers.base import ConditionInfo
from engine.brokers.ls.client import LsBroker
from engine.brokers.ls.codec import is_success
from engine.brokers.ls.config import LsConfig
from engine.clock import SEOUL, Clock
from engine.config import EngineConfig
from engine.core import Engine
from engine.orders import OrderIntent
from engine.ordertypes import cumulative_fill_id
from tests.agent import Agent
from tests.conftest import eventually, subprocess_env
from tests.engine.brokers.contract.pairs import RecordingSink
from tests.fakels import PAPER_APP_KEY, PAPER_APP_SECRET, REAL_APP_KEY, REAL_APP_SECRET, FakeLS
from tests.fakels.codes import SUCCESS_CODES

MID_SESSION = datetime(2026, 12, 1, 10, 30, tzinfo=SEOUL)  # a Tuesday, a trading day
ACCOUNT_FEEDS = {(tr, "") for tr in ("SC0", "SC1", "SC2", "SC3", "SC4")}


def ls_config(
    fake: FakeLS, env: str = "paper", ws_path: str = "/websocket", key: tuple[str, str] | None = None
) -> LsConfig:
    app_key, secret = key or (
        (REAL_APP_KEY, REAL_APP_SECRET) if env == "real" else (PAPER_APP_KEY, PAPER_APP_SECRET)
    )
    return LsConfig(
        env=env,
        app_key=app_key,
        app_secret=secret,
        user_id=fake.user_id,
        rest_url=fake.url,
        ws_url=fake.ws_url + ws_path,
    )


def engine_for(
    fake: FakeLS,
    data_dir: Path,
    env: str = "paper",
    clock: Clock | None = None,
    config: LsConfig | None = None,
) -> Engine:
    base = EngineConfig()
    return Engine(
        replace(
            base,
            data_dir=data_dir,
            broker="ls",
            broker_settings=config or ls_config(fake, env),
            live_trading=env == "real",
            risk=replace(base.risk, max_order_value=10**9, max_position_value=10**9),
            defaults=replace(base.defaults, leave_grace=0.05),
        ),
        clock=clock,
    )


def newest_subs(fake: FakeLS) -> set[tuple[str, str]]:
    conns = fake.connections
    return max(conns, key=lambda c: c.id).subscriptions if conns else set()


@pytest.fixture
def clock() -> Clock:
    return Clock(MID_SESSION)


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeLS]:
    # LS's per-TR limits as the fake guesses them: the adapter must pace itself under them.
    server = FakeLS(clock=clock)
    server.pause_tape()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def paper(fake: FakeLS, tmp_path: Path, clock: Clock) -> AsyncIterator[Engine]:
    engine = engine_for(fake, tmp_path / "data", clock=clock)
    await engine.start()
    await engine.wait_ready(20)
    yield engine
    await engine.stop()


@pytest.fixture
async def real(fake: FakeLS, tmp_path: Path, clock: Clock) -> AsyncIterator[Engine]:
    engine = engine_for(fake, tmp_path / "data", "real", clock)
    await engine.start()
    await engine.wait_ready(20)
    yield engine
    await engine.stop()


# ---- the money path -------------------------------------------------------------------------


async def test_subscribe_s3_ticks_signal_order_sc1_fill_position_journal(paper: Engine, fake: FakeLS) -> None:
    engine = paper
    inst = await engine.ensure_instrument("005930")
    events = engine.bus.subscribe()
    await engine.subscriptions.subscribe(
        "005930", "breakout", qty=3, params={"k": 0.05, "tp": 50, "sl": 50, "trail": 0}
    )
    await eventually(lambda: ("S3_", "005930") in newest_subs(fake), 5, "the S3_ registration")
    target = engine.subscriptions.strategies["005930"].target  # type: ignore[attr-defined]
    trade_at = max(target, inst.open)
    trade_at += -trade_at % 100  # on the 100-won grid at this price
    await fake.push_trade("005930", trade_at, qty=50)  # the S3_ tick that crosses the target
    await eventually(lambda: engine.portfolio.qty("005930") == 3, 10, "the SC1 fill")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("SignalEvent") < kinds.index("OrderAccepted") < kinds.index("FillEvent")
    (sent,) = [r for r in fake.order_requests if r.tr_cd == "CSPAT00601"]
    block = sent.body["CSPAT00601InBlock1"]
    assert (block["IsuNo"], block["OrdQty"], block["BnsTpCode"], block["OrdprcPtnCode"]) == (
        "A005930",
        3,
        "2",
        "00",
    )  # paper needs "A"+code; a number sent as a JSON number
    (order,) = [o for o in fake.orders if o.kind == "new"]
    (fill,) = await engine.journal.fills()
    assert (fill.fill_id, fill.qty, fill.price) == (
        cumulative_fill_id(str(order.ordno), 3, MID_SESSION.date()),
        3,
        trade_at,
    )
    assert fill.commission == int(3 * trade_at * 0.00015)
    (journaled,) = await engine.journal.orders()
    assert journaled.broker_order_id == str(order.ordno) and journaled.status == "filled"
    assert (await engine.broker.account()).positions == {"005930": 3}


async def test_kosdaq_uses_k3_and_cancel_unsubscribes(paper: Engine, fake: FakeLS) -> None:
    engine = paper
    for code in ("247540", "000660"):
        await engine.ensure_instrument(code)
        await engine.subscriptions.subscribe(code, "watch")
    await eventually(
        lambda: {("K3_", "247540"), ("S3_", "000660")} <= newest_subs(fake),
        5,
        "K3_ for the KOSDAQ symbol, S3_ for the KOSPI one",
    )
    assert ("S3_", "247540") not in newest_subs(fake)
    before = engine.feed.ticks
    await fake.push_trade("247540", fake.instrument("247540").base, qty=2)
    await eventually(lambda: engine.feed.ticks > before, 5, "a K3_ tick")
    await engine.subscriptions.cancel("247540")
    await eventually(lambda: ("K3_", "247540") not in newest_subs(fake), 5, "the K3_ removal")
    assert ACCOUNT_FEEDS | {("S3_", "000660")} <= newest_subs(fake)  # the rest stays
    # The handshake headers a third party says LS's firewall wants (brokers.md 1.1).
    handshake = fake.connections[-1].request.headers
    assert handshake.get("User-Agent") and handshake.get("Accept-Language", "").startswith("ko")


async def test_frames_that_do_not_read_are_said_and_skipped(paper: Engine, fake: FakeLS) -> None:
    engine = paper
    await engine.ensure_instrument("005930")
    await engine.subscriptions.subscribe("005930", "watch")
    await eventually(lambda: ("S3_", "005930") in newest_subs(fake), 5, "the registration")
    broker = engine.broker
    for junk in (
        "not json",
        {"header": {"tr_cd": "S3_", "tr_key": "005930"}, "body": {"price": "abc"}},
        {"header": {"tr_cd": "ZZ9"}, "body": {}},
    ):
        await fake.send_raw(junk)
    await eventually(lambda: broker.bad_frames == 3, 5, "three frames said")  # type: ignore[attr-defined]
    before = engine.feed.ticks
    await fake.push_trade("005930", fake.instrument("005930").base, qty=1)
    await eventually(lambda: engine.feed.ticks > before, 5, "ticks still flowing")
    assert broker.connected


async def test_rate_refusals_and_an_ambiguous_5xx_make_one_order_each(paper: Engine, fake: FakeLS) -> None:
    engine = paper
    await engine.ensure_instrument("005930")
    fake.rate_error_next("CSPAT00601", n=2)
    first = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "test", "rate", "r1", is_auto=False)
    )
    assert first.order is not None and first.order.broker_order_id is not None
    rated = [r for r in fake.order_requests if r.rsp_cd == "IGW00201"]
    assert len(rated) == 2  # waited out and sent again: LS's gateway had refused both
    fake.fail_next_order_after_create(502)
    second = await engine.orders.submit(
        OrderIntent("005930", "buy", 2, None, "test", "5xx", "r2", is_auto=False)
    )
    assert second.order is not None and second.order.status != "unknown"
    new_orders = [o for o in fake.orders if o.kind == "new"]
    assert len(new_orders) == 2  # one per intent: the retry after the 502 adopted its order
    assert {str(o.ordno) for o in new_orders} == {first.order.broker_order_id, second.order.broker_order_id}
    created = [r for r in fake.order_requests if r.ordno]
    assert len(created) == 2
    await eventually(lambda: engine.portfolio.qty("005930") == 3, 10, "both fills")


async def test_a_fill_before_the_rest_answer_is_matched(paper: Engine, fake: FakeLS) -> None:
    engine = paper
    await engine.ensure_instrument("005930")
    events = engine.bus.subscribe()
    fake.fill_next_order_before_answer()
    res = await engine.orders.submit(
        OrderIntent("005930", "buy", 4, None, "test", "race", "race", is_auto=False)
    )
    assert res.order is not None
    await eventually(lambda: engine.portfolio.qty("005930") == 4, 10, "the early fill applied")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    assert not [e for e in seen if isinstance(e, ev.AlertEvent) and e.title == "Unknown order"]


async def test_expired_token_is_renewed_once(paper: Engine, fake: FakeLS) -> None:
    assert fake.tokens_issued == 1
    fake.expire_tokens()
    inst = await paper.ensure_instrument("000660")
    assert inst.name == "SK하이닉스" and fake.tokens_issued == 2


async def test_a_token_refused_on_the_websocket_is_renewed(paper: Engine, fake: FakeLS) -> None:
    await paper.ensure_instrument("000660")
    first = max(c.id for c in fake.connections)
    fake.expire_tokens()  # the subscription below carries the old token: LS refuses it
    await paper.subscriptions.subscribe("000660", "watch")
    await eventually(
        lambda: (
            max((c.id for c in fake.connections), default=0) > first
            and ("S3_", "000660") in newest_subs(fake)
        ),
        15,
        "registered again on a new connection, with a new token",
    )
    assert fake.tokens_issued == 2


async def test_chart_right_after_subscribing_starts_at_the_open(paper: Engine, fake: FakeLS) -> None:
    fake.seed_history("005930", 90)  # 09:00 to 10:29
    await paper.ensure_instrument("005930")
    await paper.subscriptions.subscribe("005930", "watch")
    await eventually(lambda: len(paper.bars["005930"]) >= 90, 20, "the day's bars")
    first = paper.bars["005930"].bars()[0]
    opened = datetime.fromtimestamp(first.start_ns / 1e9, SEOUL)
    assert (opened.hour, opened.minute) == (9, 0), opened


# ---- connections and restarts -----------------------------------------------------------------


async def test_dropped_socket_restores_every_subscription_afr_included(real: Engine, fake: FakeLS) -> None:
    engine = real
    fake.set_condition_members("testID0000", ["000660"])
    for code in ("005930", "247540"):
        await engine.ensure_instrument(code)
        await engine.subscriptions.subscribe(code, "watch")
    await engine.auto.enable("테스트1", "watch")
    await eventually(lambda: "000660" in engine.subscriptions, 10, "the current match")
    (alert,) = [a for a, r in fake.condition_registrations.items() if r.active]
    wanted = ACCOUNT_FEEDS | {("S3_", "005930"), ("K3_", "247540"), ("S3_", "000660"), ("AFR", alert)}
    await eventually(lambda: wanted <= newest_subs(fake), 10, "every registration")
    first = max(c.id for c in fake.connections)
    assert await fake.drop_websockets() >= 1
    await fake.condition_leave("testID0000", "000660")  # while down: nobody hears the push
    await eventually(
        lambda: (
            bool(fake.connections)
            and max(c.id for c in fake.connections) > first
            and wanted <= newest_subs(fake)
        ),
        15,
        "every registration on the new socket",
    )
    # The leave missed while down comes from t1859 after the reconnect; the feed goes on.
    await eventually(lambda: "000660" not in engine.subscriptions, 10, "the missed leave")
    await fake.condition_enter("testID0000", "035420")
    await eventually(lambda: "035420" in engine.subscriptions, 10, "an entry after the reconnect")
    assert [a for a, r in fake.condition_registrations.items() if r.active] == [alert]
    # Paced under LS's per-TR limits (the fake's guesses): never refused for the rate.
    assert not [r for r in fake.requests if r.rsp_cd == "IGW00201"]


async def test_restart_reuses_the_token_and_reconciles(fake: FakeLS, tmp_path: Path, clock: Clock) -> None:
    data = tmp_path / "data"
    engine = engine_for(fake, data, clock=clock)
    await engine.start()
    await engine.wait_ready(20)
    inst = await engine.ensure_instrument("005930")
    placed = await engine.orders.submit(
        OrderIntent("005930", "buy", 5, inst.lower_limit, "test", "rest", "k-rest", is_auto=False)
    )
    assert placed.order is not None and placed.order.broker_order_id is not None
    number = placed.order.broker_order_id
    await engine.stop()
    await fake.push_trade("005930", inst.lower_limit, qty=2, side="sell")  # fills while down
    assert fake.order(int(number)).filled == 2
    engine = engine_for(fake, data, clock=clock)
    await engine.start()
    try:
        await engine.wait_ready(20)
        assert engine.portfolio.qty("005930") == 2  # the missed fill, from t0425's totals
        (fill,) = await engine.journal.fills()
        assert (fill.fill_id, fill.qty, fill.price) == (
            cumulative_fill_id(number, 2, MID_SESSION.date()),
            2,
            inst.lower_limit,
        )
        assert [o.broker_order_id for o in await engine.broker.open_orders()] == [number]
    finally:
        await engine.stop()
    assert fake.tokens_issued == 1
    assert oct((data / "ls_token.json").stat().st_mode & 0o777) == "0o600"


async def test_a_search_left_running_is_stopped_at_the_next_start_and_renewed(
    fake: FakeLS, tmp_path: Path, clock: Clock
) -> None:
    data = tmp_path / "data"
    crashed, crashed_sink = LsBroker(ls_config(fake, "real"), data, clock=clock), RecordingSink()
    await crashed.start(crashed_sink)
    await crashed.watch_condition(ConditionInfo("testID0000", "테스트1"))
    (alert,) = [a for a, r in fake.condition_registrations.items() if r.active]
    # The process dies here: its search runs on at LS, using one of the few slots.
    restarted = LsBroker(ls_config(fake, "real"), data, clock=clock)
    await restarted.start(RecordingSink())
    try:
        assert not fake.condition_registrations[alert].active
        # The first instance (not dead after all) finds its key refused on its next connection:
        # it starts a new search for the condition and follows that one.
        assert await fake.drop_websockets() >= 1
        await eventually(
            lambda: len([r for r in fake.condition_registrations.values() if r.active]) == 1,
            15,
            "a new search",
        )
        (renewed,) = [a for a, r in fake.condition_registrations.items() if r.active]
        await eventually(
            lambda: any(("AFR", renewed) in c.subscriptions for c in fake.connections),
            10,
            "its AFR registration",
        )
        await fake.condition_enter("testID0000", "005930")
        await eventually(
            lambda: [(c.symbol, c.event) for c in crashed_sink.conditions] == [("005930", "enter")],
            10,
            "the entry through the new search",
        )
    finally:
        await restarted.stop()
        await crashed.stop()


async def test_revoke_ends_the_token_at_ls_and_here(fake: FakeLS, tmp_path: Path, clock: Clock) -> None:
    broker = LsBroker(ls_config(fake), tmp_path / "data", clock=clock)
    await broker.start(RecordingSink())
    try:
        assert await broker.revoke()
        assert [t.revoked for t in fake.tokens] == [True]
        assert not await broker.revoke()  # nothing left to revoke
        await broker.account()  # a new token, asked for on the next request
        assert fake.tokens_issued == 2
    finally:
        await broker.stop()


async def test_a_real_key_declared_paper_is_refused_before_any_order(
    fake: FakeLS, tmp_path: Path, clock: Clock
) -> None:
    config = ls_config(fake, "paper", key=(REAL_APP_KEY, REAL_APP_SECRET))
    engine = engine_for(fake, tmp_path / "data", clock=clock, config=config)
    await engine.start()
    try:
        await eventually(lambda: "LS_ENV=paper" in engine.controls.broker_state, 10, "the refusal said")
        assert "real account" in engine.controls.broker_state
        assert not fake.order_requests and not fake.connections
    finally:
        await engine.stop()


async def test_a_refused_secret_is_said_without_showing_it(
    fake: FakeLS, tmp_path: Path, clock: Clock
) -> None:
    wrong = "wrongSecret0123456789abcdefghijklmno"
    engine = engine_for(
        fake, tmp_path / "data", clock=clock, config=ls_config(fake, key=(PAPER_APP_KEY, wrong))
    )
    await engine.start()
    try:
        await eventually(
            lambda: "credentials refused" in engine.controls.broker_state, 10, "the refusal said"
        )
        state = engine.controls.broker_state
        assert "LS_APP_KEY / LS_APP_SECRET" in state and wrong not in state
        assert not fake.tokens and not fake.connections
    finally:
        await engine.stop()


# ---- the console, as a user runs it -----------------------------------------------------------


def agent_env(fake: FakeLS, data: Path, env: str, **extra: str) -> dict[str, str]:
    key, secret = (REAL_APP_KEY, REAL_APP_SECRET) if env == "real" else (PAPER_APP_KEY, PAPER_APP_SECRET)
    return subprocess_env(
        data,
        BROKER="ls",
        LS_ENV=env,
        LS_APP_KEY=key,
        LS_APP_SECRET=secret,
        LS_USER_ID=fake.user_id,
        LS_REST_URL=fake.url,
        # the other path the sources give, to show it is configurable
        LS_WS_URL=fake.ws_url + "/websocket/stock",
        AUTO_AT_OPEN="no",
        AUTO_LEAVE_GRACE_SECONDS="0",
        LOG_LEVEL="debug",
        **extra,
    )


def assert_no_secret(fake: FakeLS, data: Path, output: list[str]) -> None:
    secrets = {
        REAL_APP_KEY,
        REAL_APP_SECRET,
        PAPER_APP_KEY,
        PAPER_APP_SECRET,
        *(t.token for t in fake.tokens),
    }
    texts = ["\n".join(output)]
    texts += [p.read_text(errors="replace") for p in (data / "logs").glob("*") if p.is_file()]
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret was printed or logged"


async def test_console_real_account_subscribe_conditions_auto(fake: FakeLS, tmp_path: Path) -> None:
    data = tmp_path / "data"
    fake.set_condition_members("testID0000", ["035420"])
    agent = await Agent.start(agent_env(fake, data, "real", LIVE_TRADING="yes"))
    try:
        await agent.until("LIVE TRADING on ls")
        await eventually(lambda: newest_subs(fake) >= ACCOUNT_FEEDS, 20, "the account feeds")
        assert fake.ws_paths_used[-1] == "/websocket/stock"
        agent.send("/subscribe 005930 watch")
        await agent.until("subscribed 005930")
        agent.send("/subscribe 247540 watch")
        await agent.until("subscribed 247540")
        await eventually(
            lambda: {("S3_", "005930"), ("K3_", "247540")} <= newest_subs(fake), 5, "S3_ and K3_"
        )
        agent.send("/cancel 247540")
        await agent.until("cancelled 247540")
        await eventually(lambda: ("K3_", "247540") not in newest_subs(fake), 5, "the removal")
        agent.send("/conditions")
        await agent.until("saved conditions at ls")
        assert "테스트1" in await agent.until("testID0000")
        agent.send("/auto on 테스트1 watch")
        await agent.until("following 테스트1 with watch")
        await agent.until("SUB    added 035420")  # matching already: t1859
        await fake.condition_enter("testID0000", "000660")  # AFR N
        await agent.until("SUB    added 000660")
        await fake.condition_leave("testID0000", "000660")  # AFR O, flat: cancelled
        await agent.until("SUB    removed 000660")
        (alert,) = [a for a, r in fake.condition_registrations.items() if r.active]
        assert ("AFR", alert) in newest_subs(fake)
        assert await agent.finish() == 0
    finally:
        agent.kill()
    # t1866 back to back (/conditions, then /auto on resolving the name), and every other TR:
    # paced, so never refused for the rate.
    assert len([r for r in fake.requests if r.tr_cd == "t1866"]) >= 2
    assert not [r for r in fake.requests if r.rsp_cd == "IGW00201"]
    # Stopped at LS on the way out: a search left running would use up one of its few slots.
    assert not [r for r in fake.condition_registrations.values() if r.active]
    assert_no_secret(fake, data, agent.lines)


async def test_console_paper_refuses_auto_clearly(fake: FakeLS, tmp_path: Path) -> None:
    data = tmp_path / "data"
    agent = await Agent.start(agent_env(fake, data, "paper"))
    try:
        await agent.until("[PAPER]")
        agent.send("/auto on 테스트1 watch")
        line = await agent.until("error:")
        assert "real accounts only" in line
        agent.send("/conditions")
        assert "real accounts only" in await agent.until("error:")
        assert await agent.finish() == 0
    finally:
        agent.kill()
    assert not [r for r in fake.requests if r.tr_cd in ("t1866", "t1859", "t1860")]
    assert_no_secret(fake, data, agent.lines)


async def test_real_without_live_trading_refuses_to_start(fake: FakeLS, tmp_path: Path) -> None:
    data = tmp_path / "data"
    agent = await Agent.start(agent_env(fake, data, "real"))
    try:
        code = await agent.finish()
    finally:
        agent.kill()
    output = "\n".join(agent.lines)
    assert code == 2, output
    assert "LS_ENV=real" in output and "LIVE_TRADING=yes" in output
    assert not fake.tokens and not fake.requests  # nothing was asked of LS
    assert_no_secret(fake, data, agent.lines)


def test_success_codes_the_fake_uses_are_successes_to_the_adapter() -> None:
    # Guards the cross-check itself: were the two to disagree on a success, a case above could
    # pass for the wrong reason.
    assert all(is_success(code) for code in SUCCESS_CODES)
