"""What people type reaches terminals, phones and the audit log cleaned and bounded; a Confirm
prompt is single-use; a cancel says whose order it was and who cancelled it."""

from __future__ import annotations

import unicodedata

import pytest

from bot.commands import CommandError, CommandLayer, Invocation, Role
from bot.commands import results as r
from bot.console.render import render_result
from engine import events as ev
from engine.core import Engine
from engine.krx.prices import daily_limits
from tests.conftest import eventually

ESCAPES = "\x1b[2J\x1b]0;pwned\x07\u202eevil\r\n"


def clean(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def person(name: str, role: Role = Role.TRADER, invocation: str = "i-1") -> Invocation:
    return Invocation(f"discord:1 ({name})", "discord", role, invocation)


async def test_a_halt_reason_is_kept_printable_and_bounded_but_the_halt_always_happens(
    engine: Engine,
) -> None:
    layer = CommandLayer(engine)
    alerts = engine.bus.subscribe()
    result = await layer.execute(person("mallory"), "halt", {"reason": ESCAPES + "x" * 10_000})
    assert isinstance(result, r.HaltState) and engine.controls.halted
    reason = engine.controls.halt_reason
    assert clean(reason) and len(reason) <= 200 and "evil" in reason
    assert clean(render_result(result))
    alert = await alerts.get()
    while not isinstance(alert, ev.AlertEvent):
        alert = await alerts.get()
    assert clean(alert.message) and len(alert.message) < 1_000
    (row, *_) = await engine.journal.audit_log()
    assert row.command == "halt" and row.ok
    assert clean(row.args) and len(row.args) <= 600 and clean(row.result)


async def test_errors_echo_long_or_escaped_input_bounded_and_printable(engine: Engine) -> None:
    layer = CommandLayer(engine)
    cases = [
        ("buy", {"symbol": "005930", "qty": ESCAPES + "9" * 10_000}),
        ("subscribe", {"symbol": "005930", "strategy": ESCAPES * 100}),
        ("auto", {"mode": ESCAPES * 1000}),
        ("chart", {"symbol": "005930", "interval": ESCAPES}),
        ("cancelorder", {"order_id": ESCAPES + "z" * 10_000}),
        ("subscribe", {"symbol": "005930", "params": "k=" + ESCAPES}),
    ]
    for name, args in cases:
        with pytest.raises(CommandError) as info:
            await layer.execute(person("mallory"), name, args)
        assert clean(info.value.message) and len(info.value.message) < 400, info.value.message
    with pytest.raises(CommandError) as info:
        await layer.execute_text(person("mallory"), "/" + ESCAPES + "q" * 10_000)
    assert clean(info.value.message) and len(info.value.message) < 400
    for row in await engine.journal.audit_log(limit=20):
        assert clean(row.command + row.args + row.result) and len(row.args) <= 600


async def test_a_confirmation_is_single_use_even_after_its_order_was_refused(engine: Engine) -> None:
    layer = CommandLayer(engine)
    click = person("trader", invocation="discord-prompt-1")
    args = {"symbol": "005930", "qty": "1"}
    await layer.preview_order(click, "buy", args)
    await engine.halt("test", "refuse the first click")
    with pytest.raises(CommandError, match="halted"):
        await layer.execute_confirmed(click, "buy", args)
    await engine.resume("test")
    # The refusal is gone, but the prompt was used: a second click must not send.
    with pytest.raises(CommandError, match="already used"):
        await layer.execute_confirmed(click, "buy", args)
    assert engine.orders.orders == {}
    fresh = person("trader", invocation="discord-prompt-2")  # a new /buy is a new prompt
    placed = await layer.execute_confirmed(fresh, "buy", args)
    assert isinstance(placed, r.OrderPlaced) and len(engine.orders.orders) == 1


async def test_a_cancel_says_whose_order_and_who_cancelled_it(engine: Engine) -> None:
    layer = CommandLayer(engine)
    inst = engine.instruments.get("005930") or (await engine.ensure_instrument("005930"))
    low = daily_limits(inst.prev_close).lower  # a resting order: far below the market
    alice, bob = person("alice", invocation="a-1"), person("bob", invocation="b-1")
    placed = await layer.execute(alice, "buy", {"symbol": "005930", "qty": "1", "price": str(low)})
    assert isinstance(placed, r.OrderPlaced)
    events = engine.bus.subscribe()
    done = await layer.execute(bob, "cancelorder", {"order_id": placed.order.order_id})
    assert isinstance(done, r.OrderCancelled)
    reply = render_result(done)
    assert "discord:1 (alice)'s order, cancelled by discord:1 (bob)" in reply

    async def cancelled_event() -> bool:
        while not events.empty():
            e = events.get_nowait()
            if isinstance(e, ev.OrderCancelled):
                assert "by discord:1 (bob)" in e.reason and "(alice)'s order" in e.reason
                return True
        return False

    await eventually(cancelled_event)
    (row, *_) = await engine.journal.audit_log()
    assert row.command == "cancelorder" and row.actor == "discord:1 (bob)"
    assert "discord:1 (alice)'s order, by discord:1 (bob)" in row.result


def test_a_strategys_order_is_named_as_the_strategys() -> None:
    assert r.owner("breakout") == "strategy breakout"
    assert r.owner("manual:console") == "console"
