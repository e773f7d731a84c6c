"""Reconciliation: the journal and the portfolio brought in line with the broker.

Run after every (re)connection and at the close. Fills the realtime channel missed are booked
once (by fill id); orders whose send was interrupted are looked up at the broker and adopted,
or marked never sent, and never re-sent (the moment for that intent has passed). It works on
the order manager's own books, under its lock, with its guarded status changes.
"""

from __future__ import annotations

from engine.brokers.base import BrokerError, BrokerFill
from engine.clock import seoul_datetime
from engine.krx.costs import Market
from engine.orders import OrderManager
from engine.ordertypes import OrderStatus, Side, cumulative_fill_id


async def reconcile(om: OrderManager) -> list[str]:
    """Bring journal and portfolio in line with the broker; returns what changed, in words.

    Fills the realtime channel missed are applied; orders whose send was interrupted are
    looked up by client order id and adopted, or marked never sent (and never re-sent: the
    moment for that intent has passed).
    """
    notes: list[str] = []
    caps = om.broker.capabilities
    # Brokers declare how they report fills: one by one, or as each order's running total.
    fills = await om.broker.fills() if caps.lists_fills else []
    async with om._lock:
        for f in fills:
            if f.fill_id in om._fill_ids:
                continue
            rec = om.find(f.client_order_id) or om.find(f.broker_order_id)
            if rec is None:
                rec = await om._adopt_external(f.client_order_id, f.broker_order_id, f.symbol, f.side, f.qty)
            await om._apply_fill(rec, f)
            notes.append(f"missed fill applied: {f.side} {f.qty:,} {f.symbol} @ {f.price:,}")
    claimed = set(om._by_broker_id)
    for rec in om.live_orders():
        if rec.client_order_id in om._in_flight:
            continue  # its own send settles it
        try:
            answer = await om.broker.find_order(
                om._request(rec), rec.created_ns, claimed, rec.broker_order_id
            )
        except BrokerError as exc:
            notes.append(f"could not check {rec.client_order_id}: {exc.message}")
            continue
        async with om._lock:
            if not rec.live:
                continue
            if answer is None:
                om._move(rec, OrderStatus.NOT_SENT)
                rec.message = "the broker never received it; not re-sent"
                om.portfolio.release(rec.client_order_id)
                await om.journal.update_order(rec)
                notes.append(
                    f"{rec.side} {rec.qty:,} {rec.symbol} ({rec.client_order_id}) "
                    "never reached the broker: marked not sent"
                )
                continue
            if answer.status == OrderStatus.REJECTED:
                await om._mark_rejected(rec, answer.reject_code or "rejected", answer.message or "rejected")
            elif answer.status == OrderStatus.CANCELLED:
                await om._mark_cancelled(rec, "cancelled at the broker")
            else:
                await om._apply_answer(rec, answer)
                claimed.add(answer.broker_order_id)
                unit = (
                    rec.price
                    if rec.price is not None
                    else (om.instruments[rec.symbol].upper_limit if rec.symbol in om.instruments else 0)
                )
                if rec.live:
                    om.portfolio.reserve(rec.client_order_id, rec.symbol, rec.side, rec.remaining, unit)
    if not caps.lists_fills and caps.lists_orders:
        notes += await _reconcile_order_fills(om)
    return notes


async def _reconcile_order_fills(om: OrderManager) -> list[str]:
    """For brokers that report fills per order: a cumulative quantity above ours is a fill
    we missed; it is booked once, at the price that makes the averages agree."""
    notes: list[str] = []
    states = await om.broker.order_states()
    if not states:
        return notes
    booked: dict[str, int] = {}  # client order id -> value of its journaled fills
    for f in await om.journal.fills():
        booked[f.client_order_id] = booked.get(f.client_order_id, 0) + f.qty * f.price
    for answer, avg in states:
        async with om._lock:
            rec = om.find(answer.broker_order_id)
            if rec is None or answer.filled_qty <= rec.filled_qty:
                continue
            missing = answer.filled_qty - rec.filled_qty
            ours = booked.get(rec.client_order_id, 0)
            price = round((avg * answer.filled_qty - ours) / missing) if avg else rec.price or 0
            inst = om.instruments.get(rec.symbol)
            amount = price * missing
            market = inst.market if inst else Market.KOSPI
            commission, tax = om.portfolio.costs.fill_costs(
                rec.side == Side.SELL, amount, market, om.clock.today()
            )
            await om._apply_fill(
                rec,
                BrokerFill(
                    cumulative_fill_id(
                        answer.broker_order_id, answer.filled_qty, seoul_datetime(rec.created_ns).date()
                    ),
                    answer.broker_order_id,
                    rec.client_order_id,
                    rec.symbol,
                    rec.side,
                    missing,
                    price,
                    commission,
                    tax,
                    om.clock.time_ns(),
                ),
            )
            notes.append(f"missed fill applied: {rec.side} {missing:,} {rec.symbol} @ {price:,}")
    return notes
