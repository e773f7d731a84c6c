"""The money-path invariants, checked on the journal against the broker after the final run.

Pure functions over engine.chaos.state values, so a test can feed a deliberately broken journal
and see each check fire. Every violation names the order, fill or symbol and what differed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engine.chaos.state import (
    CANCELLED,
    FILLED,
    OPEN,
    REJECTED,
    BrokerFill,
    BrokerOrder,
    BrokerState,
    JournalFill,
    JournalOrder,
    JournalState,
)

# Checked by the runner on the processes' output (passed in as violations).
PROCESS_INVARIANTS = ("clean_starts", "clean_stop", "no_internal_error")
STATE_INVARIANTS = (
    "no_duplicate_order",
    "no_orphan_order",
    "no_lost_fill",
    "order_status_match",
    "positions_match",
    "cash_match",
    "halt_state",
    "no_unsettled_order",
)
INVARIANTS = PROCESS_INVARIANTS + STATE_INVARIANTS

# Journal status -> the broker state it must agree with (None: the broker must not have it, or
# it is still unsettled and reported as such).
_EXPECTED = {
    "accepted": OPEN,
    "partially_filled": OPEN,
    "filled": FILLED,
    "cancelled": CANCELLED,
    "rejected": REJECTED,
}
_GIVEN_UP = ("not_sent", "rejected")
# Seconds apart within which an unclaimed broker order is shown next to a journal order of the
# same shape: the likeliest explanation is a second send of that intent.
_SAME_SHAPE_WINDOW_NS = 120 * 10**9


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"invariant": self.invariant, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class HaltCommand:
    """A /halt or /resume written to the console, and what became of it."""

    where: str  # e.g. "round 3 command 17"
    halt: bool  # True for /halt, False for /resume
    outcome: str  # "ok": its reply was seen; "error": refused; "none": no reply (killed first)
    reply: str = ""


@dataclass(slots=True)
class Report:
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> dict[str, bool]:
        failed = {v.invariant for v in self.violations}
        return {name: name not in failed for name in INVARIANTS}

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, invariant: str, detail: str) -> None:
        self.violations.append(Violation(invariant, detail))


def allowed_halt_states(history: Sequence[HaltCommand]) -> tuple[set[bool], str]:
    """The halt states the journal may hold: the last acknowledged one, or the effect of any
    command sent after it whose reply was never seen (it may or may not have taken effect)."""
    state, why, last_ok = False, "no /halt or /resume was acknowledged (the journal starts not halted)", -1
    for i, cmd in enumerate(history):
        if cmd.outcome == "ok":
            state, last_ok = cmd.halt, i
            name = "halt" if cmd.halt else "resume"
            why = f"the last acknowledged was /{name} ({cmd.where}: {cmd.reply!r})"
    allowed = {state}
    unsure = [c for c in history[last_ok + 1 :] if c.outcome != "ok"]
    for cmd in unsure:
        allowed.add(cmd.halt)
    if unsure:
        why += "; unacknowledged since: " + ", ".join(
            f"/{'halt' if c.halt else 'resume'} ({c.where}, {c.outcome})" for c in unsure
        )
    return allowed, why


def _won(value: int) -> str:
    return f"{value:,}"


def _fills_text(fills: Iterable[JournalFill]) -> str:
    shown = [f"{f.fill_id} {f.qty:,}@{f.price:,}" for f in fills]
    return ", ".join(shown) if shown else "none"


class _Matcher:
    """Journal orders and broker orders tied by client order id or broker order number."""

    def __init__(self, journal: JournalState, broker: BrokerState) -> None:
        self.by_coid = {o.client_order_id: o for o in journal.orders}
        by_number: dict[str, list[JournalOrder]] = defaultdict(list)
        for o in journal.orders:
            if o.broker_order_id:
                by_number[o.broker_order_id].append(o)
        self.claims: dict[str, list[JournalOrder]] = {}  # broker order id -> journal orders
        self.matches: dict[str, list[BrokerOrder]] = defaultdict(list)  # coid -> broker orders
        for b in broker.orders:
            claims: list[JournalOrder] = []
            if b.client_order_id and b.client_order_id in self.by_coid:
                claims.append(self.by_coid[b.client_order_id])
            claims += [
                j
                for j in by_number.get(b.order_id, [])
                if j.client_order_id not in {c.client_order_id for c in claims}
            ]
            self.claims[b.order_id] = claims
            for j in claims:
                self.matches[j.client_order_id].append(b)


def _check_orders(journal: JournalState, broker: BrokerState, m: _Matcher, report: Report) -> None:
    for b in broker.orders:
        claims = m.claims[b.order_id]
        if len(claims) > 1:
            report.add(
                "no_duplicate_order",
                f"broker order {b.describe()} is claimed by {len(claims)} journal orders: "
                + "; ".join(j.describe() for j in claims),
            )
        if not claims:
            similar = [
                j
                for j in journal.orders
                if (j.symbol, j.side, j.qty) == (b.symbol, b.side, b.qty)
                and (not b.created_ns or abs(j.created_ns - b.created_ns) < _SAME_SHAPE_WINDOW_NS)
            ]
            hint = (
                (
                    "; same shape as journal order(s) "
                    + "; ".join(j.describe() for j in similar)
                    + " (a second send of one intent?)"
                )
                if similar
                else ""
            )
            report.add("no_orphan_order", f"broker order {b.describe()} has no journal order{hint}")
    resent: set[str] = set()
    by_intent: dict[str, list[JournalOrder]] = defaultdict(list)
    for j in journal.orders:
        if len(m.matches[j.client_order_id]) > 1:
            report.add(
                "no_duplicate_order",
                f"journal order {j.describe()} matches {len(m.matches[j.client_order_id])} "
                "broker orders: " + "; ".join(b.describe() for b in m.matches[j.client_order_id]),
            )
        by_intent[j.base_intent].append(j)
    for key, rows in by_intent.items():
        for i, row in enumerate(rows[:-1]):
            live_at_broker = [b for b in m.matches[row.client_order_id] if b.status != REJECTED]
            if row.status in _GIVEN_UP and live_at_broker:
                later = ", ".join(r.client_order_id for r in rows[i + 1 :])
                report.add(
                    "no_duplicate_order",
                    f"intent {key!r}: {row.client_order_id} was given up as {row.status} "
                    f"although the broker has {live_at_broker[0].describe()}, and the intent "
                    f"was sent again as {later}",
                )
                resent.add(row.client_order_id)
    for j in journal.orders:
        found = m.matches[j.client_order_id]
        if len(found) != 1:
            if not found and j.status in ("accepted", "partially_filled", "filled", "cancelled"):
                report.add(
                    "order_status_match", f"journal has {j.describe()} but the broker has no such order"
                )
            continue
        b = found[0]
        if j.status in ("pending", "unknown") or j.client_order_id in resent:
            continue  # reported as unsettled / as a re-send
        if j.status == "not_sent":
            report.add(
                "order_status_match",
                f"journal marks {j.describe()} not sent, but the broker has {b.describe()}",
            )
        elif _EXPECTED.get(j.status) != b.status:
            report.add("order_status_match", f"journal has {j.describe()}, broker has {b.describe()}")
        elif j.filled_qty != b.filled_qty:
            report.add(
                "order_status_match",
                f"filled quantity differs: journal {j.describe()}, broker {b.describe()}",
            )


def _check_fills(journal: JournalState, broker: BrokerState, m: _Matcher, report: Report) -> None:
    journal_by_coid: dict[str, list[JournalFill]] = defaultdict(list)
    for f in journal.fills:
        journal_by_coid[f.client_order_id].append(f)
        if f.client_order_id not in m.by_coid:
            report.add(
                "no_lost_fill",
                f"journal fill {f.fill_id} ({f.side} {f.qty:,} {f.symbol} @ {f.price:,}) "
                f"belongs to no journal order ({f.client_order_id})",
            )
    broker_by_order: dict[str, list[BrokerFill]] = defaultdict(list)
    for bf in broker.fills:
        broker_by_order[bf.order_id].append(bf)
    if broker.fill_ids:
        _check_fill_ids(journal, broker, m, report)
        return
    # Without fill ids (KIS reports executed quantity per order): the quantities per order.
    for b in broker.orders:
        at_broker = sum(bf.qty for bf in broker_by_order.get(b.order_id, ()))
        claims = m.claims[b.order_id]
        booked = [f for j in claims for f in journal_by_coid.get(j.client_order_id, ())]
        if at_broker != sum(f.qty for f in booked):
            owner = ", ".join(j.client_order_id for j in claims) or "no journal order"
            report.add(
                "no_lost_fill",
                f"broker order {b.describe()} executed {at_broker:,} shares "
                f"({len(broker_by_order.get(b.order_id, ()))} fills) but the journal books "
                f"{sum(f.qty for f in booked):,} to {owner} (fills: {_fills_text(booked)})",
            )
    for coid, booked in journal_by_coid.items():
        if coid in m.by_coid and not m.matches[coid]:
            report.add(
                "no_lost_fill",
                f"the journal books {sum(f.qty for f in booked):,} shares to "
                f"{m.by_coid[coid].describe()}, which the broker does not have "
                f"(fills: {_fills_text(booked)})",
            )


def _check_fill_ids(journal: JournalState, broker: BrokerState, m: _Matcher, report: Report) -> None:
    by_id = {f.fill_id: f for f in journal.fills}
    broker_ids = set()
    for bf in broker.fills:
        if bf.fill_id is None:
            continue
        broker_ids.add(bf.fill_id)
        jf = by_id.get(bf.fill_id)
        what = f"{bf.side} {bf.qty:,} {bf.symbol} @ {bf.price:,} of broker order {bf.order_id}"
        if jf is None:
            report.add("no_lost_fill", f"broker fill {bf.fill_id} ({what}) is not in the journal")
            continue
        ours = (jf.symbol, jf.side, jf.qty, jf.price, jf.commission, jf.tax)
        theirs = (bf.symbol, bf.side, bf.qty, bf.price, bf.commission, bf.tax)
        if ours != theirs:
            report.add(
                "no_lost_fill",
                f"fill {bf.fill_id}: journal has (symbol, side, qty, price, commission, tax)"
                f" {ours}, the broker {theirs}",
            )
        owners = {j.client_order_id for j in m.claims.get(bf.order_id, [])}
        if jf.client_order_id not in owners:
            report.add(
                "no_lost_fill",
                f"fill {bf.fill_id} ({what}) is booked to journal order "
                f"{jf.client_order_id}, not to {', '.join(sorted(owners)) or 'any journal order'}",
            )
    for jf in journal.fills:
        if jf.fill_id not in broker_ids:
            report.add(
                "no_lost_fill",
                f"journal fill {jf.fill_id} ({jf.side} {jf.qty:,} {jf.symbol} @ {jf.price:,},"
                f" order {jf.client_order_id}) has no broker fill: "
                f"{jf.qty:,} shares booked that the broker never executed",
            )


def _check_money(journal: JournalState, broker: BrokerState, report: Report) -> None:
    held: dict[str, int] = defaultdict(int)
    bought = sold = buy_fees = sell_fees = tax = 0
    for f in journal.fills:
        amount = f.qty * f.price
        if f.side == "buy":
            held[f.symbol] += f.qty
            bought += amount
            buy_fees += f.commission
        else:
            held[f.symbol] -= f.qty
            sold += amount
            sell_fees += f.commission
        tax += f.tax
    for symbol in sorted(set(held) | set(broker.positions)):
        ours, theirs = held.get(symbol, 0), broker.positions.get(symbol, 0)
        if ours != theirs:
            report.add(
                "positions_match",
                f"{symbol}: journal fills give {ours:,} shares, the broker holds {theirs:,}",
            )
    if journal.initial_cash is None:
        report.add("cash_match", "the journal has no initial_cash: cash cannot be derived")
        return
    cash = journal.initial_cash - bought - buy_fees + sold - sell_fees - tax
    if cash != broker.cash:
        report.add(
            "cash_match",
            f"journal fills give {_won(cash)} KRW (initial {_won(journal.initial_cash)} - buys "
            f"{_won(bought)} - commission {_won(buy_fees + sell_fees)} + sells {_won(sold)} "
            f"- tax {_won(tax)}), the broker has {_won(broker.cash)} "
            f"(broker - journal = {broker.cash - cash:+,})",
        )


def check(
    journal: JournalState,
    broker: BrokerState,
    halts: Sequence[HaltCommand] = (),
    process: Iterable[Violation] = (),
) -> Report:
    """Every invariant; `process` carries what the runner saw on the processes' output."""
    report = Report(list(process))
    m = _Matcher(journal, broker)
    _check_orders(journal, broker, m, report)
    _check_fills(journal, broker, m, report)
    _check_money(journal, broker, report)
    allowed, why = allowed_halt_states(halts)
    if journal.halted not in allowed:
        state = f"halted ({journal.halt_reason!r})" if journal.halted else "not halted"
        report.add("halt_state", f"the journal says {state}; {why}")
    for j in journal.unsettled:
        found = m.matches.get(j.client_order_id) or []
        at_broker = found[0].describe() if found else "no such order at the broker"
        report.add(
            "no_unsettled_order",
            f"{j.describe()} is still {j.status} after the final reconcile "
            f"(message {j.message!r}); broker: {at_broker}",
        )
    return report
