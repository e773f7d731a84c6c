"""One implementation of each command, shared by the console and Discord, each declared once on
its handler (`@command`, bot/commands/catalog.py)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any

from bot.commands import parsing
from bot.commands import results as r
from bot.commands.catalog import Choice, Command, Kind, Option, Suggest, command, declared, split_line
from bot.commands.context import CommandError, Invocation, Role
from engine.auto import AutoModeError
from engine.brokers.base import BrokerError
from engine.core import Engine
from engine.journal import AuditRecord, OrderRecord
from engine.krx.calendar import KrxCalendar
from engine.orders import OrderError, OrderIntent
from engine.ordertypes import OrderStatus, Side
from engine.schedule import TradingSchedule
from engine.strategies.registry import STRATEGIES
from engine.subscriptions import SubscriptionError
from engine.text import printable

log = logging.getLogger(__name__)


CHART_INTERVALS = (1, 5, 15, 30, 60)
V, T, A = Role.VIEWER, Role.TRADER, Role.ADMIN
SYMBOL = Option("symbol", "KRX code, e.g. 005930", kind=Kind.SYMBOL, suggest=Suggest.INSTRUMENTS)
QTY = Option("qty", "shares", kind=Kind.NUMBER)
PRICE = Option("price", "limit price in KRW (omit for a market order)", False, Kind.NUMBER)
DAY = Option("date", "YYYY-MM-DD (default today)", False, Kind.DATE)
# Free text a person types (a halt reason) is kept to what a phone screen and an audit row hold.
REASON_MAX = 200
# Confirmation prompts already answered: each is single-use whatever became of its order.
USED_CONFIRMATIONS_KEPT = 10_000


# The dates a calendar and a journal can speak of (KRX's tick grid dates from 2023).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def parse_day(raw: object, today: date) -> date:
    if raw in (None, ""):
        return today
    try:
        day = date.fromisoformat(str(raw).strip())
    except ValueError:
        raise CommandError(f"date must be YYYY-MM-DD, e.g. 2026-11-20; got '{parsing.shown(raw)}'") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise CommandError(f"date must be between {FIRST_DAY} and {LAST_DAY}; got {day}")
    return day


# How a subscription trades, for /subscribe and for what /auto subscribes.
HOW_TO_TRADE = (
    Option(
        "strategy",
        "how to trade it",
        False,
        Kind.CHOICE,
        choices=tuple(Choice(f"{n}: {c.description}", n) for n, c in STRATEGIES.items()),
    ),
    Option("qty", "shares per entry (default: by order budget)", False, Kind.NUMBER),
    Option("params", "strategy parameters, e.g. k=0.4 sl=1.5", False, Kind.PARAMS, max_length=REASON_MAX),
)


class CommandLayer:
    def __init__(self, engine: Engine, schedule: TradingSchedule | None = None) -> None:
        self.engine = engine
        self.schedule = schedule
        s = engine.config.schedule
        self.calendar = schedule.calendar if schedule else KrxCalendar(s.special_sessions, s.extra_holidays)
        self._used_confirmations: OrderedDict[str, None] = OrderedDict()

    def _admit(self, inv: Invocation, name: str, args: Mapping[str, Any]) -> Command:
        """The declaration's checks, for every way in: the command exists, the role may run
        it, required options are there and none is too long."""
        spec = BY_NAME.get(name)
        if spec is None:
            raise CommandError(f"unknown command '/{parsing.shown(name)}'; try /help")
        if inv.role < spec.role:
            raise CommandError(
                f"/{name} needs the {spec.role.name.lower()} role; you have "
                f"{'no role' if inv.role == Role.NONE else inv.role.name.lower()}"
            )
        for option in spec.options:
            given = args.get(option.name)
            if option.required and given in (None, ""):
                raise CommandError(f"missing {option.name} ({option.help}); usage: {spec.usage}")
            if option.max_length is not None and len(str(given or "")) > option.max_length:
                raise CommandError(
                    f"{option.name} must be at most {option.max_length} characters; got {len(str(given)):,}"
                )
        return spec

    async def _audited(
        self, inv: Invocation, name: str, args: Mapping[str, Any], work: Callable[[], Awaitable[r.Result]]
    ) -> r.Result:
        """Run `work` and write exactly one audit row for it, whatever happens: allowed,
        refused, or failed inside the engine (which must not take a transport down)."""
        try:
            result = await work()
        except CommandError as exc:
            await self._audit(inv, name, args, False, exc.message)
            raise
        except Exception as exc:
            log.exception("command /%s failed", name)
            await self._audit(inv, name, args, False, f"internal error: {type(exc).__name__}")
            raise CommandError(
                f"/{parsing.shown(name)} failed inside the engine "
                f"({type(exc).__name__}); nothing was changed by this command; "
                "the error is logged"
            ) from exc
        await self._audit(inv, name, args, True, r.audit_note(result))
        return result

    async def execute(self, inv: Invocation, name: str, args: Mapping[str, Any]) -> r.Result:
        """Check the role and options, run the command, audit it, return the result."""

        async def work() -> r.Result:
            spec = self._admit(inv, name, args)
            result: r.Result = await getattr(self, spec.handler)(inv, args)
            return result

        return await self._audited(inv, name, args, work)

    async def execute_text(self, inv: Invocation, line: str) -> r.Result:
        """A typed line (console): a line that does not parse is refused and audited too."""
        try:
            found, args = split_line(line, BY_NAME)
        except CommandError as exc:
            word = line.strip().split()[0].lstrip("/").lower() if line.strip() else ""
            await self._audit(inv, parsing.shown(word, 32) or "?", {"line": line}, False, exc.message)
            raise
        return await self.execute(inv, found.name, args)

    async def execute_confirmed(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> r.Result:
        """A Confirm click on a manual order prompt: single-use, whatever became of the order
        (sent, rejected or refused), so a second click never makes a second attempt."""
        key = inv.invocation_id
        if key in self._used_confirmations:
            await self._audit(inv, side, args, False, "confirmation already used")
            raise CommandError(
                "this confirmation was already used; nothing was sent again. "
                f"Ask again with /{side} for a new order"
            )
        self._used_confirmations[key] = None
        while len(self._used_confirmations) > USED_CONFIRMATIONS_KEPT:
            self._used_confirmations.popitem(last=False)
        return await self.execute(inv, side, args)

    async def suggest(self, inv: Invocation, name: str, option: str, current: str) -> list[r.Suggestion]:
        """Autocomplete for one option: the command's role check first (a person who may not
        run the command sees nothing), then from memory only (never the broker)."""
        found = BY_NAME.get(name)
        spec = found.option(option) if found else None
        if found is None or spec is None or spec.suggest is None or inv.role < found.role:
            return []
        text = parsing.shown(current, 32).strip()
        engine = self.engine
        out: list[r.Suggestion] = []
        if spec.suggest is Suggest.INSTRUMENTS:
            for code, inst in engine.instruments.items():
                if code.startswith(text.upper()) or text.lower() in inst.name.lower():
                    out.append(r.Suggestion(f"{code} {inst.name}", code))
        elif spec.suggest is Suggest.CONDITIONS:
            auto = engine.auto
            known = {c.id: c for c in auto.known} | {i: w.condition for i, w in auto.watches.items()}
            out = [
                r.Suggestion(f"{printable(c.name)} ({c.id})", c.name)
                for c in known.values()
                if text.casefold() in c.name.casefold() or c.id.startswith(text)
            ]
        elif spec.suggest is Suggest.SUBSCRIBED:
            out = [
                r.Suggestion(f"{s} {engine.instruments[s].name}", s)
                for s in sorted(engine.subscriptions.records)
                if s.startswith(text.upper())
            ]
        else:
            for o in engine.orders.live_orders():
                ident = o.broker_order_id or o.client_order_id
                if ident.startswith(text):
                    out.append(r.Suggestion(f"{ident} {o.side} {o.qty:,} {o.symbol}", ident))
        return out[:25]

    async def preview_order(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> r.OrderPreview:
        """Validate a manual order as /buy or /sell would, without sending: for a confirmation.

        Audited as `<side>?`, so the log shows both the request and, later, the confirmed order.
        """

        async def work() -> r.Result:
            self._admit(inv, side, args)
            intent = await self.order_intent(inv, side, args)
            problem = self.engine.orders.precheck(intent)
            if problem is not None:
                raise CommandError(problem.message)
            inst = self.engine.instruments[intent.symbol]
            last = self.engine.feed.last.get(intent.symbol)
            unit = intent.price or last or inst.prev_close
            return r.OrderPreview(
                intent.symbol, inst.name, side, intent.qty, intent.price, unit * intent.qty, last
            )

        preview = await self._audited(inv, f"{side}?", args, work)
        assert isinstance(preview, r.OrderPreview)
        return preview

    async def _audit(
        self, inv: Invocation, name: str, args: Mapping[str, Any], ok: bool, result: str
    ) -> None:
        # Whatever a person typed is stored cleaned and bounded: the audit is read in terminals.
        shown = " ".join(f"{parsing.shown(k, 32)}={parsing.shown(v, 80)}" for k, v in args.items())
        await self.engine.journal.audit(
            AuditRecord(
                self.engine.clock.time_ns(),
                parsing.shown(inv.actor, 120),
                inv.transport,
                parsing.shown(name, 32),
                shown[:600],
                ok,
                parsing.shown(result, 600),
            )
        )

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
        return r.OrderRow(
            o.broker_order_id or o.client_order_id,
            o.client_order_id,
            o.symbol,
            inst.name if inst else o.symbol,
            o.side,
            o.type,
            o.qty,
            o.price,
            o.filled_qty,
            o.status,
            o.origin,
            o.message,
        )

    async def order_intent(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> OrderIntent:
        """Validate a manual order; also used to re-validate at confirmation time."""
        symbol = await self._symbol(args)
        qty = parsing.quantity(args["qty"])
        raw_price = args.get("price")
        price = None
        if raw_price not in (None, ""):
            price = parsing.price(raw_price, self.engine.instruments[symbol])
        return OrderIntent(
            symbol,
            side,
            qty,
            price,
            f"manual:{inv.actor}",
            f"/{side} by {inv.actor}",
            f"manual:{inv.invocation_id}",
            is_auto=False,
        )

    # ---- commands ------------------------------------------------------------------------

    @command("subscribe", "follow a symbol with a strategy", T, SYMBOL, *HOW_TO_TRADE, defer=True)
    async def subscribe(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        symbol = await self._symbol(args)
        strategy = self._strategy(args) or self.engine.config.defaults.strategy
        qty = parsing.quantity(args["qty"]) if args.get("qty") not in (None, "") else None
        params = parsing.strategy_params(args.get("params"))
        try:
            res = await self.engine.subscriptions.subscribe(symbol, strategy, qty, params)
        except SubscriptionError as exc:
            raise CommandError(str(exc)) from None
        rec = res.record
        return r.Subscribed(
            symbol, self.engine.instruments[symbol].name, rec.strategy, dict(rec.params), rec.qty, res.created
        )

    @command(
        "cancel",
        "stop following a symbol",
        T,
        Option("symbol", "a followed symbol", kind=Kind.SYMBOL, suggest=Suggest.SUBSCRIBED),
        defer=True,
    )
    async def cancel(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        symbol = await self._symbol(args)
        try:
            await self.engine.subscriptions.cancel(symbol, reason=f"cancelled by {inv.actor}")
        except SubscriptionError as exc:
            raise CommandError(str(exc)) from None
        return r.Cancelled(symbol, self.engine.instruments[symbol].name)

    @command("subscriptions", "list followed symbols", V)
    async def subscriptions(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        subs = self.engine.subscriptions
        rows = [
            r.SubscriptionRow(
                s,
                self.engine.instruments[s].name,
                rec.strategy,
                rec.qty,
                rec.source,
                self.engine.feed.last.get(s),
                self.engine.portfolio.qty(s),
            )
            for s, rec in sorted(subs.records.items())
        ]
        return r.SubscriptionList(rows, self.engine.broker.max_subscriptions)

    @command("conditions", "list the broker's saved condition searches", V, defer=True)
    async def conditions(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        auto = self.engine.auto
        try:
            found = await auto.available()
        except AutoModeError as exc:
            raise CommandError(str(exc)) from None
        return r.ConditionList(
            [
                r.ConditionRow(
                    c.id, printable(c.name), auto.watches[c.id].strategy if c.id in auto.watches else None
                )
                for c in found
            ],
            self.engine.broker.name,
        )

    @command(
        "auto",
        "auto mode: trade what a saved condition search names",
        T,
        Option(
            "mode",
            "on, off, or status",
            kind=Kind.CHOICE,
            choices=(Choice("on", "on"), Choice("off", "off"), Choice("status", "status")),
        ),
        Option(
            "condition",
            "a saved condition's name or id (on: default from settings; off: all)",
            False,
            max_length=100,
            suggest=Suggest.CONDITIONS,
        ),
        *HOW_TO_TRADE,
        defer=True,
    )
    async def auto(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        mode = str(args["mode"]).strip().lower()
        if mode not in ("on", "off", "status"):
            raise CommandError(f"mode must be on, off or status; got '{parsing.shown(mode)}'")
        auto = self.engine.auto
        raw = args.get("condition")
        wanted = parsing.free_text(raw, 100) if raw not in (None, "") else None
        changed = ""
        try:
            if mode == "on":
                strategy = self._strategy(args)
                qty = parsing.quantity(args["qty"]) if args.get("qty") not in (None, "") else None
                params = parsing.strategy_params(args.get("params")) if args.get("params") else None
                watch = await auto.enable(
                    wanted or self.engine.config.defaults.condition, strategy, qty, params
                )
                changed = f"following {printable(watch.condition.name)} with {watch.strategy}"
            elif mode == "off":
                stopped = await auto.disable(wanted)
                names = ", ".join(printable(w.condition.name) for w in stopped)
                changed = f"stopped following {names}" if names else "nothing was being followed"
        except AutoModeError as exc:
            raise CommandError(str(exc)) from None
        return self._auto_state(changed)

    @staticmethod
    def _strategy(args: Mapping[str, Any]) -> str | None:
        strategy = str(args.get("strategy") or "").strip().lower()
        if strategy and strategy not in STRATEGIES:
            raise CommandError(
                f"unknown strategy '{parsing.shown(strategy)}'; valid: {', '.join(STRATEGIES)}"
            )
        return strategy or None

    def _auto_state(self, changed: str = "") -> r.AutoState:
        auto = self.engine.auto
        return r.AutoState(
            [
                r.WatchRow(w.condition.id, printable(w.condition.name), w.strategy, w.qty, dict(w.params))
                for w in auto.watches.values()
            ],
            auto.paused,
            len(auto.waiting),
            changed,
        )

    async def _order(self, inv: Invocation, side: Side, args: Mapping[str, Any]) -> r.Result:
        intent = await self.order_intent(inv, side, args)
        result = await self.engine.orders.submit(intent)
        if result.rejection is not None:
            raise CommandError(result.rejection.message)
        assert result.order is not None
        if result.order.status in (OrderStatus.REJECTED, OrderStatus.NOT_SENT):
            raise CommandError(f"the broker rejected the order: {result.order.message}")
        return r.OrderPlaced(self._row(result.order), result.duplicate)

    @command("buy", "buy (limit with a price, else market)", T, SYMBOL, QTY, PRICE, defer=True, confirm=True)
    async def buy(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return await self._order(inv, Side.BUY, args)

    @command(
        "sell", "sell (limit with a price, else market)", T, SYMBOL, QTY, PRICE, defer=True, confirm=True
    )
    async def sell(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return await self._order(inv, Side.SELL, args)

    @command("orders", "open orders", V)
    async def orders(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return r.OrderList([self._row(o) for o in self.engine.orders.live_orders()])

    @command(
        "cancelorder",
        "cancel an open order (anyone's: a cancel is a safety action)",
        T,
        Option("order_id", "id from /orders", suggest=Suggest.LIVE_ORDERS, max_length=64),
        defer=True,
    )
    async def cancelorder(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        ident = str(args["order_id"]).strip()
        rec = self.engine.orders.find(ident)
        if rec is None:
            # The engine's own message lists the open orders; echo the id bounded and cleaned.
            ident = parsing.shown(ident, 64)
        # Whose order it was goes with who cancelled it, in the reply, the fills channel and
        # the audit: any trader may cancel any order, so it must be plain who did what.
        owner = r.owner(rec.origin) if rec is not None else ""
        reason = f"cancelled by {inv.actor}" + (f" ({owner}'s order)" if owner else "")
        try:
            rec = await self.engine.orders.cancel(ident, reason=reason)
        except OrderError as exc:
            raise CommandError(str(exc)) from None
        return r.OrderCancelled(self._row(rec), inv.actor, r.owner(rec.origin))

    @command("positions", "positions and their value", V)
    async def positions(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        p = self.engine.portfolio
        rows = [
            r.PositionRow(
                s,
                self.engine.instruments[s].name if s in self.engine.instruments else s,
                pos.qty,
                pos.avg_price,
                p.last_price(s),
                p.position_value(s),
                p.unrealized(s),
            )
            for s, pos in sorted(p.positions.items())
        ]
        return r.PositionList(rows, p.cash, p.equity())

    @command("pnl", "today's profit and loss", V)
    async def pnl(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        p = self.engine.portfolio
        d = p.day_stats(self.engine.clock.today())
        return r.Pnl(
            d.realized_gross,
            d.commission,
            d.tax,
            d.realized_net,
            p.total_unrealized(),
            d.trades,
            p.equity(),
            p.initial_cash,
        )

    @command("status", "engine, broker and risk state", V)
    async def status(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return r.Status(self.engine.status())

    @command(
        "halt",
        "kill switch: cancel open orders, stop trading",
        T,
        # No length limit that refuses: a halt is never turned down over its reason.
        Option("reason", "why (shown in the alert)", False, rest_of_line=True),
        defer=True,
    )
    async def halt(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        reason = parsing.free_text(args.get("reason") or "", REASON_MAX) or "manual halt"
        outcome = await self.engine.halt(inv.actor, reason)
        return r.HaltState(True, reason, outcome.cancelled, outcome.pending, outcome.describe())

    @command("resume", "lift a halt", A, defer=True)
    async def resume(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        if not self.engine.controls.halted:
            raise CommandError("trading is not halted: nothing to resume")
        await self.engine.resume(inv.actor)
        return r.HaltState(False, "")

    @command("settings", "risk limits and configuration", A)
    async def settings(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        cfg = self.engine.config
        risk = cfg.risk
        return r.Settings(
            {
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
            }
        )

    @command("market", "is the market open; session times", V, DAY)
    async def market(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        day = parse_day(args.get("date"), self.engine.clock.today())
        plan = self.schedule.plan_for(day) if self.schedule else None
        market = self.calendar.day(day)
        session = plan.session if plan else market.session
        return r.MarketInfo(
            day,
            session is not None,
            session.open if session else None,
            session.close if session else None,
            session.note if session else market.reason,
        )

    @command("schedule", "the next scheduled jobs", V)
    async def schedule_list(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        if self.schedule is None:
            return r.ScheduleList("always open (TRADING_HOURS=always): nothing scheduled", [])
        return r.ScheduleList(self.schedule.settings.trading_hours, self.schedule.next_jobs())

    @command("report", "daily report with an equity chart", V, DAY, defer=True)
    async def report(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        report = await self.engine.daily_report(parse_day(args.get("date"), self.engine.clock.today()))
        path = await self.engine.report_chart(report)
        return r.ReportResult(report, str(path))

    @command(
        "chart",
        "candles with the bot's trades",
        V,
        SYMBOL,
        Option(
            "interval",
            "bar length in minutes (default 1)",
            False,
            Kind.CHOICE,
            choices=tuple(Choice(f"{m} min", m) for m in CHART_INTERVALS),
        ),
        defer=True,
    )
    async def chart(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        symbol = await self._symbol(args)
        raw = args.get("interval")
        text = str(raw).strip() if raw not in (None, "") else "1"
        minutes = int(text) if text.isascii() and text.isdigit() and len(text) <= 2 else 0
        if minutes not in CHART_INTERVALS:
            raise CommandError(
                f"interval must be one of {', '.join(map(str, CHART_INTERVALS))} "
                f"minutes; got '{parsing.shown(raw)}'"
            )
        path, bars = await self.engine.symbol_chart(symbol, minutes * 60)
        return r.ChartResult(symbol, self.engine.instruments[symbol].name, minutes, bars, str(path))

    @command("help", "list commands", V)
    async def help(self, inv: Invocation, args: Mapping[str, Any]) -> r.Result:
        return r.Help([r.HelpRow(c.usage, c.summary, inv.role >= c.role) for c in COMMANDS])


COMMANDS: tuple[Command, ...] = declared(CommandLayer)
BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
