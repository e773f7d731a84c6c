"""The websocket feed of a real sim on a free port."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from engine.sim.protocol import (
    Ack,
    Condition,
    Error,
    Heartbeat,
    Pong,
    Stats,
    TickRow,
    Ticks,
)

from .conftest import SimFactory
from .helpers import Closed, connect, wait_for

THREE = ("005930", "000660", "035720")


async def test_subscribe_acks_errors_and_only_subscribed_ticks(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=THREE, tick_rate=200.0)
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "subscribe", "symbols": ["005930", "999999", "000660"]})
    assert await ws.recv_kind(Ack) == Ack(op="subscribe", symbol="005930")
    err = await ws.recv_kind(Error)
    assert (err.op, err.code, err.symbol) == ("subscribe", "unknown_symbol", "999999")
    assert "999999" in err.message and "005930" in err.message
    assert await ws.recv_kind(Ack) == Ack(op="subscribe", symbol="000660")

    seen: set[str] = set()
    while seen != {"005930", "000660"}:
        ticks = await ws.recv_kind(Ticks)
        assert ticks.data, "a Ticks frame is never empty"
        seen.update(r.symbol for r in ticks.data)
    stats = Stats(**(await (await http.get(f"{sim.url}/admin/stats")).json()))
    assert stats.subscriptions == {"000660": 1, "005930": 1}
    assert stats.connections == 1 and stats.ticks_sent > 0

    await ws.send({"op": "unsubscribe", "symbols": ["005930"]})
    await ws.recv_kind(Ack, where=lambda a: a.op == "unsubscribe")
    # Not a quiet spell but progress: the next 20 trades after the ack are all 000660's.
    rows = 0
    while rows < 20:
        after = await ws.recv_kind(Ticks)
        assert all(r.symbol == "000660" for r in after.data), after
        rows += len(after.data)


async def test_heartbeat_ping_and_bad_messages(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(heartbeat_interval=0.1)
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "ping", "id": 7})
    assert await ws.recv_kind(Pong) == Pong(id=7)
    assert (await ws.recv_kind(Heartbeat, timeout=1.0)).ts_ns > 0
    for bad in ("not json", '{"op":"dance"}', '{"op":"ping"}'):
        await ws.ws.send_str(bad)
        err = await ws.recv_kind(Error)
        assert (err.op, err.code) == ("?", "bad_message")
        assert '{"op":"subscribe","symbols":["005930"]}' in err.message
    # The connection survives bad input.
    await ws.send({"op": "ping", "id": 8})
    assert await ws.recv_kind(Pong) == Pong(id=8)


async def test_condition_snapshot_then_live_events(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    # A threshold the tape cannot reach: only injected events happen.
    sim = await make_sim(symbols=THREE, condition_threshold_pct=29.0)
    conditions = await (await http.get(f"{sim.url}/conditions")).json()
    assert conditions[0]["name"] == "momentum"
    resp = await http.post(
        f"{sim.url}/admin/condition_events",
        json={
            "name": "momentum",
            "events": [
                {"symbol": "005930", "event": "enter"},
                {"symbol": "000660", "event": "enter"},
                {"symbol": "035720", "event": "enter"},
                {"symbol": "000660", "event": "leave"},
            ],
        },
    )
    assert resp.status == 200
    assert (await resp.json())["last_seq"] == 4
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "condition_subscribe", "name": "momentum"})
    assert await ws.recv_kind(Ack) == Ack(op="condition_subscribe", name="momentum")
    snapshot = [await ws.recv_kind(Condition) for _ in range(2)]
    # The enter events still in force, with their original seq.
    assert [(c.symbol, c.event, c.seq) for c in snapshot] == [
        ("005930", "enter", 1),
        ("035720", "enter", 3),
    ]
    await http.post(
        f"{sim.url}/admin/condition_events",
        json={"name": "momentum", "events": [{"symbol": "005930", "event": "leave"}]},
    )
    live = await ws.recv_kind(Condition)
    assert (live.symbol, live.event, live.seq) == ("005930", "leave", 5)

    await ws.send({"op": "condition_unsubscribe", "name": "momentum"})
    assert await ws.recv_kind(Ack) == Ack(op="condition_unsubscribe", name="momentum")
    await ws.send({"op": "condition_subscribe", "name": "nope"})
    err = await ws.recv_kind(Error)
    assert (err.code, err.op) == ("unknown_condition", "condition_subscribe")
    assert "momentum" in err.message


async def test_admin_burst_of_1000_events_arrives_complete_and_in_order(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(symbols=THREE, tick_rate=50.0)
    clients = [await connect(http, sim.ws_url) for _ in range(2)]
    for ws in clients:
        await ws.send({"op": "subscribe", "symbols": list(THREE)})
        await ws.send({"op": "condition_subscribe", "name": "momentum"})
        await ws.recv_kind(Ack, where=lambda a: a.op == "condition_subscribe")
    events = [
        {"symbol": THREE[i % 3], "event": "enter" if (i // 3) % 2 == 0 else "leave"} for i in range(1000)
    ]
    resp = await http.post(f"{sim.url}/admin/condition_events", json={"name": "momentum", "events": events})
    body = await resp.json()
    assert body["count"] == 1000
    assert body["last_seq"] - body["first_seq"] == 999
    for ws in clients:
        got = [await ws.recv_kind(Condition) for _ in range(1000)]
        assert [{"symbol": c.symbol, "event": c.event} for c in got] == events
        assert [c.seq for c in got] == list(range(body["first_seq"], body["last_seq"] + 1))


async def test_admin_condition_events_validation(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    sim = await make_sim()
    url = f"{sim.url}/admin/condition_events"
    resp = await http.post(url, json={"name": "nope", "events": []})
    assert (resp.status, (await resp.json())["code"]) == (404, "unknown_condition")
    resp = await http.post(url, json={"name": "momentum", "events": [{"symbol": "123456", "event": "enter"}]})
    assert (resp.status, (await resp.json())["code"]) == (400, "unknown_symbol")
    resp = await http.post(url, data=b"{")
    assert (resp.status, (await resp.json())["code"]) == (400, "malformed")


async def test_drop_connections_closes_sockets_and_clients_can_reconnect(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    clients = [await connect(http, sim.ws_url) for _ in range(2)]
    for ws in clients:
        await ws.send({"op": "subscribe", "symbols": ["005930"]})
        await ws.recv_kind(Ack)
    resp = await http.post(f"{sim.url}/admin/drop_connections")
    assert (await resp.json()) == {"closed": 2}
    for ws in clients:
        try:
            while True:
                await ws.recv(timeout=1.0)
        except Closed:
            pass
        assert ws.ws.closed
        assert ws.ws.close_code == aiohttp.WSCloseCode.SERVICE_RESTART

    async def no_connections() -> bool:
        stats = await (await http.get(f"{sim.url}/admin/stats")).json()
        return bool(stats["connections"] == 0 and stats["subscriptions"] == {})

    await wait_for(no_connections)
    again = await connect(http, sim.ws_url)
    await again.send({"op": "ping", "id": 1})
    assert await again.recv_kind(Pong) == Pong(id=1)


async def test_a_client_that_falls_behind_is_closed_with_a_reason(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(max_backlog=50, condition_threshold_pct=29.0)
    slow = await connect(http, sim.ws_url)
    await slow.send({"op": "condition_subscribe", "name": "momentum"})
    await slow.recv_kind(Ack)
    events = [{"symbol": "005930", "event": "enter"}] * 200
    await http.post(f"{sim.url}/admin/condition_events", json={"name": "momentum", "events": events})
    try:
        while True:
            await slow.recv(timeout=2.0)
    except Closed as closed:
        assert closed.code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert "backlog" in closed.reason
    # The server goes on serving everyone else.
    other = await connect(http, sim.ws_url)
    await other.send({"op": "ping", "id": 2})
    assert await other.recv_kind(Pong) == Pong(id=2)


async def test_stop_closes_clients_and_leaves_no_task(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "subscribe", "symbols": ["005930"]})
    await ws.recv_kind(Ack)
    await ws.recv_kind(Ticks)

    async def read_until_closed() -> int | None:
        try:
            while True:
                await ws.recv()
        except Closed as closed:
            return closed.code

    reader = asyncio.create_task(read_until_closed())
    before = asyncio.all_tasks()
    await sim.stop()
    assert await reader == aiohttp.WSCloseCode.GOING_AWAY
    left = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert left == set()
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert names.isdisjoint({"sim-tape", "sim-ws-writer", "sim-ws-reader"})


async def test_a_failing_tape_step_is_logged_and_the_tape_goes_on(
    make_sim: SimFactory,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = await make_sim()
    real_advance = sim.market.advance
    calls = 0

    def failing_once(dt: float, now_ns: int | None = None) -> list[TickRow]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("injected tape failure")
        return real_advance(dt, now_ns)

    # Fault injection: the only way to make a correct tape fail.
    monkeypatch.setattr(sim.market, "advance", failing_once)
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "subscribe", "symbols": ["005930"]})
    await ws.recv_kind(Ack)
    await wait_for(lambda: calls > 1)
    assert (await ws.recv_kind(Ticks)).data
    failures = [r for r in caplog.records if "tape step failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "injected tape failure" in str(failures[0].exc_info[1])
