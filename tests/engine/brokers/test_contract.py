"""The broker contract: every adapter, against its fake, held to what engine/orders.py and the
engine's feed rely on. Each case runs once per pair in contract/pairs.py (PAIRS); the condition
cases run for the pairs whose declared capabilities say they apply.

Identities: brokers whose notices carry no fill id (KIS) are named the way the engine names them
(engine.ordertypes.cumulative_fill_id: date, order number and cumulative quantity), so "the same fill
twice" means what the engine would see.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.brokers.base import BrokerError, BrokerOrder, ConditionInfo, OrderRequest, OrderUpdate
from engine.clock import Clock
from engine.ordertypes import cumulative_fill_id
from tests.conftest import eventually
from tests.engine.brokers.contract.pairs import PAIRS, BrokerPair


async def _running(kind: type[BrokerPair], tmp_path: Path, real: bool = False) -> AsyncIterator[BrokerPair]:
    pair = kind(tmp_path / kind.name, real)
    await pair.start()
    try:
        yield pair
    finally:
        await pair.stop()


def known_defect(request: pytest.FixtureRequest, pair: BrokerPair, broker: str, why: str) -> None:
    """A defect this suite found and that is still open: the case must keep failing on that
    broker (strict), so fixing it turns the run red until the mark is removed."""
    if pair.name == broker:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"open defect: {why}"))


@pytest.fixture(params=PAIRS, ids=lambda kind: kind.name)
async def pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BrokerPair]:
    async for running in _running(request.param, tmp_path):
        yield running


@pytest.fixture(
    params=[p for p in PAIRS if p.capabilities.condition_search != "none"], ids=lambda kind: kind.name
)
async def condition_pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BrokerPair]:
    """Where condition search runs: a real account (against the fake) if paper has none."""
    real = not request.param.capabilities.conditions_on_paper
    async for running in _running(request.param, tmp_path, real):
        yield running


@pytest.fixture(
    params=[
        p
        for p in PAIRS
        if p.capabilities.condition_search != "none" and not p.capabilities.conditions_on_paper
    ],
    ids=lambda kind: kind.name,
)
async def paper_only_conditions_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BrokerPair]:
    async for running in _running(request.param, tmp_path):
        yield running


# ---- helpers ----------------------------------------------------------------------------------


async def until(check: Callable[[], object], timeout: float, what: str) -> None:
    """tests.conftest.eventually for checks that return a truthy object (a list, an update),
    or an awaitable of one."""

    async def met() -> bool:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        return bool(value)

    await eventually(met, timeout, what)


async def ticks_flow(pair: BrokerPair, symbols: set[str], since: int) -> bool:
    """Ticks of every one of `symbols` reached the sink after index `since` (printing more where
    the fake's tape is held still)."""
    await pair.print_ticks(symbols)
    return symbols <= pair.sink.tick_symbols(since)


def new_coid() -> str:
    return "CT" + uuid.uuid4().hex[:14].upper()


@dataclass(frozen=True, slots=True)
class Placed:
    request: OrderRequest
    answer: BrokerOrder
    placed_ns: int  # just before the send: what the engine passes find_order

    @property
    def id(self) -> str:
        return self.answer.broker_order_id


async def place_resting(pair: BrokerPair, symbol: str, qty: int) -> Placed:
    request = await pair.resting_buy(new_coid(), symbol, qty)
    placed_ns = time.time_ns()
    answer = await pair.broker.place_order(request)
    assert answer.broker_order_id, f"{pair.name}: no broker order id in {answer}"
    return Placed(request, answer, placed_ns)


async def view(pair: BrokerPair, placed: Placed) -> BrokerOrder:
    """The broker's current view of an order, the way the engine asks for it."""
    found = await pair.broker.find_order(placed.request, placed.placed_ns, set(), placed.id)
    assert found is not None, f"{pair.name}: find_order lost {placed.id}"
    assert found.broker_order_id == placed.id
    return found


async def open_ids(pair: BrokerPair) -> set[str]:
    return {o.broker_order_id for o in await pair.broker.open_orders()}


def engine_fill_ids(updates: list[OrderUpdate]) -> list[str]:
    """The identity engine/orders.py gives each fill update, in arrival order: the broker's
    fill id, else the order number with the order's cumulative quantity after the fill."""
    cumulative: dict[str, int] = {}
    out = []
    for u in updates:
        cumulative[u.broker_order_id] = cumulative.get(u.broker_order_id, 0) + u.fill_qty
        out.append(
            u.fill_id or cumulative_fill_id(u.broker_order_id, cumulative[u.broker_order_id], Clock().today())
        )
    return out


async def account_marker(pair: BrokerPair, symbol: str) -> Placed:
    """An order whose acceptance notice is awaited: the account channel is ordered, so whatever
    was sent on it before has arrived once the marker has (absence checks without sleeping)."""
    marker = await place_resting(pair, symbol, 1)
    await until(
        lambda: pair.sink.of(marker.id, "accepted"), 10, f"{pair.name}: the marker's acceptance notice"
    )
    return marker


def tied(pair: BrokerPair, update: OrderUpdate, placed: Placed) -> None:
    """The update names the order: by broker order id always, by client order id where the
    broker carries ours."""
    assert update.broker_order_id == placed.id
    if pair.capabilities.client_order_ids:
        assert update.client_order_id == placed.request.client_order_id


# ---- orders -----------------------------------------------------------------------------------


async def test_accept(pair: BrokerPair) -> None:
    symbol = pair.symbols(1)[0]
    placed = await place_resting(pair, symbol, 5)
    a, req = placed.answer, placed.request
    assert (a.status, a.filled_qty) == ("accepted", 0)
    assert (a.symbol, a.side, a.qty, a.price) == (req.symbol, req.side, req.qty, req.price)
    assert a.client_order_id == req.client_order_id
    assert pair.orders_at_fake() == [placed.id]
    await until(lambda: pair.sink.of(placed.id, "accepted"), 10, "the acceptance notice")
    tied(pair, pair.sink.of(placed.id, "accepted")[0], placed)
    seen = await view(pair, placed)
    assert (seen.status, seen.filled_qty, seen.qty) == ("accepted", 0, 5)
    assert placed.id in await open_ids(pair)


async def test_partial_fills_then_full_fill(pair: BrokerPair) -> None:
    """Each fill arrives once, with its own identity; the broker's view of the order goes
    accepted -> partially_filled -> filled with a monotonic filled quantity."""
    symbol, other = pair.symbols(2)
    placed = await place_resting(pair, symbol, 10)
    views = [await view(pair, placed)]
    await pair.force_fill(placed.id, 3)
    await until(lambda: len(pair.sink.fills(placed.id)) >= 1, 10, "the first fill notice")
    views.append(await view(pair, placed))
    await pair.force_fill(placed.id, 7)
    await until(lambda: len(pair.sink.fills(placed.id)) >= 2, 10, "the second fill notice")
    views.append(await view(pair, placed))
    await account_marker(pair, other)

    fills = pair.sink.fills(placed.id)
    assert [f.fill_qty for f in fills] == [3, 7], f"{pair.name}: each fill once, got {fills}"
    assert all(f.fill_price == placed.request.price for f in fills)
    for f in fills:
        tied(pair, f, placed)
    ids = engine_fill_ids(fills)
    assert len(set(ids)) == 2, f"{pair.name}: two fills, one identity: {ids}"
    assert [v.status for v in views] == ["accepted", "partially_filled", "filled"]
    assert [v.filled_qty for v in views] == [0, 3, 10]
    assert placed.id not in await open_ids(pair)


async def test_fill_updates_carry_the_orders_progress(
    pair: BrokerPair, request: pytest.FixtureRequest
) -> None:
    """OrderUpdate.status and filled_qty on a fill say where the order stands after it (the
    sim protocol's definition: cumulative filled quantity after this fill)."""
    symbol = pair.symbols(1)[0]
    placed = await place_resting(pair, symbol, 10)
    await pair.force_fill(placed.id, 3)
    await until(lambda: len(pair.sink.fills(placed.id)) >= 1, 10, "the first fill notice")
    await pair.force_fill(placed.id, 7)
    await until(lambda: len(pair.sink.fills(placed.id)) >= 2, 10, "the second fill notice")
    fills = pair.sink.fills(placed.id)
    progress = [(f.status, f.filled_qty) for f in fills]
    assert progress == [("partially_filled", 3), ("filled", 10)], (
        f"{pair.name}: fill updates report {progress}"
    )


async def test_cancel_a_resting_order(pair: BrokerPair) -> None:
    symbol = pair.symbols(1)[0]
    placed = await place_resting(pair, symbol, 5)
    await until(lambda: pair.sink.of(placed.id, "accepted"), 10, "the acceptance notice")
    answer = await pair.broker.cancel_order(placed.id)
    assert (answer.broker_order_id, answer.status) == (placed.id, "cancelled")
    await until(lambda: pair.sink.of(placed.id, "cancelled"), 10, "the cancel notice")
    # Both queries in one assertion, so a failure shows how each one reads the order.
    listed = placed.id in await open_ids(pair)
    seen = await view(pair, placed)
    assert (listed, seen.status, seen.filled_qty) == (False, "cancelled", 0), (
        f"{pair.name}: after the cancel, open_orders() lists it: {listed}; find_order says "
        f"{seen.status} with {seen.filled_qty} filled"
    )


async def test_cancel_a_filled_order_is_a_clear_error(pair: BrokerPair) -> None:
    symbol, other = pair.symbols(2)
    placed = await place_resting(pair, symbol, 2)
    await pair.force_fill(placed.id, 2)
    await until(lambda: pair.sink.fills(placed.id), 10, "the fill notice")
    with pytest.raises(BrokerError) as refused:
        await pair.broker.cancel_order(placed.id)
    assert refused.value.message and not refused.value.retryable, refused.value
    # Nothing moved: the order is still filled, in full, and not open; the adapter works on.
    seen = await view(pair, placed)
    assert (seen.status, seen.filled_qty) == ("filled", 2)
    assert placed.id not in await open_ids(pair)
    marker = await account_marker(pair, other)
    assert marker.answer.status == "accepted"
    assert not pair.sink.of(placed.id, "cancelled")
    assert [f.fill_qty for f in pair.sink.fills(placed.id)] == [2]


async def test_reject_with_reason_reaches_the_caller(pair: BrokerPair) -> None:
    symbol = pair.symbols(1)[0]
    request = await pair.rejected_request(new_coid(), symbol)
    try:
        answer = await pair.broker.place_order(request)
    except BrokerError as exc:
        # Refused in the answer: the engine marks the order rejected with this code and text.
        assert not exc.retryable, f"{pair.name}: a refusal must not be retried: {exc}"
        code, message = exc.code, exc.message
    else:
        assert answer.status == "rejected", f"{pair.name}: {answer}"
        code, message = answer.reject_code or "", answer.message or ""
    assert code == pair.refusal_code() != "", f"{pair.name}: {code!r} vs the fake's refusal"
    assert message.strip(), f"{pair.name}: a refusal without words"


@pytest.mark.parametrize("recovery", ["retry", "find_order"])
async def test_ambiguous_send_makes_one_order(pair: BrokerPair, recovery: str) -> None:
    """A 5xx after the broker took the order: repeating the request, or looking it up, yields
    the one order; there is never a second one at the broker."""
    symbol = pair.symbols(1)[0]
    request = await pair.resting_buy(new_coid(), symbol, 3)
    placed_ns = time.time_ns()
    pair.fail_next_order_answer()
    with pytest.raises(BrokerError) as lost:
        await pair.broker.place_order(request)
    assert lost.value.retryable, f"{pair.name}: an answer lost after the send must be retryable"
    assert len(pair.orders_at_fake()) == 1  # the fault did hit after the order was made
    if recovery == "retry":
        found: BrokerOrder | None = await pair.broker.place_order(request)
    else:
        found = await pair.broker.find_order(request, placed_ns, set())
    assert found is not None, f"{pair.name}: the order the broker took was not found"
    assert pair.orders_at_fake() == [found.broker_order_id]
    assert (found.symbol, found.qty, found.price) == (symbol, 3, request.price)


async def test_duplicate_fill_notice_keeps_its_identity(
    pair: BrokerPair, request: pytest.FixtureRequest
) -> None:
    """The same fill notice twice is delivered twice under one identity, so the engine books
    it once (engine/orders.py dedupes by fill id)."""
    symbol = pair.symbols(1)[0]
    placed = await place_resting(pair, symbol, 10)
    await pair.force_fill(placed.id, 3)
    await until(lambda: pair.sink.fills(placed.id), 10, "the fill notice")
    await pair.repeat_fill_notice(placed.id)
    await until(lambda: len(pair.sink.fills(placed.id)) >= 2, 10, "the repeated notice")
    await account_marker(pair, pair.symbols(2)[1])
    fills = pair.sink.fills(placed.id)
    assert len(fills) == 2, f"{pair.name}: one fill and its repeat, got {fills}"
    first, again = fills
    assert (again.fill_qty, again.fill_price) == (first.fill_qty, first.fill_price)
    ids = engine_fill_ids([first, again])
    assert ids[0] == ids[1], (
        f"{pair.name}: the repeated notice gets identity {ids[1]!r}, the original {ids[0]!r} "
        f"(fill_id {first.fill_id!r}): the engine would book the fill twice"
    )


async def test_fill_notice_before_the_rest_answer_is_tied(pair: BrokerPair) -> None:
    symbol = pair.symbols(1)[0]
    request = await pair.resting_buy(new_coid(), symbol, 4)
    release = pair.hold_next_order_answer()
    sending = asyncio.create_task(pair.broker.place_order(request))
    try:
        await until(lambda: len(pair.orders_at_fake()) == 1, 10, "the order at the fake")
        (odno,) = pair.orders_at_fake()
        await pair.force_fill(odno, 4)
        await until(lambda: pair.sink.fills(odno), 10, "the early fill notice")
        # The scenario itself: the notice came while the answer was still held back.
        assert not sending.done(), f"{pair.name}: the answer was not held"
    except BaseException:
        sending.cancel()  # the case failed: leave no send running into the teardown
        raise
    finally:
        release()
    answer = await sending
    (fill,) = pair.sink.fills(odno)
    assert answer.broker_order_id == fill.broker_order_id == odno
    if pair.capabilities.client_order_ids:
        assert fill.client_order_id == request.client_order_id
    assert fill.fill_qty == 4


# ---- realtime ---------------------------------------------------------------------------------


async def test_reconnect_registers_again(pair: BrokerPair) -> None:
    """After a drop, subscribed symbols tick and the account channel notifies again, with no
    new subscribe call."""
    first, second = pair.symbols(2)
    for symbol in (first, second):
        await pair.broker.subscribe(symbol)
    await until(lambda: ticks_flow(pair, {first, second}, 0), 10, "ticks of both")
    placed = await place_resting(pair, first, 5)
    mark = len(pair.sink.connections)
    await pair.drop_socket()
    await until(lambda: False in [c for c, _ in pair.sink.connections[mark:]], 10, "the drop reported")
    down = mark + [c for c, _ in pair.sink.connections[mark:]].index(False)
    await until(lambda: True in [c for c, _ in pair.sink.connections[down:]], 15, "the reconnection reported")
    ticks = len(pair.sink.ticks)
    await until(
        lambda: ticks_flow(pair, {first, second}, ticks), 10, "ticks of both symbols after the reconnect"
    )
    assert {first, second} <= pair.registered_symbols()
    await until(pair.account_ready, 10, "the account channel registered again")
    await pair.force_fill(placed.id, 2)
    await until(lambda: pair.sink.fills(placed.id), 10, "a fill notice after the reconnect")
    assert pair.broker.connected


async def test_restart_reconciliation(pair: BrokerPair) -> None:
    """After an agent restart: fills missed while down are reported once (by fills() or
    order_states()), open_orders() lists the resting orders, an interrupted send is found and a
    send that never happened is reported absent."""
    s1, s2, s3 = pair.symbols(3)
    resting = await place_resting(pair, s1, 10)
    await pair.force_fill(resting.id, 3)
    await until(lambda: pair.sink.fills(resting.id), 10, "the fill seen live")
    filled = await place_resting(pair, s2, 2)
    await pair.force_fill(filled.id, 2)
    await until(lambda: pair.sink.fills(filled.id), 10, "the second order's fill")
    seen_live = engine_fill_ids(pair.sink.fills(resting.id))
    old_sink = pair.sink

    interrupted = await pair.resting_buy(new_coid(), s3, 5)
    interrupted_ns = time.time_ns()
    pair.fail_next_order_answer()
    with pytest.raises(BrokerError):
        await pair.broker.place_order(interrupted)
    *_, interrupted_id = pair.orders_at_fake()  # the broker has it; the adapter never heard

    async def missed_fill() -> None:
        await pair.force_fill(resting.id, 4)

    await pair.restart_adapter(while_down=missed_fill)
    broker = pair.broker
    assert [f.fill_qty for f in old_sink.fills(resting.id)] == [3]

    # The missed fill, exactly once, under identities the engine can tell from the live one.
    # Where the declared capabilities say reconciliation reads: fills one by one, or per order.
    one_by_one = broker.capabilities.lists_fills
    fills = [f for f in await broker.fills() if f.broker_order_id == resting.id] if one_by_one else []
    states = (
        [] if one_by_one else [o for o, _ in await broker.order_states() if o.broker_order_id == resting.id]
    )
    assert fills or states, f"{pair.name}: neither fills() nor order_states() reports the order"
    if fills:
        ids = [f.fill_id for f in fills]
        assert len(set(ids)) == len(ids), f"{pair.name}: a fill listed twice: {ids}"
        assert sorted(f.qty for f in fills) == [3, 4]
        assert set(seen_live) <= set(ids), (
            f"{pair.name}: the live fill {seen_live} is not recognisable among {ids}"
        )
    if states:
        assert len(states) == 1, f"{pair.name}: the order listed {len(states)} times"
        assert (states[0].status, states[0].filled_qty) == ("partially_filled", 7)

    assert await open_ids(pair) == {resting.id, interrupted_id}, (
        f"{pair.name}: open_orders() after the restart"
    )
    claimed = {resting.id, filled.id}  # what the journal ties already
    found = await broker.find_order(interrupted, interrupted_ns, claimed)
    assert found is not None, f"{pair.name}: the interrupted send was not found"
    assert (found.broker_order_id, found.qty, found.status) == (interrupted_id, 5, "accepted")
    never = await pair.resting_buy(new_coid(), s3, 6)
    assert await broker.find_order(never, time.time_ns(), claimed | {found.broker_order_id}) is None
    assert len(pair.orders_at_fake()) == 3

    # The new instance's channel: a new fill arrives, and nothing from before is replayed.
    await pair.force_fill(resting.id, 1)
    await until(lambda: pair.sink.fills(resting.id), 10, "a fill after the restart")
    assert [f.fill_qty for f in pair.sink.fills(resting.id)] == [1]
    assert not pair.sink.fills(filled.id)


async def test_registration_cap(pair: BrokerPair) -> None:
    cap = pair.capabilities.max_subscriptions
    assert pair.broker.max_subscriptions == cap, f"{pair.name}: declared cap differs"
    assert cap is not None
    symbols = pair.symbols(cap + 1)
    for symbol in symbols[:cap]:
        await pair.broker.subscribe(symbol)
    await until(
        lambda: set(symbols[:cap]) <= pair.registered_symbols(), 10, f"{cap} registrations at the fake"
    )
    extra = symbols[cap]
    if pair.capabilities.cap_enforced:
        with pytest.raises(BrokerError) as refused:
            await pair.broker.subscribe(extra)
        assert refused.value.message and not refused.value.retryable
        assert pair.registered_symbols() == set(symbols[:cap])
        # Refusing did not corrupt the registrations: a freed slot takes the refused symbol.
        await pair.broker.unsubscribe(symbols[0])
        await pair.broker.subscribe(extra)
        await until(lambda: pair.registered_symbols() == set(symbols[1:]), 10, "the slot reused")
    else:
        # Documented: this adapter does not refuse; the engine keeps the cap.
        await pair.broker.subscribe(extra)
        await until(lambda: extra in pair.registered_symbols(), 10, "the extra registration")
        ticks = len(pair.sink.ticks)
        await until(lambda: ticks_flow(pair, {extra}, ticks), 10, "its ticks")


# ---- condition search -------------------------------------------------------------------------


async def test_declared_capabilities_are_the_adapters(pair: BrokerPair) -> None:
    """The engine and the commands read the adapter's declaration: the suite's must agree."""
    declared = pair.broker.capabilities
    expected = pair.capabilities
    assert (
        declared.client_order_ids,
        declared.condition_search.value,
        declared.conditions_on_paper,
        declared.max_symbols,
    ) == (
        expected.client_order_ids,
        expected.condition_search,
        expected.conditions_on_paper,
        expected.max_subscriptions,
    ), f"{pair.name}: {declared}"


def _changes(pair: BrokerPair) -> list[tuple[str, str, str]]:
    return [(c.condition_id, c.symbol, c.event) for c in pair.sink.conditions]


async def test_condition_enter_and_leave(condition_pair: BrokerPair) -> None:
    pair = condition_pair
    assert pair.condition is not None
    cid, name = pair.condition
    listed = await pair.broker.conditions()
    assert ConditionInfo(cid, name) in listed, f"{pair.name}: {listed}"
    symbol = pair.symbols(1)[0]
    await pair.broker.watch_condition(ConditionInfo(cid, name))
    await pair.set_condition(cid, symbol, "enter")
    await until(lambda: _changes(pair), 10, "the enter event")
    await pair.set_condition(cid, symbol, "leave")
    await until(lambda: len(_changes(pair)) >= 2, 10, "the leave event")
    assert _changes(pair) == [(cid, symbol, "enter"), (cid, symbol, "leave")]
    changes = pair.sink.conditions
    assert changes[0].seq < changes[1].seq and changes[0].ts_ns <= changes[1].ts_ns


async def test_current_matches_are_entries_when_watching_starts(condition_pair: BrokerPair) -> None:
    pair = condition_pair
    assert pair.condition is not None
    cid, name = pair.condition
    first, second = pair.symbols(2)
    await pair.set_condition(cid, first, "enter")
    await pair.set_condition(cid, second, "enter")
    await pair.broker.watch_condition(ConditionInfo(cid, name))
    await until(lambda: len(_changes(pair)) >= 2, 10, "the snapshot's entries")
    assert sorted(_changes(pair)) == sorted([(cid, first, "enter"), (cid, second, "enter")])


async def test_condition_followed_again_after_reconnect(condition_pair: BrokerPair) -> None:
    """After a drop the adapter follows the condition again by itself: a symbol that left while
    the socket was down is a leave, and changes keep flowing."""
    pair = condition_pair
    assert pair.condition is not None
    cid, name = pair.condition
    first, second = pair.symbols(2)
    await pair.set_condition(cid, first, "enter")
    await pair.broker.watch_condition(ConditionInfo(cid, name))
    await until(lambda: _changes(pair), 10, "the snapshot's entry")
    mark = len(pair.sink.connections)
    await pair.drop_socket()
    await pair.set_condition(cid, first, "leave")
    await until(lambda: [c for c, _ in pair.sink.connections[mark:]][-1:] == [True], 15, "the reconnect")
    await until(lambda: (cid, first, "leave") in _changes(pair), 15, "the leave missed while down")
    await pair.set_condition(cid, second, "enter")
    await until(lambda: (cid, second, "enter") in _changes(pair), 15, "a change after it")
    assert _changes(pair).count((cid, first, "enter")) == 1, _changes(pair)


async def test_two_conditions_and_one_stopped(condition_pair: BrokerPair) -> None:
    """Two conditions at once; once one is stopped its changes stop, the other's go on. (The
    other's change, made after the stopped one's, proves the stream has moved past it.)"""
    pair = condition_pair
    assert pair.condition is not None and pair.other_condition is not None
    (cid, name), (oid, oname) = pair.condition, pair.other_condition
    first, second, third = pair.symbols(3)
    await pair.broker.watch_condition(ConditionInfo(cid, name))
    await pair.broker.watch_condition(ConditionInfo(oid, oname))
    await pair.set_condition(cid, first, "enter")
    await pair.set_condition(oid, first, "enter")
    await until(lambda: len(_changes(pair)) >= 2, 10, "both conditions' entries")
    await pair.broker.unwatch_condition(cid)
    await pair.set_condition(cid, second, "enter")
    await pair.set_condition(oid, third, "enter")
    await until(lambda: (oid, third, "enter") in _changes(pair), 10, "the other's entry")
    assert sorted(_changes(pair)) == sorted(
        [(cid, first, "enter"), (oid, first, "enter"), (oid, third, "enter")]
    )


async def test_paper_refusal_is_a_clear_error(paper_only_conditions_pair: BrokerPair) -> None:
    pair = paper_only_conditions_pair
    for attempt in (pair.broker.conditions(), pair.broker.watch_condition(ConditionInfo("0", "any"))):
        with pytest.raises(BrokerError) as refused:
            await attempt
        assert "real accounts only" in refused.value.message and not refused.value.retryable
