"""The real engine and KIS adapter against the protocol-faithful fake KIS (tests/fakekis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from engine import events as ev
from engine.brokers.kis.config import KisConfig
from engine.config import EngineConfig
from engine.core import Engine
from engine.orders import OrderIntent
from engine.subscriptions import SubscriptionError
from tests.conftest import eventually
from tests.fakekis import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, FakeKis


def kis_config(fake: FakeKis) -> KisConfig:
    return KisConfig(
        env="paper",
        app_key=DEFAULT_APP_KEY,
        app_secret=DEFAULT_APP_SECRET,
        account="12345678-01",
        hts_id="testuser",
        rest_url=fake.url,
        ws_url=fake.ws_url + "/tryitout",
        requests_per_second=20.0,
    )


def engine_for(fake: FakeKis, data_dir: Path) -> Engine:
    base = EngineConfig()
    return Engine(
        replace(
            base,
            data_dir=data_dir,
            broker="kis",
            broker_settings=kis_config(fake),
            risk=replace(base.risk, max_order_value=10**9, max_position_value=10**9),
        )
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeKis]:
    server = FakeKis(env="paper", rate_limit=20.0, pingpong_interval=1.0)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def engine(fake: FakeKis, tmp_path: Path) -> AsyncIterator[Engine]:
    eng = engine_for(fake, tmp_path / "data")
    await eng.start()
    yield eng
    await eng.stop()


def registered(fake: FakeKis) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for regs in fake.registrations.values():
        out |= set(regs)
    return out


async def test_subscribe_signal_order_encrypted_fill_position_journal(engine: Engine, fake: FakeKis) -> None:
    fake.pause_tape()
    await engine.ensure_instrument("005930")
    inst = engine.instruments["005930"]
    events = engine.bus.subscribe()
    await engine.subscriptions.subscribe(
        "005930", "breakout", qty=3, params={"k": 0.05, "tp": 50, "sl": 50, "trail": 0}
    )
    await eventually(lambda: ("H0STCNT0", "005930") in registered(fake), 5, "registration")
    target = engine.subscriptions.strategies["005930"]
    price = target.target  # the breakout level
    trade_at = max(price, inst.open)
    trade_at = trade_at + (-trade_at % 100)  # on the 100-won grid at this price
    await fake.trade("005930", trade_at, qty=50)  # the tick that crosses the target
    await eventually(lambda: len(fake.orders) == 1, 5, "order-cash")
    await fake.trade("005930", trade_at, qty=50)  # the tape fills the resting limit
    await eventually(lambda: engine.portfolio.qty("005930") == 3, 5, "the fill notice")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("SignalEvent") < kinds.index("OrderAccepted") < kinds.index("FillEvent")
    (fill,) = await engine.journal.fills()
    odno = fake.orders[0].odno
    assert fill.fill_id == f"{engine.clock.today():%Y%m%d}:{odno}@3"
    assert fill.qty == 3 and fill.price == trade_at
    assert fill.commission == int(3 * trade_at * 0.00015)
    (order,) = await engine.journal.orders()
    assert order.broker_order_id == odno and order.status == "filled"
    account = await engine.broker.account()
    assert account.positions == {"005930": 3}


async def test_cancel_unregisters(engine: Engine, fake: FakeKis) -> None:
    await engine.ensure_instrument("000660")
    await engine.subscriptions.subscribe("000660", "watch")
    await eventually(lambda: ("H0STCNT0", "000660") in registered(fake), 5, "registration")
    await engine.subscriptions.cancel("000660")
    await eventually(lambda: ("H0STCNT0", "000660") not in registered(fake), 5, "unregistration")
    assert ("H0STCNI9", "testuser") in registered(fake)  # the fill notice stays


async def test_the_42nd_registration_is_refused_clearly(tmp_path: Path) -> None:
    symbols = {f"{100000 + i * 10:06d}": 10_000 + i * 10 for i in range(41)}
    fake = FakeKis(env="paper", rate_limit=None, symbols=symbols)
    await fake.start()
    engine = engine_for(fake, tmp_path / "data")
    await engine.start()
    try:
        codes = list(symbols)
        for code in codes[:40]:
            await engine.ensure_instrument(code)
            await engine.subscriptions.subscribe(code, "watch")
        assert len(registered(fake)) == 41  # 40 symbols + the fill notice
        await engine.ensure_instrument(codes[40])
        with pytest.raises(SubscriptionError, match=r"limit reached: 40 of 40 symbols \(the kis"):
            await engine.subscriptions.subscribe(codes[40], "watch")
        assert len(registered(fake)) == 41
    finally:
        await engine.stop()
        await fake.stop()


async def test_token_issued_once_and_reused_across_a_restart(fake: FakeKis, tmp_path: Path) -> None:
    for _ in range(2):
        engine = engine_for(fake, tmp_path / "data")
        await engine.start()
        await engine.stop()
    assert fake.tokens_issued == 1
    assert oct((tmp_path / "data" / "kis_token.json").stat().st_mode & 0o777) == "0o600"


async def test_dropped_socket_reconnects_and_registers_again(engine: Engine, fake: FakeKis) -> None:
    for code in ("005930", "000660"):
        await engine.ensure_instrument(code)
        await engine.subscriptions.subscribe(code, "watch")
    await eventually(lambda: len(registered(fake)) == 3, 5, "3 registrations")
    connects = fake.connections_total
    assert await fake.drop_websockets() >= 1
    await eventually(
        lambda: fake.connections_total > connects and len(registered(fake)) == 3,
        10,
        "reconnected with every registration",
    )
    assert registered(fake) == {("H0STCNI9", "testuser"), ("H0STCNT0", "005930"), ("H0STCNT0", "000660")}
    before = engine.feed.ticks
    await eventually(lambda: engine.feed.ticks > before, 5, "ticks after the reconnect")
    await eventually(lambda: fake.pingpongs_answered >= 1, 5, "a PINGPONG answered")


async def test_rate_limit_and_5xx_retries_make_one_order_each(engine: Engine, fake: FakeKis) -> None:
    await engine.ensure_instrument("005930")
    fake.fail_next_orders(1, "EGW00201")
    first = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, None, "test", "rate", "r1", is_auto=False)
    )
    assert first.order is not None and first.order.broker_order_id is not None
    fake.fail_next_orders(1, "502_after_create")
    second = await engine.orders.submit(
        OrderIntent("005930", "buy", 2, None, "test", "5xx", "r2", is_auto=False)
    )
    assert second.order is not None and second.order.status != "unknown"
    new_orders = [o for o in fake.orders if o.kind == "new"]
    assert len(new_orders) == 2  # one per intent: the 502 retry adopted the order it created
    assert {o.odno for o in new_orders} == {first.order.broker_order_id, second.order.broker_order_id}
    await eventually(lambda: engine.portfolio.qty("005930") == 3, 10, "both fills")


async def test_a_fill_notice_before_the_rest_answer_is_matched(engine: Engine, fake: FakeKis) -> None:
    await engine.ensure_instrument("005930")
    events = engine.bus.subscribe()
    fake.delay_next_order_answer(1.0)
    res = await engine.orders.submit(
        OrderIntent("005930", "buy", 4, None, "test", "race", "race", is_auto=False)
    )
    assert res.order is not None
    await eventually(lambda: engine.portfolio.qty("005930") == 4, 10, "the early fill applied")
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    assert not [e for e in seen if isinstance(e, ev.AlertEvent) and e.title == "Unknown order"]
    (order,) = [o for o in await engine.journal.orders()]
    assert order.client_order_id == res.order.client_order_id and order.filled_qty == 4
