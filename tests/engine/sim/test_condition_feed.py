"""Condition search of a real sim over HTTP and the websocket: ids and names, several conditions
at once, snapshots, injected events, and the tape's own rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp
import msgspec

from engine.clock import SEOUL, Clock
from engine.sim.conditions import MOMENTUM, RISERS, VOLUME_SURGE
from engine.sim.protocol import Ack, Condition, ConditionInfo, Error, SymbolInfo, TickRow, Ticks

from .conftest import SimFactory
from .helpers import WsClient, connect

THREE = ("005930", "000660", "035720")
# Thresholds no tape reaches: only injected events happen.
QUIET: dict[str, Any] = {
    "symbols": THREE,
    "condition_threshold_pct": 29.0,
    "riser_threshold_pct": 29.0,
    "surge_ratio": 1_000.0,
}
IDS = {MOMENTUM: "0", RISERS: "1", VOLUME_SURGE: "2"}
TEN_THIRTY = datetime(2025, 3, 5, 10, 30, 5, tzinfo=SEOUL)


async def inject(
    http: aiohttp.ClientSession, url: str, key: dict[str, str], events: list[tuple[str, str]]
) -> Any:
    body = {**key, "events": [{"symbol": s, "event": e} for s, e in events]}
    resp = await http.post(f"{url}/admin/condition_events", json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_conditions_are_listed_with_ids_names_and_descriptions(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(tick_rate=1e-6)
    resp = await http.get(f"{sim.url}/conditions")
    infos = msgspec.json.decode(await resp.read(), type=list[ConditionInfo])
    assert [(i.id, i.name) for i in infos] == [("0", MOMENTUM), ("1", RISERS), ("2", VOLUME_SURGE)]
    for info in infos:
        assert info.description.isascii() and len(info.description) > 40
    assert "open" in infos[1].description and "volume" in infos[2].description


async def test_subscribe_by_id_or_name_gets_each_conditions_snapshot_then_its_live_events(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(**QUIET)
    # Each condition gets its own members, some injected by name and some by id.
    body = await inject(http, sim.url, {"name": MOMENTUM}, [("005930", "enter")])
    assert (body["name"], body["id"], body["last_seq"]) == (MOMENTUM, "0", 1)
    body = await inject(
        http, sim.url, {"id": "1"}, [("000660", "enter"), ("035720", "enter"), ("000660", "leave")]
    )
    assert (body["name"], body["id"], body["first_seq"], body["last_seq"]) == (RISERS, "1", 1, 3)
    await inject(http, sim.url, {"id": "2", "name": VOLUME_SURGE}, [("035720", "enter"), ("005930", "enter")])
    expected = {
        MOMENTUM: [("005930", 1)],
        RISERS: [("035720", 2)],
        VOLUME_SURGE: [("035720", 1), ("005930", 2)],
    }
    for key in (
        {"name": MOMENTUM},
        {"id": "1"},
        {"id": "2"},
        {"name": VOLUME_SURGE},
        {"name": RISERS, "id": "1"},
    ):
        ws = await connect(http, sim.ws_url)
        await ws.send({"op": "condition_subscribe", **key})
        # The ack echoes the request's keys, so the client can match it whichever it used.
        assert await ws.recv_kind(Ack) == Ack(
            op="condition_subscribe", name=key.get("name"), id=key.get("id")
        )
        name = key.get("name") or next(n for n, i in IDS.items() if i == key["id"])
        snapshot = [await ws.recv_kind(Condition) for _ in expected[name]]
        assert [(c.symbol, c.seq) for c in snapshot] == expected[name]
        assert {(c.name, c.id, c.event) for c in snapshot} == {(name, IDS[name], "enter")}
        # Then the live events of this condition.
        await inject(http, sim.url, {"id": IDS[name]}, [("005930", "leave")])
        live = await ws.recv_kind(Condition)
        assert (live.name, live.id, live.symbol, live.event) == (name, IDS[name], "005930", "leave")
        await inject(http, sim.url, {"id": IDS[name]}, [("005930", "enter")])
        expected[name] = [*[e for e in expected[name] if e[0] != "005930"], ("005930", live.seq + 1)]
        assert (await ws.recv_kind(Condition)).seq == live.seq + 1
        await ws.ws.close()


async def test_two_conditions_on_one_connection(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(**QUIET)
    ws = await connect(http, sim.ws_url)
    await ws.send({"op": "condition_subscribe", "id": "1"})
    await ws.send({"op": "condition_subscribe", "name": VOLUME_SURGE})
    await ws.recv_kind(Ack, where=lambda a: a.id == "1")
    await ws.recv_kind(Ack, where=lambda a: a.name == VOLUME_SURGE)
    # Events of both arrive, each under its own condition, in the order they happened; the
    # one not subscribed sends nothing here (the next event received is the riser's).
    await inject(http, sim.url, {"id": "0"}, [("000660", "enter")])
    await inject(http, sim.url, {"id": "1"}, [("005930", "enter")])
    await inject(http, sim.url, {"id": "2"}, [("035720", "enter")])
    got = [await ws.recv_kind(Condition) for _ in range(2)]
    assert [(c.id, c.name, c.symbol) for c in got] == [("1", RISERS, "005930"), ("2", VOLUME_SURGE, "035720")]

    await ws.send({"op": "condition_unsubscribe", "id": "1"})
    assert await ws.recv_kind(Ack) == Ack(op="condition_unsubscribe", id="1")
    await inject(http, sim.url, {"id": "1"}, [("005930", "leave")])
    await inject(http, sim.url, {"id": "2"}, [("035720", "leave")])
    after = await ws.recv_kind(Condition)
    assert (after.id, after.symbol, after.event) == ("2", "035720", "leave")


async def test_condition_keys_that_name_nothing(make_sim: SimFactory, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(**QUIET)
    ws = await connect(http, sim.ws_url)
    for frame, code, needles in (
        ({"id": "9"}, "unknown_condition", ("'9'", "0 momentum", "1 급등주", "2 거래량급증")),
        ({"name": MOMENTUM, "id": "1"}, "unknown_condition", ("different conditions",)),
        ({}, "bad_message", ("name or its id", '"id":"0"')),
    ):
        await ws.send({"op": "condition_subscribe", **frame})
        err = await ws.recv_kind(Error)
        assert (err.op, err.code) == ("condition_subscribe", code)
        assert all(n in err.message for n in needles), err.message
    url = f"{sim.url}/admin/condition_events"
    resp = await http.post(url, json={"id": "9", "events": []})
    assert (resp.status, (await resp.json())["code"]) == (404, "unknown_condition")
    resp = await http.post(url, json={"events": []})
    assert (resp.status, (await resp.json())["code"]) == (400, "malformed")


async def _watch(ws: WsClient, cond_id: str, symbols: tuple[str, ...]) -> None:
    await ws.send({"op": "subscribe", "symbols": list(symbols)})
    for _ in symbols:
        await ws.recv_kind(Ack)
    await ws.send({"op": "condition_subscribe", "id": cond_id})
    await ws.recv_kind(Ack)


async def test_risers_enter_and_leave_on_the_tape_with_a_band_between(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    # 1% up from the open enters, under the open leaves: a busy tape crosses both soon.
    sim = await make_sim(clock=Clock(TEN_THIRTY), symbols=THREE, tick_rate=200.0, riser_threshold_pct=1.0)
    opens = {
        i.code: i.open
        for i in msgspec.json.decode(
            await (await http.get(f"{sim.url}/symbols")).read(), type=list[SymbolInfo]
        )
    }
    ws = await connect(http, sim.ws_url)
    await _watch(ws, "1", THREE)
    members: set[str] = set()
    step: dict[str, list[int]] = {}  # the prices of each symbol in the latest Ticks frame
    in_band: dict[str, bool] = {}  # a member printed under its entry price and stayed in
    done: set[str] = set()
    while not done:
        msg = await ws.recv(timeout=20.0)
        if isinstance(msg, Ticks):
            step = {}
            for row in msg.data:
                step.setdefault(row.symbol, []).append(row.price)
                if row.symbol in members and opens[row.symbol] * 1.0 <= row.price < opens[row.symbol] * 1.01:
                    in_band[row.symbol] = True
        elif isinstance(msg, Condition):
            assert (msg.id, msg.name) == ("1", RISERS)
            sym, enter_px, leave_px = msg.symbol, opens[msg.symbol] * 1.01, opens[msg.symbol] * 1.0
            if msg.event == "enter":
                # A symbol already in when we subscribed comes in the snapshot, before any tick.
                assert sym not in members
                assert not step or max(step[sym]) >= enter_px
                members.add(sym)
                in_band[sym] = False
            else:
                # The frame that made it leave has a print under the open.
                assert sym in members and min(step[sym]) < leave_px
                members.discard(sym)
                if in_band[sym]:
                    done.add(sym)


async def test_volume_surges_enter_and_leave_on_the_tape(
    make_sim: SimFactory, http: aiohttp.ClientSession
) -> None:
    # Surges of about a second, judged on the last 0.25 s against the 1.5 s before.
    sim = await make_sim(clock=Clock(TEN_THIRTY), symbols=THREE, tick_rate=200.0, surge_s=1.0)
    ws = await connect(http, sim.ws_url)
    await _watch(ws, "2", THREE)
    rows: dict[str, list[TickRow]] = {s: [] for s in THREE}
    entered: dict[str, int] = {}
    while True:
        msg = await ws.recv(timeout=20.0)
        if isinstance(msg, Ticks):
            for row in msg.data:
                rows[row.symbol].append(row)
        elif isinstance(msg, Condition):
            assert (msg.id, msg.name) == ("2", VOLUME_SURGE)
            if msg.event == "enter":
                entered[msg.symbol] = len(rows[msg.symbol])
            # Its leave, once there are enough prints to tell the symbol's usual size.
            elif msg.symbol in entered and len(rows[msg.symbol]) > 400:
                break
    # The prints that brought the symbol in were much bigger than the symbol's usual ones.
    mine = rows[msg.symbol]
    before = mine[max(0, entered[msg.symbol] - 30) : entered[msg.symbol]]
    usual = sorted(r.qty for r in mine)[len(mine) // 2]
    assert sum(r.qty for r in before) / len(before) > 2 * usual
