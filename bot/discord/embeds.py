"""Embeds as plain dicts (the JSON Discord takes), built from engine events and command results.

Phone-first: short titles, key numbers as inline fields, relative timestamps. Colours follow the
Korean convention traders read at a glance: red for buying/rising, blue for selling/falling.
"""

from __future__ import annotations

from functools import singledispatch
from pathlib import Path
from typing import Any

from bot.commands import results as r
from bot.commands.results import broker_line
from bot.console.render import render_result
from engine import events as ev
from engine.ordertypes import Side
from engine.report import DailyReport

RED = 0xE03131  # buy
BLUE = 0x1C7ED6  # sell
ORANGE = 0xF08C00  # alert
GREY = 0x868E96  # info
GREEN = 0x2F9E44  # ok

Embed = dict[str, Any]


def when(ts_ns: int, style: str = "R") -> str:
    """A Discord timestamp: every reader sees it in their own time zone."""
    return f"<t:{ts_ns // 1_000_000_000}:{style}>"


def field(name: str, value: object, inline: bool = True) -> dict[str, Any]:
    return {"name": name, "value": str(value)[:1024] or "-", "inline": inline}


def _side_colour(side: str) -> int:
    return RED if side == Side.BUY else BLUE


def _px(price: int | None) -> str:
    return "market" if price is None else f"{price:,}"


# ---- events: (embed, one-line summary for digests) ------------------------------------------


@singledispatch
def event_embed(event: object) -> tuple[Embed, str] | None:
    return None


@event_embed.register
def _(e: ev.FillEvent) -> tuple[Embed, str]:
    verb = "Bought" if e.side == Side.BUY else "Sold"
    fields = [
        field("Qty", f"{e.qty:,}"),
        field("Price", f"{e.price:,}"),
        field("Holding", f"{e.position_qty:,}"),
    ]
    if e.side == Side.SELL:
        fields.append(field("P&L", f"{e.realized_pnl:+,}"))
    if e.order_filled_qty < e.order_qty:
        fields.append(field("Order", f"{e.order_filled_qty:,}/{e.order_qty:,} filled"))
    embed = {
        "title": f"{verb} {e.symbol}",
        "color": _side_colour(e.side),
        "fields": fields,
        "description": when(e.ts_ns),
    }
    pnl = f" P&L {e.realized_pnl:+,}" if e.side == Side.SELL else ""
    line = f"{e.side.upper()} {e.qty:,} {e.symbol} @ {e.price:,}{pnl} {when(e.ts_ns, 'T')}"
    return embed, line


@event_embed.register
def _(e: ev.SignalEvent) -> tuple[Embed, str]:
    embed = {
        "title": f"Signal {e.side} {e.symbol}",
        "color": _side_colour(e.side),
        "description": f"{e.reason}\n{when(e.ts_ns)}",
        "fields": [field("Qty", f"{e.qty:,}"), field("Price", _px(e.price)), field("Strategy", e.strategy)],
    }
    return embed, f"{e.side.upper()} {e.qty:,} {e.symbol} {_px(e.price)} ({e.strategy})"


@event_embed.register
def _(e: ev.OrderRejected) -> tuple[Embed, str]:
    embed = {
        "title": f"Rejected {e.side} {e.symbol}",
        "color": ORANGE,
        "description": f"{e.message}\n{when(e.ts_ns)}",
    }
    return embed, f"REJECTED {e.side} {e.qty:,} {e.symbol}: {e.message}"


@event_embed.register
def _(e: ev.OrderCancelled) -> tuple[Embed, str]:
    embed = {
        "title": f"Cancelled {e.side} {e.symbol}",
        "color": GREY,
        "description": f"{e.remaining:,} unfilled; {e.reason}\n{when(e.ts_ns)}",
    }
    return embed, f"CANCELLED {e.side} {e.symbol} ({e.remaining:,} left)"


@event_embed.register
def _(e: ev.AlertEvent) -> tuple[Embed, str]:
    colour = ORANGE if e.level != ev.AlertLevel.INFO else GREY
    embed = {"title": e.title[:256], "color": colour, "description": f"{e.message[:3900]}\n{when(e.ts_ns)}"}
    return embed, f"{e.title}: {e.message}"


@event_embed.register
def _(e: ev.HaltChanged) -> tuple[Embed, str] | None:
    if e.halted:
        return None  # the halt's own alert says it, with the cancelled orders
    return {
        "title": "Trading resumed",
        "color": GREEN,
        "description": f"by {e.actor} {when(e.ts_ns)}",
    }, f"resumed by {e.actor}"


@event_embed.register
def _(e: ev.ConnectionChanged) -> tuple[Embed, str] | None:
    if not e.connected:
        return None  # the disconnect alert covers it
    return {
        "title": "Broker connected",
        "color": GREEN,
        "description": f"{e.detail}\n{when(e.ts_ns)}",
    }, f"broker connected: {e.detail}"


@event_embed.register
def _(e: ev.SubscriptionChanged) -> tuple[Embed, str]:
    verb = "Following" if e.action == "added" else "Stopped"
    return (
        {
            "title": f"{verb} {e.symbol}",
            "color": GREY,
            "description": f"{e.strategy}, {e.source}: {e.reason}",
        },
        f"{verb.lower()} {e.symbol} ({e.reason})",
    )


@event_embed.register
def _(e: ev.ReportEvent) -> tuple[Embed, str]:
    name = Path(e.chart_path).name if e.chart_path else None
    return report_embed(e.report, name), f"daily report {e.report.day}: {e.report.realized_net:+,} KRW"


@event_embed.register
def _(e: ev.AutoModeChanged) -> tuple[Embed, str]:
    text = f"on: {e.condition}" if e.enabled else "off"
    return {"title": f"Auto mode {text}", "color": GREY}, f"auto mode {text}"


# ---- command results, for ephemeral replies -------------------------------------------------


def error_embed(message: str) -> Embed:
    return {"title": "Not done", "color": ORANGE, "description": message[:4096]}


def _code(text: str) -> str:
    return "```\n" + text[:4000] + "\n```"


@singledispatch
def result_embed(result: object) -> Embed:
    return {"description": _code(render_result(result)), "color": GREY}


@result_embed.register
def _(x: r.Status) -> Embed:
    s = x.engine
    mode = "PAPER" if s.paper else "LIVE"
    state = f"HALTED: {s.halt_reason}" if s.halted else ("loss limit hit" if s.loss_blocked else "trading")
    return {
        "title": f"{mode} · {s.broker} · {state}",
        "color": ORANGE if s.halted or not s.broker_ready else GREEN,
        "fields": [
            field("Equity", f"{s.equity:,}"),
            field("Cash", f"{s.available_cash:,}"),
            field("Today", f"{s.realized_today:+,}"),
            field("Unrealized", f"{s.unrealized:+,}"),
            field("Subs", f"{s.subscriptions}/{s.max_subscriptions or '-'}"),
            field("Orders", s.open_orders),
            field("Positions", s.positions),
            field("Auto", s.auto_condition if s.auto_enabled else "off"),
            field("Broker", broker_line(s)),
        ],
        "description": f"up since {when(s.started_ns)}",
    }


@result_embed.register
def _(x: r.OrderPlaced) -> Embed:
    o = x.order
    title = f"{'Already sent' if x.duplicate else 'Sent'}: {o.side} {o.qty:,} {o.symbol}"
    return {
        "title": title,
        "color": _side_colour(o.side),
        "fields": [field("Price", _px(o.price)), field("Status", o.status), field("Order", o.order_id)],
    }


@result_embed.register
def _(x: r.OrderPreview) -> Embed:
    return {
        "title": f"{x.side.capitalize()} {x.qty:,} {x.symbol}?",
        "color": _side_colour(x.side),
        "description": f"{x.name}. Confirm within 30 s.",
        "fields": [
            field("Price", _px(x.price)),
            field("≈ Value", f"{x.estimated_value:,}"),
            field("Last", f"{x.last:,}" if x.last else "-"),
        ],
    }


@result_embed.register
def _(x: r.PositionList) -> Embed:
    fields = [
        field(f"{p.symbol} {p.name}"[:256], f"{p.qty:,} @ {p.avg_price:,.0f}\nP&L {p.unrealized:+,}")
        for p in x.rows[:24]
    ]
    return {
        "title": f"Positions ({len(x.rows)})",
        "color": GREY,
        "description": f"Cash {x.cash:,} · Equity {x.equity:,}",
        "fields": fields,
    }


@result_embed.register
def _(x: r.MarketInfo) -> Embed:
    if not x.is_open or x.opens is None or x.closes is None:
        return {"title": f"{x.day:%a %m-%d}: closed", "color": GREY, "description": x.reason}
    return {
        "title": f"{x.day:%a %m-%d}: {x.opens:%H:%M}-{x.closes:%H:%M} KST",
        "color": GREEN,
        "description": x.reason,
        "fields": [
            field("Opens", when(int(x.opens.timestamp() * 1e9))),
            field("Closes", when(int(x.closes.timestamp() * 1e9))),
        ],
    }


@result_embed.register
def _(x: r.ScheduleList) -> Embed:
    lines = [f"{name.replace('_', ' ')}: {when(int(t.timestamp() * 1e9), 'f')}" for name, t in x.jobs]
    return {
        "title": f"Schedule ({x.mode})",
        "color": GREY,
        "description": "\n".join(lines) or "no jobs ahead",
    }


def report_embed(rep: DailyReport, chart_name: str | None) -> Embed:
    win = f"{rep.win_rate:.0%}" if rep.win_rate is not None else "-"
    embed: Embed = {
        "title": f"{rep.day:%m-%d} {rep.realized_net:+,} KRW",
        "color": RED if rep.realized_net >= 0 else BLUE,
        "fields": [
            field("Unrealized", f"{rep.unrealized:+,}"),
            field("Fees", f"{rep.commission:,}"),
            field("Tax", f"{rep.tax:,}"),
            field("Trades", len(rep.trades)),
            field("Win rate", win),
            field("Max DD", f"{rep.max_drawdown:,}"),
            field("Best", f"{rep.best.symbol} {rep.best.realized:+,}" if rep.best else "-"),
            field("Worst", f"{rep.worst.symbol} {rep.worst.realized:+,}" if rep.worst else "-"),
            field("Halts/alerts", f"{len(rep.halts)}/{len(rep.alerts)}"),
        ],
    }
    if chart_name:
        embed["image"] = {"url": f"attachment://{chart_name}"}
    return embed


@result_embed.register
def _(x: r.ReportResult) -> Embed:
    return report_embed(x.report, Path(x.chart_path).name)


@result_embed.register
def _(x: r.ChartResult) -> Embed:
    return {
        "title": f"{x.symbol} {x.name} · {x.interval_min}m",
        "color": GREY,
        "description": f"{x.bars} bars; ▲ entries, ▼ exits",
        "image": {"url": f"attachment://{Path(x.chart_path).name}"},
    }


@result_embed.register
def _(x: r.Pnl) -> Embed:
    return {
        "title": f"Today {x.realized_net:+,} KRW",
        "color": RED if x.realized_net >= 0 else BLUE,
        "fields": [
            field("Unrealized", f"{x.unrealized:+,}"),
            field("Fees", f"{x.commission:,}"),
            field("Tax", f"{x.tax:,}"),
            field("Fills", x.trades),
            field("Equity", f"{x.equity:,}"),
        ],
    }
