"""One implementation of each command, shared by the console and Discord."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.commands import parsing
from bot.commands import results as r
from bot.commands.context import CommandError, Invocation, Role
from engine.auto import AutoModeError
from engine.brokers.base import BrokerError
from engine.core import Engine
from engine.journal import AuditRecord, OrderRecord
from engine.journal.records import Side
from engine.krx.calendar import KrxCalendar
from engine.orders import OrderError, OrderIntent
from engine.schedule import TradingSchedule
from engine.strategies.registry import STRATEGIES
from engine.subscriptions import SubscriptionError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Arg:
    name: str
    help: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    role: Role
    args: tuple[Arg, ...] = ()
    takes_params: bool = False  # accepts strategy parameters as name=value

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        parts += [f"<{a.name}>" if a.required else f"[{a.name}]" for a in self.args]
        if self.takes_params:
            parts.append("[param=value …]")
        return " ".join(parts)


V, T, A = Role.VIEWER, Role.TRADER, Role.ADMIN
SYMBOL = Arg("symbol", "KRX code, e.g. 005930")

COMMANDS: tuple[Command, ...] = (
    Command("subscribe", "follow a symbol with a strategy", T,
            (SYMBOL, Arg("strategy", f"one of {', '.join(STRATEGIES)}", False),
             Arg("qty", "shares per entry (default: by order budget)", False)), takes_params=True),
    Command("cancel", "stop following a symbol", T, (SYMBOL,)),
    Command("subscriptions", "list followed symbols", V),
    Command("auto", "auto mode: follow a condition search", T,
            (Arg("mode", "on or off"), Arg("condition", "condition name", False))),
    Command("buy", "buy (limit with a price, else market)", T,
            (SYMBOL, Arg("qty", "shares"), Arg("price", "limit price in KRW", False))),
    Command("sell", "sell (limit with a price, else market)", T,
            (SYMBOL, Arg("qty", "shares"), Arg("price", "limit price in KRW", False))),
    Command("orders", "open orders", V),
    Command("cancelorder", "cancel an open order", T, (Arg("order_id", "id from /orders"),)),
    Command("positions", "positions and their value", V),
    Command("pnl", "today's profit and loss", V),
    Command("status", "engine, broker and risk state", V),
    Command("halt", "kill switch: cancel open orders, stop trading", T,
            (Arg("reason", "why", False),)),
    Command("resume", "lift a halt", A),
    Command("settings", "risk limits and configuration", A),
    Command("market", "is the market open; session times", V,
            (Arg("date", "YYYY-MM-DD (default today)", False),)),
    Command("schedule", "the next scheduled jobs", V),
    Command("report", "daily report with an equity chart", V,
            (Arg("date", "YYYY-MM-DD (default today)", False),)),
    Command("chart", "candles with the bot's trades", V,
            (SYMBOL, Arg("interval", "minutes: 1, 5, 15, 30 or 60 (default 1)", False))),
    Command("help", "list commands", V),
)
BY_NAME = {c.name: c for c in COMMANDS}


def parse_line(line: str) -> tuple[str, dict[str, object]]:
    """Console syntax: `/buy 005930 10 97600` or `subscribe 005930 breakout k=0.3`."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise CommandError(f"could not read that line: {exc}") from None
    if not tokens:
        raise CommandError("empty command; try /help")
    name = tokens[0].lstrip("/").lower()
    command = BY_NAME.get(name)
    if command is None:
        raise CommandError(f"unknown command '{tokens[0]}'; valid: "
                           + ", ".join(f"/{c}" for c in BY_NAME))
    args: dict[str, object] = {}
    params: dict[str, object] = {}
    positional = []
    for token in tokens[1:]:
        if "=" in token and command.takes_params:
            key, _, value = token.partition("=")
            params[key.strip().lower()] = value
        else:
            positional.append(token)
    if command.name == "halt" and positional:
        positional = [" ".join(positional)]
    if len(positional) > len(command.args):
        raise CommandError(f"too many arguments; usage: {command.usage}")
    for arg, value in zip(command.args, positional, strict=False):
        args[arg.name] = value
    if params:
        args["params"] = params
    return name, args


Handler = Callable[[Invocation, Mapping[str, Any]], Awaitable[r.Result]]


CHART_INTERVALS = (1, 5, 15, 30, 60)


# The dates a calendar and a journal can speak of (KRX's tick grid dates from 2023).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def parse_day(raw: object, today: date) -> date:
    if raw in (None, ""):
        return today
    try:
        day = date.fromisoformat(str(raw).strip())
    except ValueError:
        raise CommandError(f"date must be YYYY-MM-DD, e.g. 2026-11-20; got "
                           f"'{parsing.shown(raw)}'") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CommandError(f"date must be between {FIRST_DAY} and {LAST_DAY}; got {day}")
    return day


class CommandLayer:
    def __init__(self, engine: Engine, schedule: TradingSchedule | None = None) -> None:
        self.engine = engine
        self.schedule = schedule
        s = engine.config.schedule
        self.calendar = schedule.calendar if schedule else KrxCalendar(s.special_sessions,
                                                                       s.extra_holidays)
        self._handlers: dict[str, Handler] = {
            "subscribe": self.subscribe, "cancel": self.cancel,
            "subscriptions": self.subscriptions, "auto": self.auto, "buy": self.buy,
            "sell": self.sell, "orders": self.orders, "cancelorder": self.cancelorder,
            "positions": self.positions, "pnl": self.pnl, "status": self.status,
            "halt": self.halt, "resume": self.resume, "help": self.help,
            "settings": self.settings, "market": self.market, "schedule": self.schedule_list,
            "report": self.report, "chart": self.chart,
        }

    async def execute(self, inv: Invocation, name: str, args: Mapping[str, Any]) -> r.Result:
        """Check the role, run the command, audit it (allowed or refused), return the result."""
        command = BY_NAME.get(name)
        try:
            if command is None:
                raise CommandError(f"unknown command '/{name}'; try /help")
            if inv.role < command.role:
                raise CommandError(
                    f"/{name} needs the {command.role.name.lower()} role; you have "
                    f"{'no role' if inv.role == Role.NONE else inv.role.name.lower()}")
            for arg in command.args:
                if arg.required and args.get(arg.name) in (None, ""):
                    raise CommandError(f"missing {arg.name} ({arg.help}); usage: {command.usage}")
            result = await self._handlers[name](inv, args)
        except CommandError as exc:
            await self._audit(inv, name, args, False, exc.message)
            raise
        except Exception as exc:  # an engine bug must not take a transport down
            log.exception("command /%s failed", name)
            await self._audit(inv, name, args, False, f"internal error: {type(exc).__name__}")
            raise CommandError(f"/{name} failed inside the engine ({type(exc).__name__}); "
                               "nothing was changed by this command; the error is logged") from exc
        await self._audit(inv, name, args, True, type(result).__name__)
        return result

    async def execute_text(self, inv: Invocation, line: str) -> r.Result:
        """A typed line (console): a line that does not parse is refused and audited too."""
        try:
            name, args = parse_line(line)
        except CommandError as exc:
            word = line.strip().split()[0].lstrip("/").lower() if line.strip() else ""
            await self._audit(inv, word[:32] or "?", {"line": line.strip()[:200]}, False,
                              exc.message)
            raise
        return await self.execute(inv, name, args)

    async def preview_order(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> r.OrderPreview:
        """Validate a manual order as /buy or /sell would, without sending: for a confirmation.

        Audited as `<side>?`, so the log shows both the request and, later, the confirmed order.
        """
        name = f"{side}?"
        try:
            command = BY_NAME[side]
            if inv.role < command.role:
                raise CommandError(f"/{side} needs the trader role; you have "
                                   f"{'no role' if inv.role == Role.NONE else inv.role.name.lower()}")
            intent = await self.order_intent(inv, side, args)
            problem = self.engine.orders.precheck(intent)
            if problem is not None:
                raise CommandError(problem.message)
        except CommandError as exc:
            await self._audit(inv, name, args, False, exc.message)
            raise
        inst = self.engine.instruments[intent.symbol]
        last = self.engine.feed.last.get(intent.symbol)
        unit = intent.price or last or inst.prev_close
        await self._audit(inv, name, args, True, "confirmation asked")
        return r.OrderPreview(intent.symbol, inst.name, side, intent.qty, intent.price,
                              unit * intent.qty, last)

    async def _audit(self, inv: Invocation, name: str, args: Mapping[str, Any], ok: bool,
                     result: str) -> None:
        shown = " ".join(f"{k}={v}" for k, v in args.items())
        await self.engine.journal.audit(AuditRecord(self.engine.clock.time_ns(), inv.actor, inv.transport,
                                                    name, shown, ok, result))

    # ---- helpers -------------------------------------------------------------------------

    async def _symbol(self, args: Mapping[str, Any]) -> str:
        code = parsing.symbol_code(args["symbol"])
        try:
            await self.engine.ensure_instrument(code)
        except BrokerError as exc:
            if exc.code == "broker_unavailable":
                raise CommandError(exc.message) from None
            sample = ", ".join(list(self.engine.instruments)[:5])
            hint = f"; try one of {sample}, …" if sample else ""
            raise CommandError(f"{code} is not traded here ({exc.message}){hint}") from None
        return code

    def _row(self, o: OrderRecord) -> r.OrderRow:
        inst = self.engine.instruments.get(o.symbol)
        return r.OrderRow(o.broker_order_id or o.client_order_id, o.client_order_id, o.symbol,
                          inst.name if inst else o.symbol, o.side, o.type, o.qty, o.price,
                          o.filled_qty, o.status, o.origin, o.message)

    async def order_intent(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> OrderIntent:
        """Validate a manual order; also used to re-validate at confirmation time."""
        symbol = await self._symbol(args)
        qty = parsing.quantity(args["qty"])
        raw_price = args.get("price")
        price = None
        if raw_price not in (None, ""):
            price = parsing.price(raw_price, self.engine.instruments[symbol])
        return OrderIntent(symbol, side, qty, price, f"manual:{inv.actor}",
                           f"/{side} by {inv.actor}", f"manual:{inv.invocation_id}", is_auto=False)

    # ---- commands ------------------------------------------------------------------------

    async def subscribe(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        symbol = await self._symbol(args)
        strategy = str(args.get("strategy") or self.engine.config.defaults.strategy).lower()
        if strategy not in STRATEGIES:
            raise CommandError(f"unknown strategy '{strategy}'; valid: {', '.join(STRATEGIES)}")
        qty = parsing.quantity(args["qty"]) if args.get("qty") not in (None, "") else None
        params = parsing.strategy_params(args.get("params") or {})
        try:
            res = await self.engine.subscriptions.subscribe(symbol, strategy, qty, params)
        except SubscriptionError as exc:
            raise CommandError(str(exc)) from None
        rec = res.record
        return r.Subscribed(symbol, self.engine.instruments[symbol].name, rec.strategy,
                            dict(rec.params), rec.qty, res.created)

    async def cancel(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        symbol = await self._symbol(args)
        try:
            await self.engine.subscriptions.cancel(symbol, reason=f"cancelled by {inv.actor}")
        except SubscriptionError as exc:
            raise CommandError(str(exc)) from None
        return r.Cancelled(symbol, self.engine.instruments[symbol].name)

    async def subscriptions(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        subs = self.engine.subscriptions
        rows = [
            r.SubscriptionRow(s, self.engine.instruments[s].name, rec.strategy, rec.qty,
                              rec.source, self.engine.feed.last.get(s),
                              self.engine.portfolio.qty(s))
            for s, rec in sorted(subs.records.items())
        ]
        return r.SubscriptionList(rows, self.engine.broker.max_subscriptions)

    async def auto(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        enable = parsing.on_off(args["mode"])
        auto = self.engine.auto
        try:
            if enable:
                condition = str(args.get("condition") or self.engine.config.defaults.condition)
                await auto.enable(condition)
            else:
                await auto.disable()
        except AutoModeError as exc:
            raise CommandError(str(exc)) from None
        try:
            conditions = await self.engine.broker.conditions()
        except BrokerError:
            conditions = {}  # the broker is away: the change above still stands
        return r.AutoState(auto.enabled, auto.condition, conditions)

    async def _order(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> r.Result:
        intent = await self.order_intent(inv, side, args)
        result = await self.engine.orders.submit(intent)
        if result.rejection is not None:
            raise CommandError(result.rejection.message)
        assert result.order is not None
        if result.order.status in ("rejected", "not_sent"):
            raise CommandError(f"the broker rejected the order: {result.order.message}")
        return r.OrderPlaced(self._row(result.order), result.duplicate)

    async def buy(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return await self._order(inv, "buy", args)

    async def sell(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return await self._order(inv, "sell", args)

    async def orders(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return r.OrderList([self._row(o) for o in self.engine.orders.live_orders()])

    async def cancelorder(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        try:
            rec = await self.engine.orders.cancel(str(args["order_id"]).strip(),
                                                  reason=f"cancelled by {inv.actor}")
        except OrderError as exc:
            raise CommandError(str(exc)) from None
        return r.OrderCancelled(self._row(rec))

    async def positions(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        p = self.engine.portfolio
        rows = [
            r.PositionRow(s, self.engine.instruments[s].name if s in self.engine.instruments else s,
                          pos.qty, pos.avg_price, p.last_price(s), p.position_value(s),
                          p.unrealized(s))
            for s, pos in sorted(p.positions.items())
        ]
        return r.PositionList(rows, p.cash, p.equity())

    async def pnl(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        p = self.engine.portfolio
        d = p.day_stats(self.engine.clock.today())
        return r.Pnl(d.realized_gross, d.commission, d.tax, d.realized_net, p.total_unrealized(),
                     d.trades, p.equity(), p.initial_cash)

    async def status(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return r.Status(self.engine.status())

    async def halt(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        reason = str(args.get("reason") or "manual halt")
        outcome = await self.engine.halt(inv.actor, reason)
        return r.HaltState(True, reason, outcome.cancelled, outcome.pending, outcome.describe())

    async def resume(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        if not self.engine.controls.halted:
            raise CommandError("trading is not halted: nothing to resume")
        await self.engine.resume(inv.actor)
        return r.HaltState(False, "")

    async def settings(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        cfg = self.engine.config
        risk = cfg.risk
        return r.Settings({
            "mode": "paper" if self.engine.broker.paper else "LIVE",
            "broker": self.engine.broker.name,
            "max order value": f"{risk.max_order_value:,} KRW",
            "max position value": f"{risk.max_position_value:,} KRW",
            "max open positions": str(risk.max_open_positions),
            "daily loss limit": f"{risk.daily_loss_limit:,} KRW",
            "order budget": f"{cfg.defaults.order_budget:,} KRW",
            "default strategy": cfg.defaults.strategy,
            "auto condition": cfg.defaults.condition,
            "max subscriptions": str(self.engine.broker.max_subscriptions),
        })

    async def market(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        day = parse_day(args.get("date"), self.engine.clock.today())
        plan = self.schedule.plan_for(day) if self.schedule else None
        market = self.calendar.day(day)
        session = plan.session if plan else market.session
        return r.MarketInfo(day, session is not None, session.open if session else None,
                            session.close if session else None,
                            session.note if session else market.reason)

    async def schedule_list(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        if self.schedule is None:
            return r.ScheduleList("always open (TRADING_HOURS=always): nothing scheduled", [])
        return r.ScheduleList(self.schedule.settings.trading_hours, self.schedule.next_jobs())

    async def report(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        report = await self.engine.daily_report(parse_day(args.get("date"), self.engine.clock.today()))
        path = await self.engine.report_chart(report)
        return r.ReportResult(report, str(path))

    async def chart(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        symbol = await self._symbol(args)
        raw = args.get("interval")
        try:
            minutes = int(str(raw)) if raw not in (None, "") else 1
        except ValueError:
            minutes = 0
        if minutes not in CHART_INTERVALS:
            raise CommandError(f"interval must be one of {', '.join(map(str, CHART_INTERVALS))} "
                               f"minutes; got '{raw}'")
        path, bars = await self.engine.symbol_chart(symbol, minutes * 60)
        return r.ChartResult(symbol, self.engine.instruments[symbol].name, minutes, bars, str(path))

    async def help(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return r.Help([r.HelpRow(c.usage, c.summary, inv.role >= c.role) for c in COMMANDS])
