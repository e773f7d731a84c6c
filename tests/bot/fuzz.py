"""Property-based fuzz of the command layer (bot/commands/layer.py), shared by the suite
(tests/bot/test_fuzz.py, tests/bot/test_authorization.py) and runnable on its own:

    .venv/bin/python -m tests.bot.fuzz --examples 10000 [--seed N]

Every declared command (COMMANDS) is called by every role (Role) with arguments generated from
its Options: plausible values (listed symbols, small quantities, dates, choices, strategy
parameters) and hostile ones (empty, huge, negative, non-ASCII digits, '1_0', control
characters, ANSI escapes, bidi overrides, 10,000-character strings, NUL, random unicode, unknown
keys, missing options). Console lines go through execute_text, Discord's order prompts through
preview_order, autocomplete through suggest. Each example is a short sequence of such calls mixed
with valid state-changing ones (subscribe, buy, halt, resume, cancelorder of a real id from
/orders, auto on/off), so refusals are tried in many states; a deterministic sweep of every
command x role (and of each option made hostile alone) runs first.

The engine runs on the embedded sim with no trades at all (QUIET_TICK_RATE), so nothing changes
the state but the calls themselves, and "nothing changed" can be checked strictly: see Snapshot.

Properties checked on every call (a violation is recorded, never raised, so one run reports
them all and hypothesis never shrinks against an engine whose state moved on):
  - no internal error: no CommandError saying "failed inside the engine", no other exception;
  - a refused call changes nothing (Snapshot before == after);
  - a role below the command's role is refused, with a message naming the role, and changes
    nothing; a command a viewer may run changes nothing even when it succeeds;
  - exactly one audit row per call, whose ok flag matches the outcome (autocomplete writes none);
  - every error message is at most MESSAGE_MAX characters with no control/format character;
  - a preview and an autocomplete change nothing; autocomplete shows nothing below the role.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sqlite3
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from bot.commands import CommandError, CommandLayer, Invocation, Role
from bot.commands import results as r
from bot.commands.catalog import Command, Kind, Option, Suggest, split_line
from bot.commands.layer import BY_NAME, COMMANDS
from engine.brokers.sim.config import SimSettings
from engine.config import EngineConfig, ScheduleSettings
from engine.core import Engine
from engine.strategies.registry import STRATEGIES

MESSAGE_MAX = 600
INTERNAL = "failed inside the engine"
# The sim prints one trade per symbol every ~1e9 s at this rate: no tick, so no fill, no
# strategy signal and no condition-search event can arrive while the fuzz runs. Everything
# that changes the state is then a command's doing, and the snapshot can be strict.
QUIET_TICK_RATE = 1e-9

# Values that broke (or could break) parsers elsewhere: echoed escapes, digits int() takes but a
# person did not mean, separators, quoting, sizes past every buffer.
HOSTILE: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",
    "\x1b]0;title\x07",
    "\u202e",
    "\u202egnp.exe",
    "\u2066x\u2069",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\x85",
    "\x7f",
    "１",
    "٣",
    "²",
    "1_0",
    "1e3",
    "+5",
    "0x10",
    "-1",
    "0",
    "-0",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "9" * 30,
    "9" * 10_000,
    "A" * 10_000,
    "\r\n",
    "\t",
    "'",
    '"',
    "\\",
    "=",
    "k=",
    "=1",
    "k=1=2",
    "None",
    "%s%n",
    "{0}",
    "<@&1>",
    "@everyone",
    "\U0001f4a9",
    "ǅ",
    "005930\x1b[31m",
    "０05930",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "2026-W01-1",
    "20261201",
    "\x1b[31m=1",
    "\u202ek=0.4",
    "k=0.4\x1b[2J",
    "K=1,SL=2",
)


def hostile_text() -> st.SearchStrategy[str]:
    unicode = st.characters(exclude_categories=["Cs"])  # any code point a str can carry
    controls = st.characters(categories=["Cc", "Cf"])
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(unicode, max_size=40),
        st.text(controls, min_size=1, max_size=8),
        st.tuples(st.sampled_from(HOSTILE), st.text(unicode, max_size=8)).map("".join),
    )


HOSTILE_TEXT = hostile_text()


def hostile_value(whole: bool = False) -> st.SearchStrategy[object]:
    """What a transport can hand the layer: text (the console, and Discord for text options), a
    whole number (Discord, for number options and number choices: `whole`), or nothing."""
    if whole:
        return st.one_of(HOSTILE_TEXT, st.integers(-(10**30), 10**30), st.none())
    return st.one_of(HOSTILE_TEXT, st.none())


# ---- what a refusal must leave alone ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a command could change. Orders are summarised as their count, the newest id and the
    full detail of live ones: a dead order (filled, cancelled, rejected) never changes again, and
    copying thousands of them twice per call would make a 10,000-example run crawl."""

    order_count: int
    newest_order: str | None
    live_orders: tuple[tuple[str, str, int, int, str | None], ...]
    subscriptions: tuple[tuple[str, str, tuple[tuple[str, float], ...], int | None, str], ...]
    halted: bool
    halt_reason: str
    auto_enabled: bool
    auto_condition: str | None
    cash: int
    available_cash: int
    positions: tuple[tuple[str, int, float], ...]

    @classmethod
    def of(cls, engine: Engine) -> Snapshot:
        orders = engine.orders.orders
        p = engine.portfolio
        return cls(
            order_count=len(orders),
            newest_order=next(reversed(orders), None),
            live_orders=tuple(
                sorted(
                    (o.client_order_id, o.status, o.qty, o.filled_qty, o.broker_order_id)
                    for o in orders.values()
                    if o.live
                )
            ),
            subscriptions=tuple(
                sorted(
                    (s, rec.strategy, tuple(sorted(rec.params.items())), rec.qty, rec.source)
                    for s, rec in engine.subscriptions.records.items()
                )
            ),
            halted=engine.controls.halted,
            halt_reason=engine.controls.halt_reason,
            auto_enabled=engine.auto.enabled,
            auto_condition=engine.auto.condition,
            cash=p.cash,
            available_cash=p.available_cash(),
            positions=tuple(sorted((s, pos.qty, pos.avg_price) for s, pos in p.positions.items())),
        )

    def changes(self, after: Snapshot) -> list[str]:
        return [name for name in self.__slots__ if getattr(self, name) != getattr(after, name)]


# ---- the audit, read as rows -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    actor: str
    command: str
    args: str
    ok: bool
    result: str


class AuditTail:
    """New audit rows by id, read on a connection of our own.

    Journal.audit_log(limit=100) is bounded (newest 100 rows, without their ids), so counting
    with it saturates at 100 and cannot tell two rows written by one call from the rows before
    it. The journal commits each statement (autocommit, WAL) before audit() returns, so a second
    reader sees a call's row as soon as execute() returns."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def last_id(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()
        return int(row[0])

    def since(self, last_id: int) -> list[AuditRow]:
        rows = self._db.execute(
            "SELECT id, actor, command, args, ok, result FROM audit WHERE id > ? ORDER BY id", (last_id,)
        ).fetchall()
        return [AuditRow(i, a, c, g, bool(ok), res) for i, a, c, g, ok, res in rows]

    def close(self) -> None:
        self._db.close()


# ---- counting ---------------------------------------------------------------------------------


def unprintable(text: str) -> list[str]:
    """Control (Cc) and format (Cf: bidi overrides, zero-width) characters in `text`."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf")})


def clip(value: object, limit: int = 160) -> str:
    text = ascii(value)
    return text if len(text) <= limit else text[:limit] + f"…({len(text):,} chars)"


@dataclass(frozen=True, slots=True)
class Violation:
    prop: str  # internal | state | unauthorized | audit | message
    command: str
    role: str
    call: str  # what was sent, ascii-escaped and bounded
    detail: str
    kind: str  # what went wrong, without the particulars: violations are grouped by it


@dataclass
class Stats:
    examples: int = 0
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Per (command, role): calls that went through (for autocomplete: that suggested something).
    went_through: Counter[tuple[str, str]] = field(default_factory=Counter)
    refusals: int = 0
    successes: int = 0
    violations: list[Violation] = field(default_factory=list)

    def count(self, prop: str) -> int:
        return sum(v.prop == prop for v in self.violations)

    @property
    def ok(self) -> bool:
        return not self.violations

    def distinct(self) -> list[tuple[Violation, int, list[str]]]:
        """Per (property, kind): its first example, how many, and the commands it was seen in."""
        seen: dict[tuple[str, str], tuple[Violation, int, list[str]]] = {}
        for v in self.violations:
            first, n, commands = seen.get((v.prop, v.kind), (v, 0, []))
            if v.command not in commands:
                commands.append(v.command)
            seen[(v.prop, v.kind)] = (first, n + 1, commands)
        return list(seen.values())

    def report(self) -> str:
        roles = [role.name for role in Role]
        names = sorted({c for c, _ in self.calls})
        counts = [
            ("examples run", self.examples),
            ("calls", sum(self.calls.values())),
            ("successes", self.successes),
            ("refusals", self.refusals),
            ("internal errors", self.count("internal")),
            ("state-change violations", self.count("state")),
            ("unauthorized actions", self.count("unauthorized")),
            ("audit mismatches", self.count("audit")),
            ("bad error messages", self.count("message")),
        ]
        lines = [f"{what + ':':<25}{n:>9,}" for what, n in counts]
        lines += [
            "",
            "calls per command x role, as calls/went through (autocomplete: suggested something):",
            f"  {'command':<31}" + "".join(f"{n:>12}" for n in roles),
        ]
        for name in names:
            cells = [f"{self.calls[(name, n)]:,}/{self.went_through[(name, n)]:,}" for n in roles]
            lines.append(f"  {name:<31}" + "".join(f"{c:>12}" for c in cells))
        if self.violations:
            lines += ["", "violations, by kind (count, commands, one example):"]
            for v, n, commands in self.distinct():
                lines.append(f"  [{v.prop}] {v.kind}: x{n:,} in {' '.join('/' + c for c in commands)}")
                lines.append(f"      e.g. /{v.command} as {v.role}: {v.detail}")
                lines.append(f"      input: {v.call}")
        return "\n".join(lines)


# ---- values from the declarations -------------------------------------------------------------


def param_names() -> list[str]:
    return sorted({name for cls in STRATEGIES.values() for name in cls.params_spec})


def valid_args(
    spec: Command, engine: Engine, discord: bool = False, fresh: bool = False
) -> dict[str, object]:
    """Arguments that pass validation for `spec` in a calm state, derived from its options: the
    authorization matrix runs every command with them, so a refusal there is about the role (or
    the state), never about the input. `discord` gives options the types Discord sends; `fresh`
    picks a symbol not subscribed yet (subscribing a subscribed symbol is answered before its
    other options are looked at)."""
    unsubscribed = [c for c in sorted(engine.instruments) if c not in engine.subscriptions.records]
    args: dict[str, object] = {}
    for o in spec.options:
        if not o.required:
            continue
        if o.suggest is Suggest.SUBSCRIBED:
            subscribed = sorted(engine.subscriptions.records)
            args[o.name] = subscribed[0] if subscribed else "005930"
        elif o.suggest is Suggest.LIVE_ORDERS:
            live = engine.orders.live_orders()
            args[o.name] = (live[0].broker_order_id or live[0].client_order_id) if live else "S99999999"
        elif o.kind is Kind.SYMBOL:
            args[o.name] = unsubscribed[0] if fresh and unsubscribed else "005930"
        elif o.kind is Kind.NUMBER:
            args[o.name] = 1 if discord else "1"
        elif o.kind is Kind.DATE:
            args[o.name] = engine.clock.today().isoformat()
        elif o.kind is Kind.CHOICE:
            args[o.name] = o.choices[0].value
        elif o.kind is Kind.PARAMS:
            args[o.name] = ""
        else:
            args[o.name] = "fuzz"
    return args


def keyed(name: str) -> Callable[[object], dict[str, object]]:
    return lambda value: {name: value}


class Values:
    """Strategies for option values, plausible and hostile. Built once (building and validating
    strategies per example costs more than running the calls); what depends on the engine's
    state (subscribed symbols, order ids) is looked up when drawn, see pick()."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.codes = sorted(engine.instruments)
        self.by_command = {spec.name: self.args(spec) for spec in COMMANDS}
        # Every option with a suggestion source, and a few without (or unknown): those get [].
        self.suggestable = st.sampled_from(
            [
                *[(c.name, o.name) for c in COMMANDS for o in c.options if o.suggest is not None],
                ("buy", "qty"),
                ("halt", "reason"),
                ("nope", "symbol"),
                ("buy", "nope"),
            ]
        )
        self.lines = self.line()

    def symbols(self) -> st.SearchStrategy[str]:
        listed = st.sampled_from(self.codes)
        return st.one_of(
            listed,
            listed.map(lambda c: "a" + c),
            listed.map(str.lower),
            st.sampled_from(["123450", "0000A0", "999999", " 005930 "]),
        )

    @staticmethod
    def pick(current: Callable[[], list[str]], fallback: list[str]) -> st.SearchStrategy[str]:
        """One of what `current()` holds when drawn (else of `fallback`). The draw itself is
        always one integer in a fixed range: hypothesis requires the shape of what is drawn not
        to depend on state (it raises FlakyStrategyDefinition otherwise), and the state (orders,
        subscriptions) moves from one example to the next."""

        def choose(i: int) -> str:
            items = current() or fallback
            return items[i % len(items)]

        return st.integers(0, 9_999).map(choose)

    def subscribed(self) -> st.SearchStrategy[str]:
        return self.pick(lambda: sorted(self.engine.subscriptions.records), self.codes)

    def known_order_ids(self) -> list[str]:
        orders = self.engine.orders
        live = [o.broker_order_id or o.client_order_id for o in orders.live_orders()]
        dead = [
            o.broker_order_id or o.client_order_id for o in list(orders.orders.values())[-5:] if not o.live
        ]
        return live + dead + [c.lower() for c in live]

    def order_ids(self) -> st.SearchStrategy[str]:
        guessed = ["S00000001", "TC0000000000000000", "S99999999"]
        return st.one_of(self.pick(self.known_order_ids, guessed), st.sampled_from(guessed))

    def numbers(self) -> st.SearchStrategy[object]:
        small = st.integers(1, 20)
        return st.one_of(
            small,
            small.map(str),
            st.sampled_from(["1,000", " 7 ", "05"]),
            st.integers(-5, 2_000_000),
            st.integers(-5, 2_000_000).map(str),
        )

    def prices(self) -> st.SearchStrategy[object]:
        inst = [self.engine.instruments[c] for c in self.codes]
        grid = st.sampled_from([p for i in inst for p in (i.prev_close, i.lower_limit, i.upper_limit)])
        return st.one_of(grid, grid.map(str), grid.map(lambda p: p + 1), self.numbers())

    def dates(self) -> st.SearchStrategy[object]:
        return st.one_of(
            st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(date.isoformat),
            st.dates().map(date.isoformat),
            st.just(""),
        )

    def choices(self, option: Option) -> st.SearchStrategy[object]:
        values = [c.value for c in option.choices]
        return st.one_of(
            st.sampled_from(values),
            st.sampled_from(values).map(str),
            st.sampled_from(["ON", " off ", "yes", "0", "7", "maybe"]),
        )

    def params(self) -> st.SearchStrategy[str]:
        pair = st.tuples(
            st.sampled_from([*param_names(), "zz", "K"]),
            st.one_of(
                st.floats(0, 10, allow_nan=False).map(lambda f: f"{f:g}"),
                st.sampled_from(["0.4", "1.5", "-1", "1e308", "nan", "１"]),
            ),
        )
        return st.lists(pair.map("=".join), max_size=4).flatmap(
            lambda ps: st.sampled_from([" ".join(ps), ",".join(ps)])
        )

    def plausible(self, spec: Command, option: Option) -> st.SearchStrategy[object]:
        if option.suggest is Suggest.SUBSCRIBED:
            return self.subscribed()
        if option.suggest is Suggest.LIVE_ORDERS:
            return self.order_ids()
        if option.kind is Kind.SYMBOL:
            return self.symbols()
        if option.kind is Kind.NUMBER:
            return self.prices() if option.name == "price" else self.numbers()
        if option.kind is Kind.DATE:
            return self.dates()
        if option.kind is Kind.CHOICE:
            return self.choices(option)
        if option.kind is Kind.PARAMS:
            return self.params()
        return st.one_of(st.text("abcdefgh xyz-_", max_size=30), st.sampled_from(["momentum", "risk"]))

    def option(self, spec: Command, option: Option) -> st.SearchStrategy[object]:
        whole = option.kind is Kind.NUMBER or any(isinstance(c.value, int) for c in option.choices)
        return st.one_of(self.plausible(spec, option), hostile_value(whole))

    def args(self, spec: Command) -> st.SearchStrategy[dict[str, object]]:
        """Each option present or not (required ones mostly present), plus unknown keys."""
        parts: list[st.SearchStrategy[dict[str, object]]] = []
        for o in spec.options:
            value = self.option(spec, o)
            missing = st.sampled_from([{}, {o.name: None}, {o.name: ""}])
            present = value.map(keyed(o.name))
            weighted = [present] * (6 if o.required else 1) + [missing]
            parts.append(st.one_of(*weighted))
        extra = st.dictionaries(
            st.one_of(st.sampled_from(["foo", "SYMBOL", "qty2", "__class__", ""]), HOSTILE_TEXT),
            hostile_value(whole=True),
            max_size=2,
        )
        parts.append(st.one_of(st.just({}), st.just({}), st.just({}), extra))

        def merge(ds: tuple[dict[str, object], ...]) -> dict[str, object]:
            out: dict[str, object] = {}
            for d in reversed(ds):  # declared options win over an unknown key of the same name
                out.update(d)
            return out

        return st.tuples(*parts).map(merge)

    def line(self) -> st.SearchStrategy[str]:
        """A console line: a command word (or not) and words, plain, quoted or broken."""
        names = [c.name for c in COMMANDS]
        head = st.one_of(
            st.sampled_from(names),
            st.sampled_from(names).map(lambda n: "/" + n.upper()),
            st.sampled_from(["/wat", "quit", "#", "/", "//buy", "wait"]),
            HOSTILE_TEXT,
        )
        word = st.one_of(
            self.symbols(),
            self.numbers().map(str),
            self.params(),
            HOSTILE_TEXT,
            st.sampled_from(["'", '"', "\\", "'unterminated", '"a b"', "k=0.4"]),
        )
        words = st.lists(word, max_size=6)
        joined = st.tuples(head, words).flatmap(
            lambda hw: st.sampled_from([" ".join([hw[0], *hw[1]]), shlex.join([hw[0], *hw[1]])])
        )
        binaryish = st.binary(max_size=200).flatmap(
            lambda b: st.sampled_from([b.decode("utf-8", errors="replace"), b.decode("latin-1")])
        )
        return st.one_of(joined, joined, binaryish, HOSTILE_TEXT)


# ---- the harness ------------------------------------------------------------------------------


def fuzz_config(data_dir: Path) -> EngineConfig:
    """The embedded sim, quiet (see QUIET_TICK_RATE), in `data_dir`; always open, as the other
    tests run (TRADING_HOURS=always)."""
    return replace(
        EngineConfig(),
        data_dir=data_dir,
        broker_settings=SimSettings(url=None, tick_rate=QUIET_TICK_RATE),
        schedule=ScheduleSettings(trading_hours="always"),
    )


class Harness:
    """Runs calls through a CommandLayer and checks every property on each."""

    def __init__(self, engine: Engine, layer: CommandLayer) -> None:
        self.engine = engine
        self.layer = layer
        self.audit = AuditTail(engine.config.data_dir / "journal.db")
        self.values = Values(engine)
        self.stats = Stats()
        self.last_error: CommandError | None = None  # the latest checked call's refusal
        self._ids = 0

    @classmethod
    async def start(
        cls, data_dir: Path, make_layer: Callable[[Engine], CommandLayer] = CommandLayer
    ) -> Harness:
        engine = Engine(fuzz_config(data_dir))
        await engine.start()
        await engine.wait_ready(30)
        return cls(engine, make_layer(engine))

    async def close(self) -> None:
        self.audit.close()
        await self.engine.stop()

    def invocation(self, role: Role) -> Invocation:
        self._ids += 1
        return Invocation(f"fuzz:{role.name.lower()}", "fuzz", role, f"fuzz-{self._ids}")

    def _violate(
        self, prop: str, command: str, role: Role, call: object, detail: str, kind: str | None = None
    ) -> None:
        self.stats.violations.append(Violation(prop, command, role.name, clip(call), detail, kind or detail))

    async def call(self, role: Role, name: str, args: Mapping[str, Any]) -> r.Result | None:
        """One checked layer.execute; the result, or None when refused."""
        inv = self.invocation(role)
        return await self._checked(
            inv,
            name,
            lambda: self.layer.execute(inv, name, args),
            (name, dict(args)),
            BY_NAME.get(name),
            keys=tuple(args),
        )

    async def line(self, role: Role, text: str) -> r.Result | None:
        """One checked layer.execute_text (a console line)."""
        inv = self.invocation(role)
        # The role rule applies once the line parses into a command: a line that does not parse
        # is refused for that first (whoever types it), as the layer documents.
        try:
            spec: Command | None = split_line(text, BY_NAME)[0]
        except CommandError:
            spec = None
        return await self._checked(
            inv, "(line)", lambda: self.layer.execute_text(inv, text), text, spec, line=True
        )

    async def preview(self, role: Role, side: str, args: Mapping[str, Any]) -> r.Result | None:
        """One checked preview_order (Discord's /buy and /sell before Confirm): audited as
        `<side>?`, and it must change nothing whether it succeeds or not. `side` is the command's
        name, as bot/discord/commands.py passes it."""
        inv = self.invocation(role)
        return await self._checked(
            inv,
            f"{side}?",
            lambda: self.layer.preview_order(inv, side, args),  # type: ignore[arg-type]
            (f"{side}?", dict(args)),
            BY_NAME[side],
            keys=tuple(args),
            read_only=True,
        )

    async def suggestions(self, role: Role, name: str, option: str, current: str) -> None:
        """One checked suggest() (autocomplete): nothing for a role below the command's, never
        an exception, never a change. It writes no audit row (it runs on every keystroke)."""
        spec = BY_NAME.get(name)
        call = ("suggest", name, option, current)
        key = f"{name}.{option} (suggest)"
        self.stats.calls[(key, role.name)] += 1
        before = Snapshot.of(self.engine)
        try:
            found = await self.layer.suggest(self.invocation(role), name, option, current)
        except Exception as exc:
            self._violate(
                "internal",
                key,
                role,
                call,
                f"{type(exc).__name__} escaped: {clip(exc, 200)}",
                f"{type(exc).__name__} escaped",
            )
            return
        self.stats.successes += 1
        self.stats.went_through[(key, role.name)] += bool(found)
        changed = before.changes(Snapshot.of(self.engine))
        if changed:
            self._violate(
                "state",
                key,
                role,
                call,
                f"autocomplete changed {', '.join(changed)}",
                "autocomplete changed the state",
            )
        if spec is not None and role < spec.role and found:
            self._violate(
                "unauthorized",
                key,
                role,
                call,
                f"{len(found)} suggestions shown to {role.name}: {clip(found[:2], 120)}",
                "suggestions shown below the command's role",
            )

    async def _checked(
        self,
        inv: Invocation,
        name: str,
        run: Callable[[], Any],
        call: object,
        spec: Command | None,
        line: bool = False,
        keys: tuple[object, ...] = (),
        read_only: bool = False,
    ) -> r.Result | None:
        role = inv.role
        before = Snapshot.of(self.engine)
        mark = self.audit.last_id()
        result: r.Result | None = None
        error: CommandError | None = None
        try:
            result = await run()
        except CommandError as exc:
            error = exc
        except Exception as exc:  # any other type escaping execute() is itself the finding
            self._violate(
                "internal",
                name,
                role,
                call,
                f"{type(exc).__name__} escaped: {clip(exc, 200)}",
                f"{type(exc).__name__} escaped",
            )
            error = CommandError(f"{type(exc).__name__}")
        self.last_error = error
        after = Snapshot.of(self.engine)
        rows = self.audit.since(mark)
        shown_name = (spec.name if spec is not None else "(unparsed line)") if line else name
        self.stats.calls[(shown_name, role.name)] += 1
        if error is None:
            self.stats.successes += 1
            self.stats.went_through[(shown_name, role.name)] += 1
        else:
            self.stats.refusals += 1
        changed = before.changes(after)

        if error is not None and INTERNAL in error.message:
            cause = error.__cause__
            self._violate(
                "internal",
                shown_name,
                role,
                call,
                f"{type(cause).__name__}: {clip(cause, 200)}" if cause else error.message,
                f"failed inside: {type(cause).__name__}: {str(cause)[:48]}",
            )
        if error is not None and changed:
            self._violate(
                "state",
                shown_name,
                role,
                call,
                f"refused ({clip(error.message, 120)}) yet changed {', '.join(changed)}",
                f"refused yet changed {', '.join(changed)}",
            )
        if spec is not None and role < spec.role:
            needs = f"needs the {spec.role.name.lower()} role"
            if error is None:
                self._violate(
                    "unauthorized",
                    spec.name,
                    role,
                    call,
                    f"ran for {role.name}",
                    "ran for a role below the command's",
                )
            elif needs not in error.message:
                self._violate(
                    "unauthorized",
                    spec.name,
                    role,
                    call,
                    f"refused without naming the role: {clip(error.message, 120)}",
                    "refused without naming the role",
                )
        if read_only and error is None and changed:
            self._violate(
                "state",
                shown_name,
                role,
                call,
                f"changed {', '.join(changed)}",
                "a read-only call changed the state",
            )
        if spec is not None and spec.role <= Role.VIEWER and error is None and changed:
            # A viewer may run it, and a viewer may not act: it must not change anything.
            self._violate(
                "unauthorized",
                spec.name,
                role,
                call,
                f"a command a viewer may run changed {', '.join(changed)}",
                "a command a viewer may run changed the state",
            )
        if len(rows) != 1:
            self._violate("audit", shown_name, role, call, f"{len(rows)} audit rows for one call")
        else:
            row = rows[0]
            if row.ok != (error is None):
                self._violate(
                    "audit",
                    shown_name,
                    role,
                    call,
                    f"audit says ok={row.ok}, the call {'failed' if error else 'succeeded'}",
                    "audit ok flag wrong",
                )
            if not line and row.command != name:
                self._violate(
                    "audit",
                    shown_name,
                    role,
                    call,
                    f"audit names /{clip(row.command)}",
                    "audit names another command",
                )
            # Keys are option names in both transports (a person cannot type one), so a raw
            # character in a key the fuzz made up is not held against the audit.
            typed = row.args if all(not unprintable(str(k)) for k in keys) else ""
            bad = unprintable(row.actor + row.command + typed + row.result)
            if bad:
                self._violate(
                    "audit",
                    shown_name,
                    role,
                    call,
                    f"audit row holds raw {' '.join(bad[:6])}: args={clip(row.args, 100)}",
                    "audit row holds control/format characters",
                )
        if error is not None:
            message = error.message
            bad = unprintable(message)
            if len(message) > MESSAGE_MAX:
                self._violate(
                    "message",
                    shown_name,
                    role,
                    call,
                    f"error message of {len(message):,} characters: {clip(message, 100)}",
                    f"error message longer than {MESSAGE_MAX}",
                )
            if bad:
                self._violate(
                    "message",
                    shown_name,
                    role,
                    call,
                    f"error message holds raw {' '.join(bad[:6])}: {clip(message, 100)}",
                    "error message holds control/format characters",
                )
        return result

    # ---- a deterministic sweep: every command x role, a few fixed inputs each ------------------

    def sweep_inputs(self, spec: Command, role: Role, full: bool) -> Iterator[dict[str, object]]:
        yield valid_args(spec, self.engine)
        yield {}
        for bad in ("\x1b[31m\x1b[2J", "\u202e" + "A" * 10_000, "１٣²", "9" * 10_000, "\x00"):
            yield {o.name: bad for o in spec.options}
        yield {**valid_args(spec, self.engine), "\x1b[31munknown": "x", "": None}
        if full and role == spec.role:
            # One option hostile, the others valid, so each option's own check is reached
            # (once per command: the lowest role that may run it).
            for o in spec.options:
                for bad in HOSTILE:
                    yield {**valid_args(spec, self.engine, fresh=True), o.name: bad}

    async def sweep(self, full: bool = True, only: Collection[str] | None = None) -> None:
        """Every command (or those named in `only`) x role with valid, empty, hostile and
        extra-key arguments; `full` adds each option made hostile alone (about 1,100 more calls)."""
        for spec in COMMANDS:
            if only is not None and spec.name not in only:
                continue
            for role in Role:
                for args in self.sweep_inputs(spec, role, full):
                    await self.call(role, spec.name, args)
                for o in spec.options:
                    if o.suggest is not None:
                        await self.suggestions(role, spec.name, o.name, "")
                if spec.confirm:
                    await self.preview(role, spec.name, valid_args(spec, self.engine))
                    await self.preview(role, spec.name, {})
        # Back to a calm state for what follows (the sweep's own /halt was legitimate).
        if self.engine.controls.halted:
            await self.call(Role.ADMIN, "resume", {})

    # ---- one hypothesis example: a short sequence of calls -------------------------------------

    async def example(self, data: st.DataObject) -> None:
        self.stats.examples += 1
        for _ in range(data.draw(st.integers(1, 3), label="steps")):
            step = data.draw(
                st.sampled_from(["fuzz", "fuzz", "fuzz", "line", "action", "preview", "suggest"]),
                label="step",
            )
            if step == "fuzz":
                spec = data.draw(st.sampled_from(COMMANDS), label="command")
                role = data.draw(st.sampled_from(list(Role)), label="role")
                args = data.draw(self.values.by_command[spec.name], label="args")
                await self.call(role, spec.name, args)
            elif step == "line":
                role = data.draw(st.sampled_from([Role.ADMIN, Role.ADMIN, *Role]), label="role")
                await self.line(role, data.draw(self.values.lines, label="line"))
            elif step == "preview":
                side = data.draw(st.sampled_from(["buy", "sell"]), label="side")
                role = data.draw(st.sampled_from(list(Role)), label="role")
                await self.preview(role, side, data.draw(self.values.by_command[side], label="args"))
            elif step == "suggest":
                name, option = data.draw(self.values.suggestable, label="option")
                role = data.draw(st.sampled_from(list(Role)), label="role")
                current = data.draw(
                    st.one_of(st.sampled_from(["", "0", "00", "S", "s0", "삼성", "tc"]), HOSTILE_TEXT),
                    label="current",
                )
                await self.suggestions(role, name, option, current)
            else:
                await self.action(data)

    async def action(self, data: st.DataObject) -> None:
        """A valid move that changes the state, made as a person would (and checked as a call)."""
        v = self.values
        what = data.draw(
            st.sampled_from(
                ["subscribe", "cancel", "buy", "buy", "sell", "cancelorder", "halt", "resume", "auto"]
            ),
            label="action",
        )
        trader = data.draw(st.sampled_from([Role.TRADER, Role.ADMIN]), label="by")
        if what == "subscribe":
            params = data.draw(st.sampled_from(["", "k=0.4", "k=0.5 sl=1.5", "tp=3"]), label="params")
            await self.call(
                trader,
                "subscribe",
                {
                    "symbol": data.draw(st.sampled_from(v.codes)),
                    "strategy": data.draw(st.sampled_from(list(STRATEGIES))),
                    "params": params,
                },
            )
        elif what == "cancel":
            await self.call(trader, "cancel", {"symbol": data.draw(v.subscribed(), label="symbol")})
        elif what in ("buy", "sell"):
            code = data.draw(st.sampled_from(v.codes), label="symbol")
            inst = self.engine.instruments[code]
            price = data.draw(st.sampled_from([None, inst.prev_close, inst.lower_limit]), label="price")
            await self.call(
                trader, what, {"symbol": code, "qty": data.draw(st.integers(1, 5)), "price": price}
            )
        elif what == "cancelorder":
            listed = await self.call(Role.VIEWER, "orders", {})
            ids = [row.order_id for row in listed.rows] if isinstance(listed, r.OrderList) else []
            ident = data.draw(v.pick(lambda: ids, v.known_order_ids() or ["S99999999"]), label="order_id")
            await self.call(trader, "cancelorder", {"order_id": ident})
        elif what == "halt":
            await self.call(trader, "halt", {"reason": data.draw(st.sampled_from(["", "fuzz", "risk"]))})
        elif what == "resume":
            await self.call(Role.ADMIN, "resume", {})
        else:
            await self.call(trader, "auto", {"mode": data.draw(st.sampled_from(["on", "off"]))})


def run_fuzz(
    examples: int,
    seed: int | None = None,
    data_dir: Path | None = None,
    make_layer: Callable[[Engine], CommandLayer] = CommandLayer,
    sweep: bool = True,
) -> Stats:
    """The sweep, then `examples` hypothesis examples; deterministic for a given seed (derandomized
    when seed is None). Returns the counts; raises nothing for a violation."""
    with tempfile.TemporaryDirectory(prefix="tradecord-fuzz-") as tmp, asyncio.Runner() as runner:
        harness = runner.run(Harness.start((data_dir or Path(tmp)) / "data", make_layer))
        try:
            if sweep:
                runner.run(harness.sweep())

            if examples > 0:

                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=seed is None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                    print_blob=False,
                )
                @given(st.data())
                def fuzz(data: st.DataObject) -> None:
                    runner.run(harness.example(data))

                (fuzz if seed is None else hypothesis_seed(seed)(fuzz))()
        finally:
            runner.run(harness.close())
    return harness.stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bot.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="hypothesis examples (default 1000)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: derandomized)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the journal here")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the engine's log (the layer logs each internal error's traceback)",
    )
    opts = parser.parse_args(argv)
    # Each internal error is logged with its traceback by the layer; the report below already
    # names each kind once, with its cause.
    logging.basicConfig(level=logging.WARNING if opts.verbose else logging.CRITICAL)
    started = time.monotonic()
    stats = run_fuzz(opts.examples, opts.seed, opts.data_dir)
    print(stats.report())
    print(f"\n{time.monotonic() - started:.1f}s; {'OK' if stats.ok else 'VIOLATIONS FOUND'}")
    return 0 if stats.ok else 1


if __name__ == "__main__":
    sys.exit(main())
