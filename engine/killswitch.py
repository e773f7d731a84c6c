"""The kill switch: a halt that always wins, even while the broker is away.

A halt is journaled before anything else, so a crash right after cannot forget it. It then
cancels every open order. Cancels that cannot be done yet (the broker unreachable, an order still
being sent, an order whose state is unknown) are not forgotten: the switch keeps trying with
backoff until the broker confirms each one, and sweeps again after every reconnect. The reply
says exactly how many were cancelled and how many are still being worked on, and why.

One exception, on purpose: a person's sell placed after the halt flattens a position and is left
alone (risk allows it for that reason).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from engine.backoff import DELAYS, Backoff
from engine.clock import Clock
from engine.events import AlertEvent, AlertKind, AlertLevel, EventBus, HaltChanged
from engine.journal import Journal, OrderRecord
from engine.orders import OrderError, OrderManager
from engine.ordertypes import OrderStatus
from engine.risk import TradingControls
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HaltOutcome:
    cancelled: int  # confirmed by the broker in this sweep
    pending: int  # open orders the halt still has to cancel
    problem: str  # why the pending ones are not cancelled yet ("" when none are)

    def describe(self) -> str:
        text = f"{self.cancelled} open order{'s' if self.cancelled != 1 else ''} cancelled"
        if self.pending:
            text += (
                f"; {self.pending} open order{'s' if self.pending != 1 else ''} could not be "
                f"cancelled yet: {self.problem}; retrying until the broker confirms"
            )
        return text


class KillSwitch:
    def __init__(
        self,
        orders: OrderManager,
        controls: TradingControls,
        journal: Journal,
        bus: EventBus,
        clock: Clock,
        tasks: TaskGroup,
    ) -> None:
        self.orders = orders
        self.controls = controls
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self._tasks = tasks
        self._enforcer: asyncio.Task[None] | None = None
        self.retry_backoff: Sequence[float] = DELAYS

    def targets(self) -> list[OrderRecord]:
        """Open orders a halt must take back."""
        return [
            o for o in self.orders.live_orders() if self.controls.halt_cancels(o.origin, o.side, o.created_ns)
        ]

    async def engage(self, actor: str, reason: str) -> HaltOutcome:
        now = self.clock.time_ns()
        if not self.controls.halted:
            self.controls.halted_ns = now
        self.controls.halted, self.controls.halt_reason = True, reason
        await self.journal.set_state(
            "halt", {"halted": True, "reason": reason, "since_ns": self.controls.halted_ns}
        )
        outcome = await self.sweep("halt")
        self.bus.publish(HaltChanged(True, actor, reason))
        self.bus.publish(
            AlertEvent(
                AlertLevel.ERROR,
                AlertKind.HALT,
                "Trading halted",
                f"by {actor}: {reason}. {outcome.describe()}; no orders until /resume",
            )
        )
        if outcome.pending:
            self.enforce()
        return outcome

    async def release(self, actor: str) -> None:
        self.controls.halted, self.controls.halt_reason = False, ""
        self.controls.halted_ns = 0
        await self.journal.set_state("halt", {"halted": False, "reason": ""})
        self.bus.publish(HaltChanged(False, actor, "resumed"))

    async def sweep(self, reason: str) -> HaltOutcome:
        """One pass over the orders to take back: cancel what can be cancelled now."""
        cancelled = 0
        problems: list[str] = []
        for rec in self.targets():
            if rec.broker_order_id is None:
                problems.append(
                    "still being sent"
                    if rec.status == OrderStatus.PENDING
                    else "its state at the broker is unknown"
                )
                continue
            try:
                await self.orders.cancel(rec.client_order_id, reason)
            except OrderError as exc:
                problems.append(exc.reason)
                continue
            if rec.live:  # the broker took the request; its confirmation is on its way
                problems.append("cancel requested, awaiting the broker's confirmation")
            else:
                cancelled += 1
        pending = len(self.targets())
        if not pending:
            return HaltOutcome(cancelled, 0, "")
        # An order placed while this pass ran has no problem of its own yet.
        problem = "; ".join(dict.fromkeys(problems)) or "placed while the halt was declared"
        return HaltOutcome(cancelled, pending, problem)

    def enforce(self) -> None:
        """Keep cancelling until nothing the halt covers is open (or the halt is lifted)."""
        if self._enforcer is None or self._enforcer.done():
            self._enforcer = self._tasks.spawn(self._enforce(), "halt-enforcer")

    async def _enforce(self) -> None:
        backoff = Backoff(self.retry_backoff)
        while self.controls.halted and self.targets():
            await backoff.wait()
            if not self.controls.halted:
                return
            outcome = await self.sweep("halt")
            log.info("halt enforcement: %s", outcome.describe())
            if outcome.pending == 0 and self.controls.halted:
                self.bus.publish(
                    AlertEvent(
                        AlertLevel.WARNING,
                        AlertKind.HALT,
                        "Halt: orders cancelled",
                        f"{outcome.cancelled} more open order(s) cancelled; nothing the halt covers "
                        "is open at the broker",
                    )
                )
