"""Auto mode: a broker's realtime condition search drives subscriptions.

Each watched condition (several at once, up to the broker's limit) has its own strategy,
quantity and parameters. Symbols that enter are subscribed with them; a symbol that leaves is
cancelled once flat, after a short grace so a symbol flapping in and out costs no churn.
Entries beyond the free registrations wait in a FIFO and are subscribed as slots free; people's
own subscriptions never wait behind them.

Condition changes go into an unbounded queue from the socket's read loop, so nothing is lost
while the consumer is busy subscribing; one consumer handles them in order, with the timers
(grace expired, a slot freed) on the same queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.brokers.base import Broker, BrokerError, ConditionChange, ConditionInfo
from engine.clock import Clock
from engine.events import AlertEvent, AlertKind, AlertLevel, AutoModeChanged, EventBus
from engine.journal import Journal
from engine.ordertypes import Side
from engine.portfolio import Portfolio
from engine.strategies.base import ParamError
from engine.strategies.registry import UnknownStrategy, strategy_class
from engine.subscriptions import SubscriptionError, Subscriptions
from engine.text import printable

log = logging.getLogger(__name__)

SKIP_ALERT_INTERVAL_NS = 60_000_000_000
LEAVE_GRACE_S = 10.0  # a flat symbol that left is cancelled this long after, unless it is back
STATE_KEY = "auto"


class AutoModeError(ValueError):
    pass


def is_auto(source: str) -> bool:
    return source == "auto" or source.startswith("auto:")


@dataclass(frozen=True, slots=True)
class Watch:
    """One condition being followed, and how the symbols it names are traded."""

    condition: ConditionInfo
    strategy: str
    qty: int | None = None
    params: dict[str, float] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"auto:{self.condition.id}"


@dataclass(frozen=True, slots=True)
class _LeaveDue:
    symbol: str
    token: int


@dataclass(frozen=True, slots=True)
class _SlotFreed:
    symbol: str


_Item = ConditionChange | _LeaveDue | _SlotFreed


class AutoMode:
    def __init__(
        self,
        broker: Broker,
        subscriptions: Subscriptions,
        portfolio: Portfolio,
        journal: Journal,
        bus: EventBus,
        strategy: str,
        params: Mapping[str, float] | None = None,
        clock: Clock | None = None,
        leave_grace: float = LEAVE_GRACE_S,
        instrument: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.broker = broker
        self.subscriptions = subscriptions
        self.portfolio = portfolio
        self.journal = journal
        self.bus = bus
        self.clock = clock or Clock()
        self.strategy = strategy  # the defaults for a watch that names none
        self.params = dict(params or {})
        self.leave_grace = leave_grace
        # Today's figures for a symbol before it is subscribed (KIS has no full listing).
        self._instrument = instrument
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.watches: dict[str, Watch] = {}  # condition id -> how its symbols are traded
        self.known: list[ConditionInfo] = []  # as last listed by the broker (autocomplete)
        self.paused = False  # market closed: watches kept, not followed at the broker
        # symbol -> condition ids naming it now (a symbol may match several)
        self.claims: dict[str, set[str]] = {}
        self.waiting: OrderedDict[str, str] = OrderedDict()  # symbol -> condition id, FIFO
        self._waiting_told = False
        self._leaving: dict[str, tuple[int, asyncio.TimerHandle]] = {}
        self._tokens = 0
        self.received = 0
        self.processed = 0
        self.skipped = 0
        self._last_skip_alert = 0
        subscriptions.on_removed.append(lambda symbol: self.queue.put_nowait(_SlotFreed(symbol)))

    # ---- what the commands see -----------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return bool(self.watches) and not self.paused

    @property
    def condition(self) -> str | None:
        """The watched conditions' names, for one-line status displays."""
        return ", ".join(w.condition.name for w in self.watches.values()) or None

    def refusal(self) -> str | None:
        return self.broker.capabilities.condition_refusal(self.broker.name, self.broker.paper)

    async def available(self) -> list[ConditionInfo]:
        refusal = self.refusal()
        if refusal is not None:
            raise AutoModeError(refusal)
        try:
            self.known = await self.broker.conditions()
        except BrokerError as exc:
            raise AutoModeError(
                f"the broker did not answer ({exc.message}); try again once it is back"
            ) from None
        return self.known

    async def resolve(self, wanted: str) -> ConditionInfo:
        """A saved condition by its id or its name (exact, then ignoring case)."""
        available = await self.available()
        return _pick(wanted, available, "saved conditions")

    # ---- on / off ------------------------------------------------------------------------

    async def enable(
        self,
        wanted: str,
        strategy: str | None = None,
        qty: int | None = None,
        params: Mapping[str, float] | None = None,
        persist: bool = True,
    ) -> Watch:
        """Follow a condition (a repeat with other settings updates them). The symbols already
        matching arrive as entries, whether now, after a restart or after a reconnect."""
        condition = await self.resolve(wanted)
        watch = self._watch_of(condition, strategy, qty, params)
        limit = self.broker.capabilities.max_conditions
        if condition.id not in self.watches and limit is not None and len(self.watches) >= limit:
            names = ", ".join(w.condition.name for w in self.watches.values())
            raise AutoModeError(
                f"the {self.broker.name} broker follows at most {limit} "
                f"conditions at once, and these run: {names}. Stop one first "
                "with /auto off CONDITION"
            )
        known = condition.id in self.watches
        self.watches[condition.id] = watch
        if not known:
            try:
                await self.broker.watch_condition(condition)
            except BrokerError as exc:
                del self.watches[condition.id]
                raise AutoModeError(f"the broker refused condition {condition.name}: {exc.message}") from None
        if self.paused:  # turned on while the market was closed: all of them, from now
            self.paused = False
            for problem in await self._watch_all():
                self._alert("Auto mode: a condition was not resumed", problem)
        if persist:
            await self._save()
        self.bus.publish(AutoModeChanged(True, condition.name))
        return watch

    def _watch_of(
        self,
        condition: ConditionInfo,
        strategy: str | None,
        qty: int | None,
        params: Mapping[str, float] | None,
    ) -> Watch:
        name = strategy or self.strategy
        # With no parameters of its own the default strategy keeps STRATEGY_PARAMS; another
        # strategy starts from its own defaults.
        chosen = dict(params) if params is not None else (dict(self.params) if name == self.strategy else {})
        if qty is not None and qty <= 0:
            raise AutoModeError(f"quantity must be at least 1, got {qty}")
        try:
            strategy_class(name).resolve_params(chosen)
        except (UnknownStrategy, ParamError) as exc:
            raise AutoModeError(str(exc)) from None
        return Watch(condition, name, qty, chosen)

    async def disable(self, wanted: str | None = None) -> list[Watch]:
        """Stop following one condition (by id or name) or, with none named, all of them.
        Symbols they added stay until cancelled or they leave flat. Works with the broker
        down: from here on the condition's changes are ignored, whether or not the broker
        heard."""
        if wanted is None:
            stopped = list(self.watches.values())
        else:
            watched = [w.condition for w in self.watches.values()]
            stopped = [self.watches[_pick(wanted, watched, "conditions being followed").id]]
        for watch in stopped:
            del self.watches[watch.condition.id]
            await self._unwatch(watch.condition.id)
            self.bus.publish(AutoModeChanged(False, watch.condition.name))
        gone = {w.condition.id for w in stopped}
        for symbol, condition_id in list(self.waiting.items()):
            if condition_id in gone:
                del self.waiting[symbol]
        if not self.watches:
            self.paused = False
        await self._save()
        if wanted is None and not stopped:
            self.bus.publish(AutoModeChanged(False, None))
        return stopped

    async def pause(self) -> None:
        """Market closed: stop following at the broker, keep the watches for the next open."""
        if self.paused or not self.watches:
            return
        self.paused = True
        for condition_id in self.watches:
            await self._unwatch(condition_id)
        self.waiting.clear()
        await self._save()
        self.bus.publish(AutoModeChanged(False, self.condition))

    async def resume(self) -> bool:
        """At the open: follow the kept watches again; False when there are none."""
        if not self.watches:
            return False
        if self.paused:
            self.paused = False
            problems = await self._watch_all()
            await self._save()
            for problem in problems:
                self._alert("Auto mode: a condition was not resumed", problem)
            self.bus.publish(AutoModeChanged(True, self.condition))
        return True

    async def _unwatch(self, condition_id: str) -> None:
        try:
            await self.broker.unwatch_condition(condition_id)
        except BrokerError as exc:
            log.warning(
                "condition %s: unwatch failed (%s); its changes are ignored", condition_id, exc.message
            )

    async def _watch_all(self) -> list[str]:
        problems = []
        for watch in list(self.watches.values()):
            try:
                await self.broker.watch_condition(watch.condition)
            except BrokerError as exc:
                problems.append(f"{watch.condition.name}: {exc.message}")
        return problems

    # ---- the journal ---------------------------------------------------------------------

    async def _save(self) -> None:
        await self.journal.set_state(
            STATE_KEY,
            {
                "paused": self.paused,
                "watches": [
                    {
                        "id": w.condition.id,
                        "name": w.condition.name,
                        "strategy": w.strategy,
                        "qty": w.qty,
                        "params": w.params,
                    }
                    for w in self.watches.values()
                ],
            },
        )

    async def restore(self) -> list[str]:
        """Watches as journaled, followed again unless the market had closed; problems for
        the start-up report."""
        saved: Any = await self.journal.get_state(STATE_KEY, {})
        if not isinstance(saved, dict):
            return []
        problems = []
        if saved.get("enabled") and saved.get("condition"):
            # The one-condition layout of earlier versions kept only a name: look its id up.
            try:
                found = await self.resolve(str(saved["condition"]))
                saved = {"watches": [{"id": found.id, "name": found.name}]}
            except AutoModeError as exc:
                return [f"auto mode ({saved['condition']}) not restored: {exc}"]
        for row in saved.get("watches") or []:
            condition = ConditionInfo(str(row.get("id", "")), str(row.get("name", "")))
            try:
                self.watches[condition.id] = self._watch_of(
                    condition, row.get("strategy"), row.get("qty"), row.get("params")
                )
            except AutoModeError as exc:
                problems.append(f"auto mode ({condition.name}) not restored: {exc}")
        self.paused = bool(saved.get("paused")) and bool(self.watches)
        if self.watches and not self.paused:
            refusal = self.refusal()
            if refusal is not None:
                problems.append(f"auto mode not restored: {refusal}")
                self.watches.clear()
            else:
                problems += [f"auto mode ({p}) not resumed" for p in await self._watch_all()]
        return problems

    # ---- condition changes ---------------------------------------------------------------

    def on_condition(self, change: ConditionChange) -> None:
        if change.condition_id in self.watches and not self.paused:
            self.received += 1
            self.queue.put_nowait(change)

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, ConditionChange):
                    await self._handle(item)
                    self.processed += 1
                elif isinstance(item, _LeaveDue):
                    await self._leave_due(item)
                else:
                    await self._fill_slots()
            except (SubscriptionError, BrokerError) as exc:
                if isinstance(item, ConditionChange):
                    self._skip(item, str(exc))
            if self.queue.empty():
                self._tell_waiting()

    async def _handle(self, change: ConditionChange) -> None:
        watch = self.watches.get(change.condition_id)
        if watch is None:
            return  # stopped since it was queued
        symbol = change.symbol
        claims = self.claims.setdefault(symbol, set())
        if change.event == "enter":
            claims.add(change.condition_id)
            self._keep(symbol)
            if symbol not in self.subscriptions and symbol not in self.waiting:
                if self._free_slots() > 0:
                    await self._subscribe(symbol, watch)
                else:
                    self.waiting[symbol] = change.condition_id
            return
        claims.discard(change.condition_id)
        if self.waiting.get(symbol) == change.condition_id:
            del self.waiting[symbol]
        if not claims:
            self.claims.pop(symbol, None)
            self._schedule_leave(symbol)

    async def _subscribe(self, symbol: str, watch: Watch) -> None:
        if self._instrument is not None:
            await self._instrument(symbol)
        await self.subscriptions.subscribe(
            symbol, watch.strategy, qty=watch.qty, params=watch.params, source=watch.source
        )

    def _free_slots(self) -> int:
        cap = self.broker.max_subscriptions
        return 1_000_000 if cap is None else cap - len(self.subscriptions)

    def _keep(self, symbol: str) -> None:
        pending = self._leaving.pop(symbol, None)
        if pending is not None:
            pending[1].cancel()

    def _schedule_leave(self, symbol: str) -> None:
        self._keep(symbol)
        self._tokens += 1
        due = _LeaveDue(symbol, self._tokens)
        handle = asyncio.get_running_loop().call_later(self.leave_grace, self.queue.put_nowait, due)
        self._leaving[symbol] = (due.token, handle)

    async def _leave_due(self, due: _LeaveDue) -> None:
        pending = self._leaving.get(due.symbol)
        if pending is None or pending[0] != due.token:
            return  # it came back (or left again later): that later event decides
        del self._leaving[due.symbol]
        symbol = due.symbol
        record = self.subscriptions.records.get(symbol)
        if record is None or not is_auto(record.source) or self.claims.get(symbol):
            return  # a person subscribed it, or another condition still names it
        if self.portfolio.qty(symbol) or self.portfolio.open_order_qty(symbol, Side.BUY):
            return  # holding or buying: its exits still need the ticks
        await self.subscriptions.cancel(symbol, reason="left its condition")

    async def _fill_slots(self) -> None:
        while self.waiting and self._free_slots() > 0:
            symbol, condition_id = self.waiting.popitem(last=False)
            watch = self.watches.get(condition_id)
            if watch is None or symbol in self.subscriptions:
                continue
            try:
                await self._subscribe(symbol, watch)
            except SubscriptionError as exc:
                log.info("auto mode: waiting %s not subscribed: %s", symbol, exc)
        if not self.waiting:
            self._waiting_told = False

    def _tell_waiting(self) -> None:
        # One alert when entries start to wait, not one per entry.
        if self.waiting and not self._waiting_told:
            self._waiting_told = True
            self._alert(
                "Auto mode: symbols waiting for a slot",
                f"{len(self.waiting)} symbols entered while all "
                f"{self.broker.max_subscriptions} realtime registrations are in use; "
                "they are subscribed in order as slots free (your own /subscribe "
                "comes first)",
            )

    async def stop(self) -> None:
        for _, handle in self._leaving.values():
            handle.cancel()
        self._leaving.clear()

    def _alert(self, title: str, text: str) -> None:
        self.bus.publish(AlertEvent(AlertLevel.WARNING, AlertKind.INFO, title, text))

    def _skip(self, change: ConditionChange, why: str) -> None:
        self.skipped += 1
        log.info("auto mode skipped %s %s: %s", change.event, change.symbol, why)
        now = time.monotonic_ns()
        if now - self._last_skip_alert > SKIP_ALERT_INTERVAL_NS:
            # At most one alert a minute: a busy condition would otherwise flood.
            self._last_skip_alert = now
            self._alert("Auto mode skipped a symbol", f"{change.symbol} {change.event}: {why}")


def _pick(wanted: str, available: list[ConditionInfo], what: str) -> ConditionInfo:
    text = printable(wanted.strip())
    keys: tuple[Callable[[ConditionInfo], str], ...] = (
        lambda c: c.id,
        lambda c: c.name,
        lambda c: c.name.casefold(),
    )
    for key, value in zip(keys, (text, text, text.casefold()), strict=True):
        found = [c for c in available if key(c) == value]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AutoModeError(
                f"'{text}' names {len(found)} conditions: use the id, one of "
                + ", ".join(c.id for c in found)
            )
    listed = ", ".join(f"{c.name} (id {c.id})" for c in available) or "none"
    raise AutoModeError(f"unknown condition '{text}'; {what}: {listed}")
