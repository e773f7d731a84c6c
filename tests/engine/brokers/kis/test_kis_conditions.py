"""KIS condition search (psearch, polled; real accounts only) and intraday bars, through the
command layer, against the fake KIS in its real environment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from bot.commands import results as r
from bot.commands.context import CommandError, Invocation, Role
from bot.commands.layer import CommandLayer
from engine.brokers.kis.config import KisConfig
from engine.clock import SEOUL, Clock
from engine.config import EngineConfig
from engine.core import Engine
from tests.conftest import eventually
from tests.fakekis import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, FakeKis

POLL_S = 0.3
MID_SESSION = datetime(2026, 12, 1, 10, 30, tzinfo=SEOUL)  # a Tuesday, a trading day
ADMIN = Invocation("test", "test", Role.ADMIN, "kis-conditions")


def engine_for(fake: FakeKis, data_dir: Path, env: str, clock: Clock) -> Engine:
    settings = KisConfig(
        env=env,
        app_key=DEFAULT_APP_KEY,
        app_secret=DEFAULT_APP_SECRET,
        account="12345678-01",
        hts_id="testuser",
        rest_url=fake.url,
        ws_url=fake.ws_url + "/tryitout",
        requests_per_second=20.0,
        condition_poll_seconds=POLL_S,
    )
    base = EngineConfig()
    return Engine(
        replace(
            base,
            data_dir=data_dir,
            broker="kis",
            broker_settings=settings,
            live_trading=env == "real",
            defaults=replace(base.defaults, leave_grace=0.05),
        ),
        clock=clock,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(MID_SESSION)


async def running(env: str, tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Engine, FakeKis]]:
    fake = FakeKis(env=env, rate_limit="env", clock=clock)  # type: ignore[arg-type]
    await fake.start()
    engine = engine_for(fake, tmp_path / "data", env, clock)
    await engine.start()
    try:
        yield engine, fake
    finally:
        await engine.stop()
        await fake.stop()


@pytest.fixture
async def real(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Engine, FakeKis]]:
    async for pair in running("real", tmp_path, clock):
        yield pair


@pytest.fixture
async def paper(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Engine, FakeKis]]:
    async for pair in running("paper", tmp_path, clock):
        yield pair


def result_polls(fake: FakeKis) -> int:
    return sum(1 for p in fake.psearch_requests if p.seq)


async def test_conditions_are_listed_with_their_names(real: tuple[Engine, FakeKis]) -> None:
    engine, _ = real
    listed = await CommandLayer(engine).execute(ADMIN, "conditions", {})
    assert isinstance(listed, r.ConditionList)
    assert [(c.condition_id, c.name) for c in listed.rows] == [
        ("0", "급등주"),
        ("1", "거래량급증"),
        ("2", "신고가"),
    ]


async def test_auto_follows_a_polled_condition(real: tuple[Engine, FakeKis]) -> None:
    engine, fake = real
    layer = CommandLayer(engine)
    fake.condition_enter("0", "005930")  # already matching: an entry when watching starts
    state = await layer.execute(ADMIN, "auto", {"mode": "on", "condition": "급등주", "strategy": "watch"})
    assert isinstance(state, r.AutoState) and [w.name for w in state.watches] == ["급등주"]
    await eventually(lambda: "005930" in engine.subscriptions, 10, "the current match")
    # A new entry is subscribed by the first poll after it, i.e. within one interval.
    polls = result_polls(fake)
    fake.condition_enter("0", "000660")
    await eventually(lambda: "000660" in engine.subscriptions, 10, "the entry")
    assert result_polls(fake) - polls <= 2  # the poll in flight, then the one that saw it
    assert engine.subscriptions.records["000660"].source == "auto:0"
    fake.condition_leave("0", "000660")  # flat: cancelled once it has left
    await eventually(lambda: "000660" not in engine.subscriptions, 10, "the cancel after leaving")
    assert "005930" in engine.subscriptions
    off = await layer.execute(ADMIN, "auto", {"mode": "off"})
    assert isinstance(off, r.AutoState) and not off.watches
    polls = result_polls(fake)
    fake.condition_enter("0", "035720")
    # Stopped: with a second condition watched its polls go on, and none is for "0".
    await layer.execute(ADMIN, "auto", {"mode": "on", "condition": "1", "strategy": "watch"})
    await eventually(lambda: result_polls(fake) > polls + 2, 10, "the other condition's polls")
    assert "035720" not in engine.subscriptions
    assert {p.seq for p in fake.psearch_requests[-2:]} == {"1"}


async def test_orders_go_ahead_of_polls(real: tuple[Engine, FakeKis]) -> None:
    engine, _ = real
    pacer = engine.broker.http.pacer  # type: ignore[attr-defined]
    await engine.auto.enable("0", "watch")
    await engine.auto.enable("1", "watch")
    await engine.auto.enable("2", "watch")
    before = dict(pacer.granted)
    await eventually(lambda: pacer.granted[1] > before[1] + 3, 10, "polls running")
    from engine.orders import OrderIntent

    inst = await engine.ensure_instrument("005930")
    result = await engine.orders.submit(
        OrderIntent("005930", "buy", 1, inst.lower_limit, "test", "order while polling", "k-poll", False)
    )
    assert result.order is not None and result.order.broker_order_id
    assert pacer.granted[0] >= 1


async def test_paper_refuses_auto_with_the_reason(paper: tuple[Engine, FakeKis]) -> None:
    engine, fake = paper
    layer = CommandLayer(engine)
    for name, args in (("auto", {"mode": "on", "condition": "급등주"}), ("conditions", {})):
        with pytest.raises(CommandError, match="real accounts only"):
            await layer.execute(ADMIN, name, args)
    assert not engine.auto.watches and not fake.psearch_requests


async def test_chart_right_after_subscribing_starts_at_the_open(paper: tuple[Engine, FakeKis]) -> None:
    engine, _ = paper
    await engine.ensure_instrument("005930")
    await engine.subscriptions.subscribe("005930", "watch")
    await eventually(lambda: len(engine.bars["005930"]) > 60, 20, "the day's bars")
    first = engine.bars["005930"].bars()[0]
    opened = datetime.fromtimestamp(first.start_ns / 1e9, SEOUL)
    assert (opened.hour, opened.minute) == (9, 0), opened
