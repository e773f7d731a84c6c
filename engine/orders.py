"""The order manager: intent → risk → journal → send → acks and fills → portfolio → events.

Money-safety rules it keeps:
- every intent is journaled (status "pending") before the broker hears of it;
- every order carries a client order id, and retries reuse it, so a retry never makes a
  second order; an intent key maps to at most one live order, so a repeated signal is a no-op;
- risk checks and the cash/share reservation happen under one lock, so two signals can never
  spend the same cash;
- fills are applied once (by fill id), journaled before they move the portfolio.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from engine.brokers.base import (
    Broker,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    OrderRequest,
    OrderUpdate,
)
from engine.clock import Clock, seoul_datetime
from engine.events import (
    AlertEvent,
    AlertKind,
    AlertLevel,
    EventBus,
    FillEvent,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
)
from engine.instruments import Instrument
from engine.journal import FillRecord, Journal, OrderRecord
from engine.ordertypes import TRANSITIONS, OrderStatus, Side, allowed, cumulative_fill_id
from engine.portfolio import Portfolio
from engine.risk import (
    OrderCheck,
    RiskLimits,
    RiskRejection,
    TradingControls,
    broker_problem,
    check_order,
)

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 5
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
DEAD_STATUSES = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.NOT_SENT)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    symbol: str
    side: Side
    qty: int
    price: int | None
    origin: str  # strategy name, or "manual:<who>"
    reason: str
    key: str  # unique per intent; repeated keys are deduplicated
    is_auto: bool

    def __post_init__(self) -> None:
        # A side given as text ("buy") becomes the enum; anything else is refused here, before
        # it can reach a broker.
        object.__setattr__(self, "side", Side(self.side))


@dataclass(frozen=True, slots=True)
class SubmitResult:
    order: OrderRecord | None
    duplicate: bool = False
    rejection: RiskRejection | None = None

    @property
    def ok(self) -> bool:
        return (
            self.rejection is None
            and self.order is not None
            and self.order.status not in (OrderStatus.REJECTED, OrderStatus.NOT_SENT)
        )


class OrderError(ValueError):
    """A cancel or lookup that cannot be done; the message says why and what is valid.
    `reason` is the cause alone, for a summary of several (a halt's reply)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def new_client_order_id() -> str:
    return "TC" + uuid.uuid4().hex[:14].upper()


class OrderManager:
    def __init__(
        self,
        broker: Broker,
        journal: Journal,
        portfolio: Portfolio,
        instruments: Mapping[str, Instrument],
        limits: RiskLimits,
        controls: TradingControls,
        bus: EventBus,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or Clock()
        self.broker = broker
        self.journal = journal
        self.portfolio = portfolio
        self.instruments = instruments
        self.limits = limits
        self.controls = controls
        self.bus = bus
        self.orders: dict[str, OrderRecord] = {}
        self._by_intent: dict[str, list[str]] = {}
        self._by_broker_id: dict[str, str] = {}
        self._fill_ids: set[str] = set()
        self._unmatched: dict[str, list[OrderUpdate]] = {}
        self._in_flight: set[str] = set()  # being journaled or sent by this process right now
        self._unanswered: set[str] = set()  # live orders without a broker number yet
        self._lock = asyncio.Lock()
        self.updates: asyncio.Queue[OrderUpdate] = asyncio.Queue()
        self._loss_alerted_day: object = None
        self.sent = 0
        self.rejects = 0

    # ---- indexes -------------------------------------------------------------------------

    def _index(self, rec: OrderRecord) -> None:
        self.orders[rec.client_order_id] = rec
        base = rec.intent_key.split("#", 1)[0]
        coids = self._by_intent.setdefault(base, [])
        if rec.client_order_id not in coids:
            coids.append(rec.client_order_id)
        if rec.broker_order_id:
            self._by_broker_id[rec.broker_order_id] = rec.client_order_id
        elif rec.live:
            self._unanswered.add(rec.client_order_id)

    def _tie(self, rec: OrderRecord, broker_order_id: str) -> None:
        """The broker's number for one of our orders, from whichever message brought it first."""
        if broker_order_id and not rec.broker_order_id:
            rec.broker_order_id = broker_order_id
            self._by_broker_id[broker_order_id] = rec.client_order_id
            self._unanswered.discard(rec.client_order_id)

    def _awaiting_numbers(self) -> bool:
        """A live order of ours has no broker number yet: a notice may belong to it."""
        self._unanswered = {c for c in self._unanswered if self.orders[c].live}
        return bool(self._unanswered)

    def load(self, records: list[OrderRecord], fill_ids: set[str]) -> None:
        for rec in records:
            self._index(rec)
        self._fill_ids |= fill_ids

    def live_orders(self) -> list[OrderRecord]:
        return [o for o in self.orders.values() if o.live]

    def find(self, ident: str) -> OrderRecord | None:
        rec = self.orders.get(ident) or self.orders.get(ident.upper())
        if rec is None and ident in self._by_broker_id:
            rec = self.orders[self._by_broker_id[ident]]
        return rec

    # ---- submission ----------------------------------------------------------------------

    def _reject(self, intent: OrderIntent, code: str, message: str) -> SubmitResult:
        self.rejects += 1
        if intent.is_auto:  # a person gets the reason in the command's reply instead
            self.bus.publish(
                OrderRejected(
                    None, intent.symbol, intent.side, intent.qty, intent.price, code, message, intent.origin
                )
            )
        return SubmitResult(None, rejection=RiskRejection(code, message))

    def _cash_check(self, intent: OrderIntent, inst: Instrument) -> RiskRejection | None:
        if intent.side != Side.BUY:
            return None
        # A market buy holds cash at the upper limit, as Korean brokers do.
        unit = intent.price if intent.price is not None else inst.upper_limit
        need = int(self.portfolio.costs.with_commission(intent.qty * unit))
        available = self.portfolio.available_cash()
        if need <= available:
            return None
        most = int(available / self.portfolio.costs.with_commission(unit))
        return RiskRejection(
            "insufficient_cash",
            f"buying {intent.qty:,} {intent.symbol} at {unit:,} needs {need:,} KRW with commission;"
            f" {available:,} KRW is available (cash minus open buy orders): at most {most:,} shares",
        )

    def precheck(self, intent: OrderIntent) -> RiskRejection | None:
        """What submit() would refuse, without reserving or sending anything (for previews)."""
        unavailable = broker_problem(self.controls)
        if unavailable is not None:
            return unavailable
        inst = self.instruments.get(intent.symbol)
        if inst is None:
            return RiskRejection("unknown_symbol", f"{intent.symbol} is not traded by this broker")
        self._refresh_loss_block()
        check = OrderCheck(intent.symbol, intent.side, intent.qty, intent.price, intent.is_auto)
        problem = check_order(self.limits, self.portfolio, inst, check, self.controls)
        return problem or self._cash_check(intent, inst)

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        async with self._lock:
            if self.has_active(intent.key):
                return SubmitResult(self._latest(intent.key), duplicate=True)
            problem = self.precheck(intent)
            if problem is not None:
                return self._reject(intent, problem.code, problem.message)
            inst = self.instruments[intent.symbol]
            attempt = len(self._by_intent.get(intent.key, ()))
            now = self.clock.time_ns()
            rec = OrderRecord(
                client_order_id=new_client_order_id(),
                intent_key=intent.key if attempt == 0 else f"{intent.key}#{attempt}",
                symbol=intent.symbol,
                side=intent.side,
                type="market" if intent.price is None else "limit",
                qty=intent.qty,
                price=intent.price,
                origin=intent.origin,
                reason=intent.reason,
                created_ns=now,
                updated_ns=now,
            )
            # Indexed and reserved under the lock: a repeat of this intent, or another signal
            # wanting the same cash, sees it from here on.
            self._index(rec)
            unit = intent.price if intent.price is not None else inst.upper_limit
            self.portfolio.reserve(rec.client_order_id, rec.symbol, rec.side, rec.qty, unit)
            self._in_flight.add(rec.client_order_id)
        try:
            # Durable before it is sent; outside the lock, so concurrent intents share one
            # group commit instead of queueing for a transaction each.
            try:
                await self.journal.insert_order(rec)
            except BaseException:
                # Never journaled, never sent: nothing to guard (the record is discarded).
                rec.status, rec.message = OrderStatus.NOT_SENT, "could not be journaled; not sent"
                self.portfolio.release(rec.client_order_id)
                raise
            await self._send(rec)
        finally:
            self._in_flight.discard(rec.client_order_id)
        return SubmitResult(rec)

    def has_active(self, key: str) -> bool:
        """An order for this intent is live or done: a repeat of it must not send again."""
        previous = self._latest(key)
        return previous is not None and previous.status not in DEAD_STATUSES

    def _latest(self, key: str) -> OrderRecord | None:
        coids = self._by_intent.get(key)
        return self.orders[coids[-1]] if coids else None

    @staticmethod
    def _request(rec: OrderRecord) -> OrderRequest:
        return OrderRequest(rec.client_order_id, rec.symbol, rec.side, rec.type, rec.qty, rec.price)

    async def _send(self, rec: OrderRecord) -> None:
        request = self._request(rec)
        answer: BrokerOrder | None = None
        last_error = ""
        for attempt in range(SEND_ATTEMPTS):
            try:
                answer = await self.broker.place_order(request)
                break
            except BrokerError as exc:
                last_error = exc.message
                if not exc.retryable:
                    async with self._lock:
                        await self._mark_rejected(rec, exc.code, exc.message)
                    return
                if attempt < SEND_ATTEMPTS - 1:
                    # Same client order id on every try: the broker answers a repeat with the
                    # order it already has.
                    await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
        self.sent += 1
        async with self._lock:
            if answer is None:
                self._move(rec, OrderStatus.UNKNOWN)
                rec.message = f"no answer after {SEND_ATTEMPTS} tries ({last_error})"
                await self.journal.update_order(rec)
                self.bus.publish(
                    AlertEvent(
                        AlertLevel.ERROR,
                        AlertKind.ERROR,
                        "Order state unknown",
                        f"{rec.side} {rec.qty:,} {rec.symbol} ({rec.client_order_id}): the broker did "
                        f"not answer ({last_error}). It will be reconciled; it is never re-sent "
                        "under a new id.",
                    )
                )
                return
            await self._apply_answer(rec, answer)
        async with self._lock:
            await self._release_unmatched()
        if (
            self.controls.halted
            and rec.live
            and rec.broker_order_id
            and self.controls.halt_cancels(rec.origin, rec.side, rec.created_ns)
        ):
            # Sent while a halt was being declared: take it back. If it filled first, the fill
            # stands and is reported as a fill; a cancel that cannot be done now is retried by
            # the halt's enforcement, never raised into the command or strategy that sent it.
            try:
                await self.cancel(rec.client_order_id, reason="halt")
            except OrderError as exc:
                log.warning("halt: %s", exc)

    async def _apply_answer(self, rec: OrderRecord, answer: BrokerOrder) -> None:
        self._tie(rec, answer.broker_order_id)
        held = self._unmatched.pop(answer.broker_order_id, [])
        if answer.status == OrderStatus.REJECTED:
            await self._mark_rejected(
                rec, answer.reject_code or "rejected", answer.message or "rejected by the broker"
            )
            return
        if rec.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
            self._move(rec, OrderStatus.ACCEPTED)
            await self.journal.update_order(rec)
            self._publish_accepted(rec)
        else:
            await self.journal.update_order(rec)
        for update in held:
            await self._handle_update(update)

    async def _release_unmatched(self) -> None:
        """Held notices whose number no send in flight can claim belong to orders placed
        elsewhere: handle them now (they are adopted as external orders)."""
        if self._awaiting_numbers():
            return
        held, self._unmatched = self._unmatched, {}
        for updates in held.values():
            for update in updates:
                await self._handle_update(update)

    def _move(self, rec: OrderRecord, status: OrderStatus) -> bool:
        """Change an order's status along the table (engine.ordertypes); an impossible change
        is refused and reported loudly, and the caller leaves the order as it was."""
        if allowed(rec.status, status):
            rec.status = status
            return True
        log.error(
            "order %s: %s cannot become %s (allowed: %s); left as it was",
            rec.client_order_id,
            rec.status,
            status,
            ", ".join(sorted(TRANSITIONS[rec.status])) or "nothing, it is final",
        )
        self.bus.publish(
            AlertEvent(
                AlertLevel.ERROR,
                AlertKind.ERROR,
                "Order state needs checking",
                f"{rec.side} {rec.qty:,} {rec.symbol} (order {rec.broker_order_id or rec.client_order_id}) "
                f"is {rec.status.words}, but the broker now reports it {status.words}. Any fill is "
                f"booked; the order stays {rec.status.words}. Check it with the broker.",
            )
        )
        return False

    def _publish_accepted(self, rec: OrderRecord) -> None:
        self.bus.publish(
            OrderAccepted(
                rec.client_order_id,
                rec.broker_order_id or "",
                rec.symbol,
                rec.side,
                rec.qty,
                rec.price,
                rec.origin,
            )
        )

    async def _mark_rejected(self, rec: OrderRecord, code: str, message: str) -> None:
        if not rec.live or not self._move(rec, OrderStatus.REJECTED):
            return
        rec.message = f"{code}: {message}"
        self.portfolio.release(rec.client_order_id)
        await self.journal.update_order(rec)
        self.rejects += 1
        self.bus.publish(
            OrderRejected(
                rec.client_order_id, rec.symbol, rec.side, rec.qty, rec.price, code, message, rec.origin
            )
        )

    # ---- cancels -------------------------------------------------------------------------

    async def cancel(self, ident: str, reason: str = "requested") -> OrderRecord:
        rec = self.find(ident)
        if rec is None:
            live = ", ".join(o.broker_order_id or o.client_order_id for o in self.live_orders())
            raise OrderError(f"no order '{ident}'; open orders: {live or 'none'}")
        if not rec.live:
            raise OrderError(f"order {ident} is already {rec.status}: nothing to cancel")
        if rec.broker_order_id is None:
            raise OrderError(f"order {ident} is still being sent; try again in a moment")
        try:
            answer = await self.broker.cancel_order(rec.broker_order_id)
        except BrokerError as exc:
            if not rec.live:
                return rec  # it filled (or was cancelled) while the cancel was on its way
            if exc.retryable:
                raise OrderError(f"could not cancel {ident} now: {exc.message}", exc.message) from None
            raise OrderError(
                f"the broker refused to cancel {ident}: {exc.message} (if it "
                "filled, the fill is booked as it arrives)",
                exc.message,
            ) from None
        async with self._lock:
            if answer.status == OrderStatus.CANCELLED:
                await self._mark_cancelled(rec, reason)
        return rec

    async def cancel_all(self, reason: str) -> int:
        """Cancel every open order the broker has numbered; returns how many it confirmed."""
        cancelled = 0
        for rec in self.live_orders():
            if rec.broker_order_id is None:
                continue
            try:
                await self.cancel(rec.client_order_id, reason)
            except OrderError as exc:
                log.warning("cancel during %s: %s", reason, exc)
                continue
            cancelled += not rec.live
        return cancelled

    async def _mark_cancelled(self, rec: OrderRecord, reason: str) -> None:
        if not rec.live or not self._move(rec, OrderStatus.CANCELLED):
            return
        rec.message = reason
        self.portfolio.release(rec.client_order_id)
        await self.journal.update_order(rec)
        self.bus.publish(
            OrderCancelled(
                rec.client_order_id, rec.broker_order_id, rec.symbol, rec.side, rec.remaining, reason
            )
        )

    # ---- broker updates ------------------------------------------------------------------

    async def run_updates(self) -> None:
        """Consume account updates in arrival order; none is skipped, each applied once."""
        while True:
            update = await self.updates.get()
            async with self._lock:
                await self._handle_update(update)

    async def drain(self) -> None:
        """Apply updates still queued (at shutdown): a fill that arrived is never left behind."""
        while not self.updates.empty():
            update = self.updates.get_nowait()
            async with self._lock:
                await self._handle_update(update)

    async def _handle_update(self, u: OrderUpdate) -> None:
        rec = (self.find(u.client_order_id) if u.client_order_id else None) or self.find(u.broker_order_id)
        if rec is None and self._awaiting_numbers():
            # A notice can outrun the REST answer that tells us its order number (KIS): hold it
            # until a send in flight ties the number to an order.
            self._unmatched.setdefault(u.broker_order_id, []).append(u)
            return
        if rec is None:
            rec = await self._adopt_external(u.client_order_id, u.broker_order_id, u.symbol, u.side, u.qty)
        self._tie(rec, u.broker_order_id)
        if u.event == "accepted":
            if rec.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
                self._move(rec, OrderStatus.ACCEPTED)
                await self.journal.update_order(rec)
                self._publish_accepted(rec)
        elif u.event == "rejected":
            await self._mark_rejected(rec, u.reason or "rejected", u.message or "rejected")
        elif u.event == "cancelled":
            await self._mark_cancelled(rec, u.message or "cancelled")
        elif u.event == "fill":
            fill_id = u.fill_id or cumulative_fill_id(
                u.broker_order_id, rec.filled_qty + u.fill_qty, seoul_datetime(rec.created_ns).date()
            )
            if rec.filled_qty + u.fill_qty > rec.qty and fill_id not in self._fill_ids:
                # Already booked by a reconcile (which names fills by cumulative quantity): a
                # late notice must not book it twice.
                log.warning(
                    "fill notice for %s beyond its quantity (%d + %d > %d): already booked",
                    u.broker_order_id,
                    rec.filled_qty,
                    u.fill_qty,
                    rec.qty,
                )
                return
            if 0 < u.filled_qty <= rec.filled_qty and fill_id not in self._fill_ids:
                # The broker says the order stood at u.filled_qty after this fill, and that much
                # is booked already: reconciliation read it from the order listing (under the
                # listing's name) while this notice was on its way.
                log.warning(
                    "fill notice for %s already booked (order at %d after it, %d booked)",
                    u.broker_order_id,
                    u.filled_qty,
                    rec.filled_qty,
                )
                return
            await self._apply_fill(
                rec,
                BrokerFill(
                    fill_id,
                    u.broker_order_id,
                    rec.client_order_id,
                    u.symbol,
                    u.side,
                    u.fill_qty,
                    u.fill_price,
                    u.commission,
                    u.tax,
                    u.ts_ns or self.clock.time_ns(),
                ),
            )

    async def _adopt_external(
        self, coid: str, broker_id: str, symbol: str, side: Side, qty: int
    ) -> OrderRecord:
        """An order the broker knows and we do not (placed elsewhere): track it, say so."""
        now = self.clock.time_ns()
        rec = OrderRecord(
            coid or f"EXT-{broker_id}",
            f"external:{broker_id}",
            symbol,
            side,
            "limit",
            qty,
            None,
            "external",
            "placed outside Tradecord",
            status=OrderStatus.ACCEPTED,
            broker_order_id=broker_id,
            created_ns=now,
            updated_ns=now,
        )
        await self.journal.insert_order(rec)
        self._index(rec)
        self.bus.publish(
            AlertEvent(
                AlertLevel.WARNING,
                AlertKind.RECONCILE,
                "Unknown order",
                f"{side} {qty:,} {symbol} ({broker_id}) was not placed by "
                "Tradecord; it is tracked from now on",
            )
        )
        return rec

    async def _apply_fill(self, rec: OrderRecord, f: BrokerFill) -> None:
        if f.fill_id in self._fill_ids:
            return
        self._tie(rec, f.broker_order_id)
        # The fill is money and is booked whatever the status table says; only the status
        # it implies is checked (and an impossible one is reported, not applied).
        rec.filled_qty += f.qty
        if rec.filled_qty >= rec.qty:
            self._move(rec, OrderStatus.FILLED)
        elif rec.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.ACCEPTED):
            self._move(rec, OrderStatus.PARTIALLY_FILLED)
        fill = FillRecord(
            f.fill_id, rec.client_order_id, f.symbol, f.side, f.qty, f.price, f.commission, f.tax, f.ts_ns
        )
        await self.journal.record_fill(fill, rec)  # journaled before the portfolio moves
        self._fill_ids.add(f.fill_id)
        result = self.portfolio.apply_fill(f.symbol, f.side, f.qty, f.price, f.commission, f.tax, f.ts_ns)
        self.portfolio.on_order_progress(rec.client_order_id, rec.remaining if rec.live else 0)
        self.bus.publish(
            FillEvent(
                rec.client_order_id,
                f.fill_id,
                f.symbol,
                f.side,
                f.qty,
                f.price,
                f.commission,
                f.tax,
                result.realized_pnl,
                result.position_qty,
                rec.filled_qty,
                rec.qty,
                f.ts_ns,
            )
        )
        self._refresh_loss_block()

    def _refresh_loss_block(self) -> None:
        today = self.clock.today()
        if self.portfolio.day_pnl(today) > -self.limits.daily_loss_limit:
            if self.controls.loss_blocked and self._loss_alerted_day != today:
                self.controls.loss_blocked = False  # a new day
            return
        self.controls.loss_blocked = True
        if self._loss_alerted_day != today:
            self._loss_alerted_day = today
            self.bus.publish(
                AlertEvent(
                    AlertLevel.ERROR,
                    AlertKind.LOSS_LIMIT,
                    "Daily loss limit",
                    f"today's P&L {self.portfolio.day_pnl(today):,} KRW reached the "
                    f"-{self.limits.daily_loss_limit:,} KRW limit: no new entries today",
                )
            )
