"""subscribe → ticks → strategy signal → order → fill → position → journal, over loopback."""

from __future__ import annotations

from collections import Counter

from engine import events as ev
from engine.core import Engine
from engine.sim.server import SimExchange
from tests.conftest import eventually, sim_get


def _breakout_ready(engine: Engine, k: float) -> str:
    """A symbol already trading above its breakout target, so its first tick is a signal."""
    best, best_gap = "", float("-inf")
    for code, inst in engine.instruments.items():
        if inst.open > 300_000:
            continue  # keep one entry inside the default per-order budget
        target = inst.open + round(k * (inst.prev_high - inst.prev_low))
        last = engine.feed.last.get(code, inst.open)
        gap = (last - target) / inst.open
        if gap > best_gap:
            best, best_gap = code, gap
    return best


async def test_subscribe_to_fill_to_journal(engine: Engine, sim: SimExchange) -> None:
    events = engine.bus.subscribe()
    symbols = await sim_get(sim, "/symbols")
    assert isinstance(symbols, list)
    for s in symbols:  # the sim's current prices, so the pick is a real breakout
        engine.feed.last[s["code"]] = s["last"]
    symbol = _breakout_ready(engine, 0.05)
    await engine.subscriptions.subscribe(
        symbol, "breakout", params={"k": 0.05, "tp": 50, "sl": 50, "trail": 0}
    )
    assert symbol in engine.subscriptions.tasks

    seen: list[object] = []

    async def filled() -> bool:
        while not events.empty():
            seen.append(events.get_nowait())
        return any(isinstance(e, ev.FillEvent) for e in seen)

    await eventually(filled, 15, "a fill from the breakout entry")
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("SignalEvent") < kinds.index("OrderAccepted") < kinds.index("FillEvent")
    signal = next(e for e in seen if isinstance(e, ev.SignalEvent))
    assert signal.symbol == symbol and signal.side == "buy" and signal.strategy == "breakout"

    await eventually(lambda: not engine.orders.live_orders(), 10, "the entry to fill completely")
    held = engine.portfolio.qty(symbol)
    assert held > 0

    # The journal is the record: positions are the sum of its fills, and the order is there.
    fills = await engine.journal.fills()
    by_symbol: Counter[str] = Counter()
    for f in fills:
        by_symbol[f.symbol] += f.qty if f.side == "buy" else -f.qty
    assert by_symbol[symbol] == held
    orders = await engine.journal.orders()
    assert [o.status for o in orders] == ["filled"]
    assert orders[0].filled_qty == held and orders[0].origin == "breakout"

    # ...and the exchange agrees, to the won.
    account = await sim_get(sim, "/account")
    assert isinstance(account, dict)
    assert {p["symbol"]: p["qty"] for p in account["positions"]} == {symbol: held}
    assert account["cash"] == engine.portfolio.cash


async def test_a_repeated_signal_never_sends_twice(engine: Engine, sim: SimExchange) -> None:
    from engine.orders import OrderIntent

    intent = OrderIntent("005930", "buy", 1, None, "test", "same signal", "k1", is_auto=True)
    first = await engine.orders.submit(intent)
    again = await engine.orders.submit(intent)
    assert first.order is not None and not first.duplicate
    assert again.duplicate and again.order is first.order
    stats = await sim_get(sim, "/admin/stats")
    assert isinstance(stats, dict)
    assert stats["orders"] == 1 and stats["order_requests"] == 1
