"""Auto mode: a broker's realtime condition search drives subscriptions.

Condition changes go into an unbounded asyncio.Queue from the socket's read loop, so nothing is
lost while the consumer is busy subscribing; the consumer handles them one by one, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time

from engine.brokers.base import Broker, BrokerError, ConditionChange
from engine.events import AlertEvent, AlertKind, AlertLevel, AutoModeChanged, EventBus
from engine.journal import Journal
from engine.ordertypes import Side
from engine.portfolio import Portfolio
from engine.subscriptions import SubscriptionError, Subscriptions

log = logging.getLogger(__name__)

SKIP_ALERT_INTERVAL_NS = 60_000_000_000


class AutoModeError(ValueError):
    pass


class AutoMode:
    def __init__(self, broker: Broker, subscriptions: Subscriptions, portfolio: Portfolio,
                 journal: Journal, bus: EventBus, strategy: str,
                 params: dict[str, float] | None = None) -> None:
        self.broker = broker
        self.subscriptions = subscriptions
        self.portfolio = portfolio
        self.journal = journal
        self.bus = bus
        self.strategy = strategy
        self.params = params or {}
        self.queue: asyncio.Queue[ConditionChange] = asyncio.Queue()
        self.enabled = False
        self.condition: str | None = None
        self.received = 0
        self.processed = 0
        self.skipped = 0
        self._last_skip_alert = 0

    def on_condition(self, change: ConditionChange) -> None:
        if self.enabled and change.name == self.condition:
            self.received += 1
            self.queue.put_nowait(change)

    async def enable(self, condition: str, persist: bool = True) -> None:
        try:
            available = await self.broker.conditions()
        except BrokerError as exc:
            raise AutoModeError(f"the broker did not answer ({exc.message}); auto mode is "
                                "unchanged: try again once it is back") from None
        if condition not in available:
            valid = ", ".join(f"{n} ({d})" for n, d in available.items()) or "none"
            raise AutoModeError(f"unknown condition '{condition}'; valid: {valid}")
        if self.enabled and self.condition == condition:
            return
        if self.enabled and self.condition:
            await self._stop_feed(self.condition)
        self.enabled, self.condition = True, condition
        try:
            await self.broker.subscribe_condition(condition)
        except BrokerError as exc:
            self.enabled, self.condition = False, None
            raise AutoModeError(f"the broker refused condition {condition}: {exc.message}") from None
        if persist:
            await self.journal.set_state("auto", {"enabled": True, "condition": condition})
        self.bus.publish(AutoModeChanged(True, condition))

    async def disable(self) -> None:
        """Stops adding symbols; symbols it added stay until cancelled or they leave flat.

        Off always works, even with the broker down: from here on its condition feed is
        ignored, whether or not the broker heard the unsubscribe."""
        if self.enabled and self.condition:
            await self._stop_feed(self.condition)
        self.enabled, self.condition = False, None
        await self.journal.set_state("auto", {"enabled": False, "condition": None})
        self.bus.publish(AutoModeChanged(False, None))

    async def _stop_feed(self, condition: str) -> None:
        try:
            await self.broker.unsubscribe_condition(condition)
        except BrokerError as exc:
            log.warning("condition %s: unsubscribe failed (%s); its changes are ignored",
                        condition, exc.message)

    async def run(self) -> None:
        while True:
            change = await self.queue.get()
            try:
                await self._handle(change)
            except (SubscriptionError, BrokerError) as exc:
                self._skip(change, str(exc))
            self.processed += 1

    async def _handle(self, change: ConditionChange) -> None:
        symbol = change.symbol
        if change.event == "enter":
            if symbol not in self.subscriptions:
                await self.subscriptions.subscribe(symbol, self.strategy, params=self.params,
                                                  source="auto")
            return
        record = self.subscriptions.records.get(symbol)
        if record is None or record.source != "auto":
            return  # a person subscribed it: auto mode leaves it alone
        if self.portfolio.qty(symbol) or self.portfolio.open_order_qty(symbol, Side.BUY):
            return  # holding or buying: its exits still need the ticks
        await self.subscriptions.cancel(symbol, reason=f"left condition {change.name}")

    def _skip(self, change: ConditionChange, why: str) -> None:
        self.skipped += 1
        log.info("auto mode skipped %s %s: %s", change.event, change.symbol, why)
        now = time.monotonic_ns()
        if now - self._last_skip_alert > SKIP_ALERT_INTERVAL_NS:
            # At most one alert a minute: a busy condition at the cap would otherwise flood.
            self._last_skip_alert = now
            self.bus.publish(AlertEvent(AlertLevel.WARNING, AlertKind.INFO,
                                        "Auto mode skipped a symbol",
                                        f"{change.symbol} {change.event}: {why}"))
