"""Who may do what, on every path in: every command x every role x every transport.

  - the command layer itself (CommandLayer.execute), through the fuzz's checker;
  - the console, which is the operator's own terminal and runs everything as admin;
  - Discord slash commands (real discord.py against tests/fakediscord), as a member with no
    role, a viewer, a trader and the admin user;
  - Discord autocomplete for every option with a suggestion source, with a subscription and a
    live order seeded so that a leak would show (order ids once reached members with no role);
  - the Confirm/Cancel buttons of a manual order: only the person who asked may answer, and the
    role is read again at the click.

The expected outcome of each cell is derived from the declaration (command.role); a few cells
are also written out by hand (SPOT_CHECK) so that the derivation itself is tested.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import AsyncIterator, Mapping
from typing import Any

import discord.gateway
import discord.http
import pytest
import pytest_asyncio

from bot.commands import CommandError, CommandLayer, Invocation, Role
from bot.commands import results as r
from bot.commands.catalog import Command
from bot.commands.layer import BY_NAME, COMMANDS
from bot.console.app import Console
from bot.discord.access import role_for
from bot.discord.transport import DiscordTransport
from engine.core import Engine
from tests.bot.discord.test_e2e import discord_config
from tests.bot.fuzz import AuditTail, Harness, Snapshot, fuzz_config, valid_args
from tests.fakediscord import FakeDiscord, SentInteraction

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Discord users, one per role. The admin is a named user (DISCORD_ADMIN_USER_IDS), not a role.
# The ids discord_config() (tests/bot/discord/test_e2e.py) gives the roles and the admin user.
NO_ROLE, VIEWER, TRADER, OTHER_TRADER, ADMIN = 105, 102, 101, 103, 104


def allowed(spec: Command, role: Role) -> bool:
    """The rule every transport must follow: a role at or above the command's declared role."""
    return role >= spec.role


# Hand-written cells: if the declarations or allowed() drift, this says so.
SPOT_CHECK: dict[tuple[str, Role], bool] = {
    ("status", Role.NONE): False,
    ("status", Role.VIEWER): True,
    ("help", Role.NONE): False,
    ("orders", Role.VIEWER): True,
    ("buy", Role.VIEWER): False,
    ("buy", Role.TRADER): True,
    ("cancelorder", Role.VIEWER): False,
    ("cancelorder", Role.TRADER): True,
    ("halt", Role.VIEWER): False,
    ("halt", Role.TRADER): True,
    ("resume", Role.TRADER): False,
    ("resume", Role.ADMIN): True,
    ("settings", Role.TRADER): False,
    ("settings", Role.ADMIN): True,
    ("subscribe", Role.TRADER): True,
    ("chart", Role.NONE): False,
}


def role_refusal(spec: Command) -> str:
    return f"needs the {spec.role.name.lower()} role"


# ---- one engine, one fake Discord and one transport for the module ---------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Engine]:
    # The fuzz's quiet sim (no trades): an order stays as placed, so "nothing was sent" is read
    # straight off the order book, and a seeded limit order stays live for autocomplete.
    eng = Engine(fuzz_config(tmp_path_factory.mktemp("authz") / "data"))
    await eng.start()
    await eng.wait_ready(30)
    yield eng
    await eng.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(engine: Engine, fake: FakeDiscord) -> AsyncIterator[DiscordTransport]:
    # point_at() changes discord.py's class-level URLs: put them back for the modules after.
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    transport = DiscordTransport(
        engine,
        CommandLayer(engine),
        discord_config(fake),
        window=0.1,
        dashboard_interval=60.0,
        guild_ready_timeout=0.05,
    )
    await transport.start()
    try:
        await transport.ready.wait()
        await transport.bot.tree.sync(guild=transport.bot.guild)
        yield transport
    finally:
        await transport.close()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def member(fake: FakeDiscord, role: Role) -> tuple[int, list[int]]:
    """A Discord user holding `role`: (user id, Discord role ids)."""
    return {
        Role.NONE: (NO_ROLE, []),
        Role.VIEWER: (VIEWER, [fake.roles["viewer"]]),
        Role.TRADER: (TRADER, [fake.roles["trader"]]),
        Role.ADMIN: (ADMIN, []),
    }[role]


def text_of(response: dict[str, Any]) -> str:
    embeds = (response.get("data") or {}).get("embeds") or []
    return " ".join(
        f"{e.get('title', '')} {e.get('description', '')} "
        + " ".join(f"{f['name']} {f['value']}" for f in e.get("fields", []))
        for e in embeds
    )


async def calm(engine: Engine) -> None:
    """Not halted, one subscription and one live order: something autocomplete could leak."""
    layer, admin = CommandLayer(engine), Invocation("test", "test", Role.ADMIN, "calm")
    if engine.controls.halted:
        await layer.execute(admin, "resume", {})
    if "000660" not in engine.subscriptions.records:
        await layer.execute(admin, "subscribe", {"symbol": "000660", "strategy": "watch"})
    if not engine.orders.live_orders():
        # At the lower limit: on the quiet sim it never fills, and it passes every risk check.
        low = engine.instruments["000270"].lower_limit
        await layer.execute(
            Invocation("test", "test", Role.ADMIN, f"seed-{len(engine.orders.orders)}"),
            "buy",
            {"symbol": "000270", "qty": "1", "price": str(low)},
        )
    assert engine.orders.live_orders() and engine.subscriptions.records


# ---- the rule itself --------------------------------------------------------------------------


async def test_the_derived_rule_matches_the_hand_written_cells() -> None:
    assert {cell: allowed(BY_NAME[cell[0]], cell[1]) for cell in SPOT_CHECK} == SPOT_CHECK
    # Every command is closed to a member with no role, and some are closed to each other role.
    assert not any(allowed(c, Role.NONE) for c in COMMANDS)
    assert {role for c in COMMANDS for role in Role if not allowed(c, role)} == {
        Role.NONE,
        Role.VIEWER,
        Role.TRADER,
    }


async def test_discord_roles_map_as_configured(fake: FakeDiscord) -> None:
    config = discord_config(fake)
    for role in Role:
        user, roles = member(fake, role)
        assert role_for(config, user, roles) is role
    # Holding the server's own admin role (the alert role here) makes no one a Tradecord admin.
    assert role_for(config, OTHER_TRADER, [fake.roles["admin"]]) is Role.NONE
    assert role_for(config, OTHER_TRADER, [fake.roles["viewer"], fake.roles["trader"]]) is Role.TRADER


# ---- the command layer ------------------------------------------------------------------------


async def test_layer_matrix(engine: Engine) -> None:
    await calm(engine)
    harness = Harness(engine, CommandLayer(engine))  # checks state, audit and role on each call
    try:
        for spec in COMMANDS:
            for role in Role:
                await harness.call(role, spec.name, valid_args(spec, engine))
                error = harness.last_error
                refused_for_role = error is not None and role_refusal(spec) in error.message
                assert refused_for_role is not allowed(spec, role), (spec.name, role, error)
    finally:
        harness.audit.close()
    bad = [v for v in harness.stats.violations if v.prop in ("state", "unauthorized", "audit", "internal")]
    assert bad == []


# ---- the console ------------------------------------------------------------------------------


class RecordingLayer(CommandLayer):
    """The real layer, noting the role each invocation arrives with."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.roles: list[Role] = []

    async def execute(self, inv: Invocation, name: str, args: Mapping[str, Any]) -> r.Result:
        self.roles.append(inv.role)
        return await super().execute(inv, name, args)


def console_line(spec: Command, engine: Engine) -> str:
    args = valid_args(spec, engine)
    words = [shlex.quote(str(args[o.name])) for o in spec.options if o.name in args]
    return " ".join([f"/{spec.name}", *words])


async def test_console_matrix(engine: Engine) -> None:
    """The console is the operator's own terminal: bot/console/app.py invokes every line as
    Role.ADMIN, so every command is allowed there, and each line is audited once."""
    await calm(engine)
    layer = RecordingLayer(engine)
    out = io.StringIO()
    console = Console(engine, layer, out)
    audit = AuditTail(engine.config.data_dir / "journal.db")
    try:
        for spec in COMMANDS:
            mark, written = audit.last_id(), out.tell()
            await console.handle(console_line(spec, engine))
            shown = out.getvalue()[written:]
            assert layer.roles[-1] is Role.ADMIN, spec.name
            assert allowed(spec, layer.roles[-1]) and "needs the" not in shown, (spec.name, shown)
            rows = audit.since(mark)
            assert [(row.command, row.actor) for row in rows] == [(spec.name, "console")], spec.name
    finally:
        audit.close()
        engine.bus.unsubscribe(console._events)
    assert len(layer.roles) == len(COMMANDS)


# ---- Discord slash commands -------------------------------------------------------------------


def discord_args(spec: Command, engine: Engine) -> dict[str, object]:
    # Choices as Discord sends them (their declared value and type), numbers as integers.
    return valid_args(spec, engine, discord=True)


async def answer(fake: FakeDiscord, itx: SentInteraction, spec: Command) -> str:
    # A command that may wait on the broker is acknowledged first (two responses); a manual
    # order's prompt, and everything else, is one reply.
    count = 2 if spec.defer and not spec.confirm else 1
    return text_of((await fake.wait_response(itx, count=count, timeout=20))[-1])


async def test_discord_slash_matrix(engine: Engine, fake: FakeDiscord, bot: DiscordTransport) -> None:
    await calm(engine)
    audit = AuditTail(engine.config.data_dir / "journal.db")
    try:
        for spec in COMMANDS:
            for role in Role:
                user, roles = member(fake, role)
                before, mark = Snapshot.of(engine), audit.last_id()
                itx = await fake.slash(spec.name, discord_args(spec, engine), user_id=user, roles=roles)
                text = await answer(fake, itx, spec)
                cell = (spec.name, role.name, text[:200])
                rows = audit.since(mark)
                assert len(rows) == 1 and rows[0].actor.startswith(f"discord:{user} "), (cell, rows)
                if allowed(spec, role):
                    assert text.strip() and "needs the" not in text, cell
                else:
                    assert role_refusal(spec) in text and not rows[0].ok, cell
                    assert before.changes(Snapshot.of(engine)) == [], cell
    finally:
        audit.close()


# ---- Discord autocomplete ---------------------------------------------------------------------


async def test_discord_autocomplete_shows_nothing_below_the_command_s_role(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    await calm(engine)
    order_ids = {o.broker_order_id or o.client_order_id for o in engine.orders.live_orders()}
    subscribed = set(engine.subscriptions.records)
    sources = [(spec, o) for spec in COMMANDS for o in spec.options if o.suggest is not None]
    assert {o.suggest for _, o in sources} == {"instruments", "subscribed", "live_orders", "conditions"}
    conditions = {c.name for c in await engine.auto.available()}
    assert conditions
    for spec, option in sources:
        for role in Role:
            user, roles = member(fake, role)
            itx = await fake.autocomplete(
                spec.name, {option.name: ""}, option.name, user_id=user, roles=roles
            )
            (response,) = await fake.wait_response(itx)
            values = {c["value"] for c in response["data"]["choices"]}
            cell = (spec.name, option.name, role.name, sorted(values)[:5])
            if not allowed(spec, role):
                assert values == set(), cell
            elif option.suggest == "live_orders":
                assert order_ids <= values, cell
            elif option.suggest == "subscribed":
                assert values == subscribed, cell
            elif option.suggest == "conditions":
                assert values == conditions, cell
            else:
                assert "005930" in values, cell


# ---- the Confirm / Cancel buttons ------------------------------------------------------------


async def ask(fake: FakeDiscord, user: int = TRADER) -> tuple[dict[str, Any], dict[str, str]]:
    """A trader's /buy prompt: the message and its buttons by label."""
    itx = await fake.slash("buy", {"symbol": "005930", "qty": 1}, user_id=user, roles=[fake.roles["trader"]])
    (prompt,) = await fake.wait_response(itx)
    assert "Buy 1 005930?" in text_of(prompt), text_of(prompt)
    message = fake.response_message(itx)
    return message, {c["label"]: c["custom_id"] for row in message["components"] for c in row["components"]}


async def test_only_the_asker_may_answer_a_prompt(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    await calm(engine)
    message, buttons = await ask(fake)
    orders = len(engine.orders.orders)
    others = [
        (VIEWER, [fake.roles["viewer"]]),
        (OTHER_TRADER, [fake.roles["trader"]]),
        (ADMIN, []),
        (NO_ROLE, []),
    ]
    for user, roles in others:
        for label in ("Confirm", "Cancel"):
            itx = await fake.click(message, buttons[label], user_id=user, roles=roles, strict=False)
            (no,) = await fake.wait_response(itx)
            assert "Only the person who asked" in text_of(no), (user, label)
    assert len(engine.orders.orders) == orders
    assert fake.message(message["id"])["components"], "the prompt must still stand for its owner"

    # Its owner can still answer it: Cancel sends nothing.
    itx = await fake.click(message, buttons["Cancel"], user_id=TRADER, roles=[fake.roles["trader"]])
    (closed,) = await fake.wait_response(itx)
    assert closed["type"] == 7 and "Order not sent" in text_of(closed)
    assert len(engine.orders.orders) == orders


@pytest.mark.parametrize(("now", "shown"), [("no role", "you have no role"), ("viewer", "you have viewer")])
async def test_a_role_removed_before_the_click_is_refused_at_the_click(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport, now: str, shown: str
) -> None:
    await calm(engine)
    message, buttons = await ask(fake)
    orders = len(engine.orders.orders)
    audit = AuditTail(engine.config.data_dir / "journal.db")
    mark = audit.last_id()
    roles = [] if now == "no role" else [fake.roles["viewer"]]
    itx = await fake.click(message, buttons["Confirm"], user_id=TRADER, roles=roles)
    _, refused = await fake.wait_response(itx, count=2)
    assert "needs the trader role" in text_of(refused) and shown in text_of(refused)
    assert len(engine.orders.orders) == orders
    rows = audit.since(mark)
    audit.close()
    assert [(row.command, row.ok) for row in rows] == [("buy", False)]


async def test_the_asker_with_the_role_still_confirms(
    engine: Engine, fake: FakeDiscord, bot: DiscordTransport
) -> None:
    # The positive control for the refusals above: the same prompt, answered by its owner while
    # still a trader, sends exactly one order.
    await calm(engine)
    message, buttons = await ask(fake)
    orders = len(engine.orders.orders)
    itx = await fake.click(message, buttons["Confirm"], user_id=TRADER, roles=[fake.roles["trader"]])
    _, placed = await fake.wait_response(itx, count=2)
    assert "Sent: buy 1 005930" in text_of(placed), text_of(placed)
    assert len(engine.orders.orders) == orders + 1


async def test_a_refused_layer_call_raises_command_error_not_another_type(engine: Engine) -> None:
    # The transports catch CommandError only: a role refusal must be one, for every command.
    layer = CommandLayer(engine)
    for spec in COMMANDS:
        with pytest.raises(CommandError, match=role_refusal(spec)):
            await layer.execute(Invocation("nobody", "test", Role.NONE, "x"), spec.name, {})
