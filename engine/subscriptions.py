"""Subscriptions are the task dictionary: symbol → the asyncio.Task running its pipeline.

The task owns its cleanup: however it ends (cancelled by a user, by auto mode, crashed), its
`finally` detaches the mailbox, unregisters the feed, removes the entry and persists the change;
on shutdown it only detaches, so the subscription comes back on restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.brokers.base import Broker, BrokerError
from engine.charts.bars import BarSeries
from engine.clock import Clock
from engine.events import (
    AlertEvent,
    AlertKind,
    AlertLevel,
    EventBus,
    SignalEvent,
    SubscriptionChanged,
)
from engine.feed import MarketFeed
from engine.instruments import Instrument
from engine.journal import Journal, SubscriptionRecord
from engine.mailbox import Mailbox
from engine.marketdata import Tick
from engine.orders import OrderIntent, OrderManager
from engine.ordertypes import Side
from engine.portfolio import Portfolio
from engine.risk import TradingControls
from engine.strategies.base import ParamError, Signal, Strategy
from engine.strategies.registry import UnknownStrategy, strategy_class
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)

SHUTDOWN = "shutdown"
REJECT_COOLDOWN_NS = 5_000_000_000


class SubscriptionError(ValueError):
    """A subscribe or cancel that cannot be done; the message says why and what is valid."""


class EngineBook:
    """The account as strategies may read it."""

    def __init__(self, portfolio: Portfolio, controls: TradingControls) -> None:
        self._portfolio = portfolio
        self._controls = controls

    def qty(self, symbol: str) -> int:
        # Portfolio.qty inlined: strategies ask on every tick.
        pos = self._portfolio.positions.get(symbol)
        return pos.qty if pos else 0

    def avg_price(self, symbol: str) -> float:
        pos = self._portfolio.positions.get(symbol)
        return pos.avg_price if pos else 0.0

    def open_order_qty(self, symbol: str, side: Side) -> int:
        return self._portfolio.open_order_qty(symbol, side)

    def may_enter(self) -> bool:
        c = self._controls
        return c.session_open and c.entries_open and not c.halted and not c.loss_blocked

    def may_exit(self) -> bool:
        return self._controls.session_open and not self._controls.halted


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    record: SubscriptionRecord
    created: bool


class Subscriptions:
    def __init__(
        self,
        broker: Broker,
        feed: MarketFeed,
        journal: Journal,
        orders: OrderManager,
        portfolio: Portfolio,
        instruments: Mapping[str, Instrument],
        bus: EventBus,
        controls: TradingControls,
        order_budget: int,
        bars: dict[str, BarSeries] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.broker = broker
        self.feed = feed
        self.journal = journal
        self.orders = orders
        self.instruments = instruments
        self.bus = bus
        self.controls = controls
        self.order_budget = order_budget
        self.book = EngineBook(portfolio, controls)
        self.bars = bars if bars is not None else {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.records: dict[str, SubscriptionRecord] = {}
        self._closed = False  # shut down: no new pipeline may start (auto mode may still try)
        self.strategies: dict[str, Strategy] = {}
        self._removal: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._cooldown: dict[str, int] = {}
        self.signals = 0
        self.crashes = 0
        # Told each symbol whose registration was given up (not at shutdown): a slot is free.
        self.on_removed: list[Callable[[str], None]] = []
        self._history = TaskGroup("bars")

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.tasks

    def __len__(self) -> int:
        return len(self.tasks)

    # ---- subscribe / cancel --------------------------------------------------------------

    def _build_strategy(
        self, symbol: str, strategy: str, params: Mapping[str, float], qty: int | None
    ) -> Strategy:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise SubscriptionError(f"{symbol} is not traded by the {self.broker.name} broker")
        if qty is not None and qty <= 0:
            raise SubscriptionError(f"quantity must be at least 1, got {qty}")
        try:
            cls = strategy_class(strategy)
            return cls(inst, params, qty, self.order_budget)
        except (UnknownStrategy, ParamError) as exc:
            raise SubscriptionError(str(exc)) from None

    async def subscribe(
        self,
        symbol: str,
        strategy: str,
        qty: int | None = None,
        params: Mapping[str, float] | None = None,
        source: str = "manual",
    ) -> SubscribeResult:
        """Idempotent: subscribing a subscribed symbol changes nothing and says so."""
        async with self._lock:
            if self._closed:
                raise SubscriptionError(f"not subscribing {symbol}: the engine is stopping")
            existing = self.records.get(symbol)
            if existing is not None:
                return SubscribeResult(existing, created=False)
            instance = self._build_strategy(symbol, strategy, params or {}, qty)
            cap = self.broker.max_subscriptions
            if cap is not None and len(self.tasks) >= cap:
                raise SubscriptionError(
                    f"subscription limit reached: {len(self.tasks)} of {cap} symbols (the "
                    f"{self.broker.name} broker's realtime registration cap). Cancel one first "
                    "with /cancel SYMBOL"
                )
            try:
                await self.broker.subscribe(symbol)
            except BrokerError as exc:
                raise SubscriptionError(f"the broker refused {symbol}: {exc.message}") from None
            record = SubscriptionRecord(
                symbol, instance.name, dict(instance.params), qty, source, self.clock.time_ns()
            )
            self.journal.subscription_changed(record, record.symbol)
            self._start(record, instance)
        self.bus.publish(SubscriptionChanged(symbol, "added", instance.name, source, "subscribed"))
        return SubscribeResult(record, created=True)

    def _start(self, record: SubscriptionRecord, instance: Strategy) -> None:
        if self.broker.capabilities.intraday_bars and record.symbol not in self.bars:
            # Beside the pipeline, not before it: on a slow broker (KIS pages 30 bars a call)
            # the strategy must not wait for the chart's history.
            self.bars[record.symbol] = BarSeries()
            self._history.spawn(self._load_history(record.symbol), record.symbol)
        box = self.feed.attach(record.symbol)
        task = asyncio.get_running_loop().create_task(
            self._pipeline(record.symbol, box, instance), name=f"symbol:{record.symbol}"
        )
        self.tasks[record.symbol] = task
        self.records[record.symbol] = record
        self.strategies[record.symbol] = instance
        task.add_done_callback(self._task_done)

    async def restore(self, records: list[SubscriptionRecord]) -> list[str]:
        """Bring persisted subscriptions back; returns problems for those that could not be."""
        problems = []
        for rec in records:
            try:
                params: dict[str, Any] = rec.params
                instance = self._build_strategy(rec.symbol, rec.strategy, params, rec.qty)
                await self.broker.subscribe(rec.symbol)
            except (SubscriptionError, BrokerError) as exc:
                problems.append(f"{rec.symbol} not restored: {exc}")
                self.journal.subscription_changed(None, rec.symbol)
                continue
            self._start(rec, instance)
        return problems

    async def cancel(self, symbol: str, reason: str = "cancelled") -> SubscriptionRecord:
        task = self.tasks.get(symbol)
        record = self.records.get(symbol)
        if task is None or record is None:
            subscribed = ", ".join(sorted(self.tasks)) or "none"
            raise SubscriptionError(f"{symbol} is not subscribed; subscribed: {subscribed}")
        self._removal[symbol] = reason
        task.cancel()
        await asyncio.wait([task])  # returns once the task's cleanup has run
        await self._cleanup_unstarted(symbol, task)
        return record

    async def _cleanup_unstarted(self, symbol: str, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs its body, so its `finally` never
        # ran either (an enter and a leave back to back do this): clean up for it.
        if self.tasks.get(symbol) is task:
            await self._cleanup(symbol)

    async def _load_history(self, symbol: str) -> None:
        """Today's bars from the open, so /chart right after /subscribe shows the whole day."""
        try:
            history = await self.broker.minute_bars(symbol)
        except (BrokerError, OSError) as exc:
            log.info("no intraday history for %s: %s", symbol, exc)
            return
        series = self.bars.get(symbol)
        if series is not None:
            series.add_history(history)

    async def shutdown(self) -> None:
        self._closed = True
        await self._history.close()
        tasks = list(self.tasks.items())
        for symbol, task in tasks:
            self._removal[symbol] = SHUTDOWN
            task.cancel()
        if tasks:
            await asyncio.wait([t for _, t in tasks])
        for symbol, task in tasks:
            await self._cleanup_unstarted(symbol, task)

    # ---- the per-symbol pipeline ---------------------------------------------------------

    async def _pipeline(self, symbol: str, box: Mailbox[Tick], strategy: Strategy) -> None:
        # Per-tick hot path: methods bound once, not looked up per tick (engine.bench.feed).
        take = box.take
        wait = box.wait
        on_tick = strategy.on_tick
        book = self.book
        try:
            while True:
                ticks = take()
                if not ticks:
                    await wait()
                    continue
                if symbol not in self.bars:
                    # Created on the first trade: an idle subscription carries no bar buffer.
                    self.bars[symbol] = BarSeries()  # kept after a cancel, for /chart
                add_bar = self.bars[symbol].add
                for tick in ticks:
                    add_bar(tick.ts_ns, tick.price, tick.qty)
                    signal = on_tick(tick, book)
                    if signal is not None:
                        await self._on_signal(symbol, strategy, signal)
        finally:
            await self._cleanup(symbol)

    async def _on_signal(self, symbol: str, strategy: Strategy, signal: Signal) -> None:
        if self.controls.halted or not self.controls.session_open:
            return  # no strategy orders now; strategies still follow the tape
        key = f"{self.clock.today().isoformat()}:{symbol}:{strategy.name}:{signal.key}"
        now = time.monotonic_ns()
        if self._cooldown.get(key, 0) > now:
            return
        intent = OrderIntent(
            symbol, signal.side, signal.qty, signal.price, strategy.name, signal.reason, key, is_auto=True
        )
        if self.orders.has_active(key):
            return  # repeated signal: its order is already out
        self.signals += 1
        self.bus.publish(
            SignalEvent(symbol, signal.side, signal.qty, signal.price, strategy.name, signal.reason)
        )
        result = await self.orders.submit(intent)
        if result.rejection is not None:
            self._cooldown[key] = now + REJECT_COOLDOWN_NS

    async def signal_all(self, event: str) -> int:
        """Ask every strategy for its session-event signal (e.g. exit before the close)."""
        sent = 0
        for symbol, strategy in list(self.strategies.items()):
            if event == "before_close":
                signal = strategy.on_before_close(self.book)
                if signal is not None:
                    await self._on_signal(symbol, strategy, signal)
                    sent += 1
        return sent

    async def _cleanup(self, symbol: str) -> None:
        self.feed.detach(symbol)
        reason = self._removal.pop(symbol, "crashed")
        record = self.records.pop(symbol, None)
        self.strategies.pop(symbol, None)
        self.tasks.pop(symbol, None)
        if reason == SHUTDOWN or record is None:
            return
        try:
            await self.broker.unsubscribe(symbol)
        except (BrokerError, OSError) as exc:
            log.warning("unsubscribe %s failed: %s", symbol, exc)
        self.journal.subscription_changed(None, symbol)
        self.bus.publish(SubscriptionChanged(symbol, "removed", record.strategy, record.source, reason))
        for listener in self.on_removed:
            listener(symbol)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self.crashes += 1
        symbol = task.get_name().removeprefix("symbol:")
        log.error("pipeline for %s crashed", symbol, exc_info=exc)
        self.bus.publish(
            AlertEvent(
                AlertLevel.ERROR,
                AlertKind.TASK_CRASH,
                f"{symbol} stopped",
                f"the {symbol} strategy crashed ({type(exc).__name__}: {exc}); its subscription was "
                "removed. Subscribe again once the cause is fixed.",
            )
        )
