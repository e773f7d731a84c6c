"""Plain-text rendering of command results and engine events for the console."""

from __future__ import annotations

from functools import singledispatch

from bot.commands import results as r
from engine import events as ev
from engine.clock import seoul_datetime
from engine.ordertypes import Side
from engine.report import DailyReport


def _won(value: int | float) -> str:
    return f"{value:,.0f}"


def _price(price: int | None) -> str:
    return "market" if price is None else f"@ {price:,}"


def _time(ts_ns: int) -> str:
    return seoul_datetime(ts_ns).strftime("%H:%M:%S")


def banner(paper: bool, broker: str) -> str:
    if paper:
        return f"[PAPER] Tradecord on the {broker} exchange: no real money moves."
    return f"*** LIVE TRADING on {broker}: orders use real money ***"


@singledispatch
def render_result(result: object) -> str:
    return str(result)


@render_result.register
def _(x: r.Subscribed) -> str:
    params = " ".join(f"{k}={v:g}" for k, v in x.params.items())
    qty = f"{x.qty:,} shares" if x.qty else "qty by budget"
    if not x.created:
        return f"{x.symbol} {x.name} is already subscribed ({x.strategy}); nothing changed"
    return f"subscribed {x.symbol} {x.name}: {x.strategy} ({qty}; {params})"


@render_result.register
def _(x: r.Cancelled) -> str:
    return f"cancelled {x.symbol} {x.name}"


@render_result.register
def _(x: r.SubscriptionList) -> str:
    cap = f" of {x.cap}" if x.cap else ""
    lines = [f"{len(x.rows)}{cap} subscriptions"]
    for s in x.rows:
        last = f"{s.last:,}" if s.last else "-"
        held = f" held {s.position:,}" if s.position else ""
        lines.append(f"  {s.symbol} {s.name:<12} {s.strategy:<9} {s.source:<6} last {last}{held}")
    return "\n".join(lines)


@render_result.register
def _(x: r.AutoState) -> str:
    lines = [x.changed] if x.changed else []
    if not x.watches:
        lines.append("auto mode OFF (symbols it added stay until cancelled or they leave flat)")
        return "\n".join(lines)
    state = "paused until the open" if x.paused else "ON"
    lines.append(f"auto mode {state}, following {len(x.watches)} condition(s):")
    for w in x.watches:
        qty = f" qty {w.qty:,}" if w.qty else ""
        params = " " + " ".join(f"{k}={v:g}" for k, v in w.params.items()) if w.params else ""
        lines.append(f"  {w.name} (id {w.condition_id}) -> {w.strategy}{qty}{params}")
    if x.waiting:
        lines.append(f"  {x.waiting} entries wait for a free registration")
    return "\n".join(lines)


@render_result.register
def _(x: r.ConditionList) -> str:
    if not x.rows:
        return f"no saved conditions at {x.broker} (they are made in the broker's HTS)"
    lines = [f"saved conditions at {x.broker}:"]
    for c in x.rows:
        watched = f"  [auto: {c.watched_by}]" if c.watched_by else ""
        lines.append(f"  {c.condition_id:>4}  {c.name}{watched}")
    return "\n".join(lines)


def _order_line(o: r.OrderRow) -> str:
    filled = f" filled {o.filled_qty:,}/{o.qty:,}" if o.filled_qty else ""
    return (
        f"{o.order_id} {o.side.upper()} {o.qty:,} {o.symbol} {o.name} {_price(o.price)} "
        f"[{o.status}]{filled} ({o.origin})"
    )


@render_result.register
def _(x: r.OrderPlaced) -> str:
    prefix = "already placed (same request): " if x.duplicate else "order sent: "
    return prefix + _order_line(x.order)


@render_result.register
def _(x: r.OrderList) -> str:
    if not x.rows:
        return "no open orders"
    return "\n".join([f"{len(x.rows)} open orders"] + ["  " + _order_line(o) for o in x.rows])


@render_result.register
def _(x: r.OrderCancelled) -> str:
    return f"cancelled: {_order_line(x.order)}\n  {x.owner}'s order, cancelled by {x.by}"


@render_result.register
def _(x: r.PositionList) -> str:
    lines = [f"cash {_won(x.cash)} KRW, equity {_won(x.equity)} KRW"]
    if not x.rows:
        lines.append("no positions")
    for p in x.rows:
        last = f"{p.last:,}" if p.last else "-"
        lines.append(
            f"  {p.symbol} {p.name:<12} {p.qty:>7,} @ {p.avg_price:,.0f}  last {last}  "
            f"value {_won(p.value)}  P&L {p.unrealized:+,}"
        )
    return "\n".join(lines)


@render_result.register
def _(x: r.Pnl) -> str:
    return (
        f"today: realized {x.realized_net:+,} KRW (gross {x.realized_gross:+,}, commission "
        f"{x.commission:,}, tax {x.tax:,}), unrealized {x.unrealized:+,}, {x.trades} fills; "
        f"equity {_won(x.equity)} (started {_won(x.initial_cash)})"
    )


@render_result.register
def _(x: r.Status) -> str:
    s = x.engine
    mode = "PAPER" if s.paper else "LIVE"
    conn = r.broker_line(s)
    halt = f"HALTED ({s.halt_reason})" if s.halted else "trading"
    if s.loss_blocked:
        halt += ", daily loss limit reached"
    auto = f"auto on ({s.auto_condition})" if s.auto_enabled else "auto off"
    cap = f"/{s.max_subscriptions}" if s.max_subscriptions else ""
    return (
        f"{mode} on {s.broker} ({conn}); {halt}; {auto}\n"
        f"subscriptions {s.subscriptions}{cap}, open orders {s.open_orders}, positions "
        f"{s.positions}\ncash {_won(s.cash)} (available {_won(s.available_cash)}), equity "
        f"{_won(s.equity)}, today {s.realized_today:+,} realized {s.unrealized:+,} unrealized;"
        f" {s.ticks:,} ticks"
    )


@render_result.register
def _(x: r.HaltState) -> str:
    if x.halted:
        return f"HALTED: {x.reason}; {x.detail or f'{x.cancelled_orders} open orders cancelled'}"
    return "trading resumed"


@render_result.register
def _(x: r.Settings) -> str:
    return "\n".join(f"  {k}: {v}" for k, v in x.values.items())


@render_result.register
def _(x: r.MarketInfo) -> str:
    if not x.is_open or x.opens is None or x.closes is None:
        return f"{x.day:%a %Y-%m-%d}: closed ({x.reason})"
    return f"{x.day:%a %Y-%m-%d}: open {x.opens:%H:%M}-{x.closes:%H:%M} KST ({x.reason})"


@render_result.register
def _(x: r.ScheduleList) -> str:
    if not x.jobs:
        return f"schedule ({x.mode}): no jobs ahead"
    return "\n".join([f"schedule ({x.mode}):"] + [f"  {t:%a %m-%d %H:%M:%S} {name}" for name, t in x.jobs])


def report_text(rep: DailyReport) -> str:
    win = f"{rep.win_rate:.0%}" if rep.win_rate is not None else "-"
    best = f"{rep.best.symbol} {rep.best.realized:+,}" if rep.best else "-"
    worst = f"{rep.worst.symbol} {rep.worst.realized:+,}" if rep.worst else "-"
    lines = [
        f"report {rep.day}: realized {rep.realized_net:+,} KRW (gross {rep.realized_gross:+,}, "
        f"commission {rep.commission:,}, tax {rep.tax:,}), unrealized {rep.unrealized:+,}",
        f"  {rep.fills} fills, {len(rep.trades)} closed trades, win rate {win}, best {best}, "
        f"worst {worst}, max drawdown {rep.max_drawdown:,}",
        f"  halts: {len(rep.halts)}, alerts: {len(rep.alerts)}",
    ]
    return "\n".join(lines)


@render_result.register
def _(x: r.ReportResult) -> str:
    return report_text(x.report) + f"\n  chart: {x.chart_path}"


@render_result.register
def _(x: r.ChartResult) -> str:
    return f"{x.symbol} {x.name} {x.interval_min}m chart ({x.bars} bars): {x.chart_path}"


@render_result.register
def _(x: r.Help) -> str:
    return "\n".join(f"  {h.usage:<44} {h.summary}" for h in x.rows if h.allowed)


@singledispatch
def render_event(event: object) -> str:
    return str(event)


@render_event.register
def _(e: ev.SignalEvent) -> str:
    return f"{_time(e.ts_ns)} SIGNAL {e.side.upper()} {e.qty:,} {e.symbol} {_price(e.price)} — {e.reason}"


@render_event.register
def _(e: ev.OrderAccepted) -> str:
    return (
        f"{_time(e.ts_ns)} ORDER  {e.broker_order_id} {e.side.upper()} {e.qty:,} {e.symbol} "
        f"{_price(e.price)} accepted ({e.origin})"
    )


@render_event.register
def _(e: ev.OrderRejected) -> str:
    return f"{_time(e.ts_ns)} REJECT {e.side.upper()} {e.qty:,} {e.symbol}: {e.message}"


@render_event.register
def _(e: ev.OrderCancelled) -> str:
    return f"{_time(e.ts_ns)} CANCEL {e.symbol} {e.side} {e.remaining:,} left: {e.reason}"


@render_event.register
def _(e: ev.FillEvent) -> str:
    pnl = f", P&L {e.realized_pnl:+,}" if e.side == Side.SELL else ""
    return (
        f"{_time(e.ts_ns)} FILL   {e.side.upper()} {e.qty:,} {e.symbol} @ {e.price:,} "
        f"({e.order_filled_qty:,}/{e.order_qty:,}; now hold {e.position_qty:,}{pnl})"
    )


@render_event.register
def _(e: ev.AlertEvent) -> str:
    return f"{_time(e.ts_ns)} ALERT  [{e.level.value}] {e.title}: {e.message}"


@render_event.register
def _(e: ev.SubscriptionChanged) -> str:
    return f"{_time(e.ts_ns)} SUB    {e.action} {e.symbol} ({e.strategy}, {e.source}): {e.reason}"


@render_event.register
def _(e: ev.HaltChanged) -> str:
    state = "HALTED" if e.halted else "RESUMED"
    return f"{_time(e.ts_ns)} {state} by {e.actor}: {e.reason}"


@render_event.register
def _(e: ev.ConnectionChanged) -> str:
    state = "connected" if e.connected else "DISCONNECTED"
    return f"{_time(e.ts_ns)} BROKER {state}: {e.detail}"


@render_event.register
def _(e: ev.ReportEvent) -> str:
    return f"{_time(e.ts_ns)} REPORT " + report_text(e.report) + f"\n  chart: {e.chart_path}"


@render_event.register
def _(e: ev.AutoModeChanged) -> str:
    return f"{_time(e.ts_ns)} AUTO   {'on: ' + str(e.condition) if e.enabled else 'off'}"
