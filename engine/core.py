"""The Engine: wires broker, feed, subscriptions, orders, risk, portfolio and journal together,
restores state at start, and stops in order."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from engine.auto import AutoMode
from engine.brokers.base import Broker, BrokerError, ConditionChange, OrderUpdate
from engine.brokers.sim import SimBroker
from engine.charts import ChartWorker, Marker, resample
from engine.charts.bars import BarSeries
from engine.config import EngineConfig
from engine.events import (
    AlertEvent,
    AlertKind,
    AlertLevel,
    ConnectionChanged,
    EventBus,
    HaltChanged,
)
from engine.feed import MarketFeed
from engine.instruments import Instrument
from engine.journal import Journal
from engine.marketdata import Tick
from engine.orders import OrderManager
from engine.portfolio import Portfolio
from engine.report import DailyReport, build_report, day_bounds
from engine.risk import TradingControls
from engine.sim.config import SimConfig
from engine.sim.server import SimExchange
from engine.strategies.registry import strategy_class
from engine.subscriptions import Subscriptions
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class EngineStatus:
    broker: str
    paper: bool
    connected: bool
    halted: bool
    halt_reason: str
    loss_blocked: bool
    auto_enabled: bool
    auto_condition: str | None
    subscriptions: int
    max_subscriptions: int | None
    open_orders: int
    positions: int
    cash: int
    available_cash: int
    equity: int
    realized_today: int
    unrealized: int
    ticks: int
    started_ns: int


class Engine:
    def __init__(self, config: EngineConfig, broker: Broker | None = None) -> None:
        self.config = config
        self.bus = EventBus()
        self.controls = TradingControls()
        self.feed = MarketFeed()
        self.journal = Journal(config.data_dir / "journal.db", config.journal_sync)
        self._broker = broker
        self.sim: SimExchange | None = None
        self.instruments: dict[str, Instrument] = {}
        self._tasks = TaskGroup("engine", on_error=self._task_crashed)
        self._connects = 0
        self.started_ns = 0
        self.errors = 0
        self._portfolio: Portfolio | None = None
        self._orders: OrderManager | None = None
        self._subs: Subscriptions | None = None
        self._auto: AutoMode | None = None
        self.bars: dict[str, BarSeries] = {}
        self._charts: ChartWorker | None = None
        self.equity_interval = config.equity_sample_seconds
        self._alerts_queue = self.bus.subscribe()

    # Components exist only after start(); properties keep the types non-optional for callers.
    @property
    def broker(self) -> Broker:
        assert self._broker is not None, "engine not started"
        return self._broker

    @property
    def portfolio(self) -> Portfolio:
        assert self._portfolio is not None, "engine not started"
        return self._portfolio

    @property
    def orders(self) -> OrderManager:
        assert self._orders is not None, "engine not started"
        return self._orders

    @property
    def subscriptions(self) -> Subscriptions:
        assert self._subs is not None, "engine not started"
        return self._subs

    @property
    def auto(self) -> AutoMode:
        assert self._auto is not None, "engine not started"
        return self._auto

    # ---- lifecycle -----------------------------------------------------------------------

    async def _make_broker(self) -> Broker:
        if self.config.kis is not None:
            from engine.brokers.kis.client import KisBroker

            return KisBroker(self.config.kis, self.config.data_dir, self.config.sim.commission_rate)
        sim = self.config.sim
        url = sim.url
        if url is None:
            self.sim = SimExchange(SimConfig(
                seed=sim.seed, tick_rate=sim.tick_rate, speed=sim.speed, initial_cash=sim.cash,
                commission_rate=sim.commission_rate,
                state_path=self.config.data_dir / "sim_exchange.db",
            ))
            await self.sim.start()
            url = self.sim.url
        return SimBroker(url, max_subscriptions=sim.max_subscriptions)

    async def start(self) -> None:
        # Fail fast on a bad DEFAULT_STRATEGY or STRATEGY_PARAMS, before anything starts.
        strategy_class(self.config.defaults.strategy).resolve_params(self.config.defaults.params)
        self.started_ns = time.time_ns()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        await self.journal.open()
        if self._broker is None:
            self._broker = await self._make_broker()
        await self.broker.start(self)
        self.instruments = await self.broker.instruments()

        initial_cash = await self.journal.get_state("initial_cash")
        if initial_cash is None:
            initial_cash = (await self.broker.account()).cash
            await self.journal.set_state("initial_cash", initial_cash)
        self._portfolio = Portfolio(initial_cash, self.config.sim.commission_rate)
        self.portfolio.last = self.feed.last
        fills = await self.journal.fills()
        for f in fills:  # positions are the sum of journaled fills
            self.portfolio.apply_fill(f.symbol, f.side, f.qty, f.price, f.commission, f.tax, f.ts_ns)

        halt = await self.journal.get_state("halt", {"halted": False, "reason": ""})
        self.controls.halted, self.controls.halt_reason = halt["halted"], halt["reason"]

        self._orders = OrderManager(self.broker, self.journal, self.portfolio, self.instruments,
                                    self.config.risk, self.controls, self.bus)
        records = await self.journal.orders()
        for code in {r.symbol for r in records if r.live} | {f.symbol for f in fills}:
            try:
                await self.ensure_instrument(code)
            except BrokerError as exc:
                log.warning("instrument %s unavailable: %s", code, exc.message)
        self.orders.load(records, {f.fill_id for f in fills})
        self._tasks.spawn(self.orders.run_updates(), "order-updates")
        notes = await self.orders.reconcile()
        notes += await self._check_positions()

        self._subs = Subscriptions(self.broker, self.feed, self.journal, self.orders,
                                   self.portfolio, self.instruments, self.bus, self.controls,
                                   self.config.defaults.order_budget, self.bars)
        saved = await self.journal.subscriptions()
        for sub in saved:
            try:
                await self.ensure_instrument(sub.symbol)
            except BrokerError as exc:
                log.warning("instrument %s unavailable: %s", sub.symbol, exc.message)
        notes += await self.subscriptions.restore(saved)

        self._auto = AutoMode(self.broker, self.subscriptions, self.portfolio, self.journal,
                              self.bus, self.config.defaults.strategy,
                              self.config.defaults.params)
        self._tasks.spawn(self.auto.run(), "auto-mode")
        auto = await self.journal.get_state("auto", {"enabled": False, "condition": None})
        if auto["enabled"] and auto["condition"]:
            await self.auto.enable(auto["condition"], persist=False)
        if notes:
            self.bus.publish(AlertEvent(AlertLevel.WARNING, AlertKind.RECONCILE,
                                        "Reconciled at start-up", "\n".join(notes)))
        self._tasks.spawn(self._heartbeat(), "heartbeat")
        self._tasks.spawn(self._sample_equity(), "equity")
        self._tasks.spawn(self._journal_alerts(), "alerts")

    async def ensure_instrument(self, code: str) -> Instrument:
        """The symbol's figures, asking the broker the first time (KIS has no full listing)."""
        inst = self.instruments.get(code)
        if inst is None:
            inst = await self.broker.instrument(code)
            self.instruments[code] = inst
        return inst

    async def _check_positions(self) -> list[str]:
        """Compare journal-derived positions with the broker's; differences are reported, never
        silently overwritten (the journal is the record of what Tradecord did)."""
        account = await self.broker.account()
        ours = {s: p.qty for s, p in self.portfolio.positions.items()}
        notes = []
        for symbol in sorted(set(ours) | set(account.positions)):
            mine, theirs = ours.get(symbol, 0), account.positions.get(symbol, 0)
            if mine != theirs:
                notes.append(f"{symbol}: journal holds {mine:,}, broker holds {theirs:,}")
        return notes

    async def stop(self) -> None:
        """Strategies first (no new signals), then drain account updates, then the broker."""
        if self._subs is not None:
            await self.subscriptions.shutdown()
        if self._orders is not None:
            await self.orders.drain()
        await self._tasks.close()
        if self._charts is not None:
            await self._charts.close()
        if self._broker is not None:
            await self.broker.stop()
        if self.sim is not None:
            await self.sim.stop()
        await self.journal.close()

    async def _heartbeat(self) -> None:
        # For the container health check: a fresh file means the loop is alive and not blocked.
        path: Path = self.config.data_dir / "heartbeat"
        while True:
            await asyncio.to_thread(path.write_text, str(time.time()))
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _sample_equity(self) -> None:
        while True:
            await self.journal.add_equity(time.time_ns(), self.portfolio.equity())
            await asyncio.sleep(self.equity_interval)

    async def _journal_alerts(self) -> None:
        # The daily report lists the day's alerts and halts: they are kept, not just shown.
        while True:
            event = await self._alerts_queue.get()
            if isinstance(event, AlertEvent):
                await self.journal.add_alert(event.ts_ns, event.level.value, event.kind.value,
                                             event.title, event.message)

    # ---- reports and charts --------------------------------------------------------------

    async def daily_report(self, day: date) -> DailyReport:
        start, end = day_bounds(day)
        alerts = await self.journal.alerts_between(start, end)
        return build_report(
            day, await self.journal.fills(), self.portfolio.initial_cash,
            self.config.sim.commission_rate, dict(self.feed.last),
            await self.journal.equity_between(start, end),
            [f"{title}: {message}" for _, level, kind, title, message in alerts
             if level != "info" and kind != AlertKind.HALT.value],
            [message for _, _, kind, _, message in alerts if kind == AlertKind.HALT.value])

    async def _chart_worker(self) -> ChartWorker:
        """Charts render in a child process: on a thread, matplotlib holds the GIL long enough
        to stall the loop 11-30 ms per chart (measured); in a process it stays under 5 ms.
        Started on first use, so an agent that never draws never pays for matplotlib."""
        if self._charts is None:
            self._charts = ChartWorker()
            await self._charts.start()
        return self._charts

    async def report_chart(self, report: DailyReport) -> Path:
        worker = await self._chart_worker()
        png = await worker.render_equity_curve(report.equity_points,
                                               f"Equity {report.day.isoformat()}")
        return await self._save_png(f"report-{report.day.isoformat()}.png", png)

    async def symbol_chart(self, symbol: str, interval_s: int) -> tuple[Path, int]:
        series = self.bars.get(symbol)
        bars = resample(series.bars(), interval_s) if series else []
        markers = [Marker(o.ts_ns, o.price, o.side) for o in await self.journal.fills()
                   if o.symbol == symbol]
        name = self.instruments[symbol].name if symbol in self.instruments else symbol
        worker = await self._chart_worker()
        png = await worker.render_candles(bars, markers, f"{symbol} {name} {interval_s // 60}m")
        return await self._save_png(f"chart-{symbol}-{time.time_ns() // 1_000_000}.png", png), len(bars)

    async def _save_png(self, name: str, png: bytes) -> Path:
        path = self.config.data_dir / "charts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, png)
        return path

    def _task_crashed(self, name: str, exc: BaseException) -> None:
        self.errors += 1
        self.bus.publish(AlertEvent(AlertLevel.ERROR, AlertKind.ERROR, "Engine task crashed",
                                    f"{name}: {type(exc).__name__}: {exc}"))

    # ---- BrokerSink ----------------------------------------------------------------------

    def on_ticks(self, ticks: list[Tick]) -> None:
        self.feed.on_ticks(ticks)

    def on_condition(self, change: ConditionChange) -> None:
        if self._auto is not None:
            self._auto.on_condition(change)

    def on_order_update(self, update: OrderUpdate) -> None:
        if self._orders is not None:
            self._orders.updates.put_nowait(update)

    def on_connection(self, connected: bool, detail: str) -> None:
        self.bus.publish(ConnectionChanged(connected, detail))
        if connected:
            self._connects += 1
            if self._connects > 1 and self._orders is not None:
                # Fills that happened while the socket was down never reach the stream.
                self._tasks.spawn(self._reconcile_after_reconnect(), "reconcile")
        else:
            self.bus.publish(AlertEvent(AlertLevel.WARNING, AlertKind.DISCONNECT,
                                        "Broker disconnected", f"{detail}; reconnecting"))

    async def _reconcile_after_reconnect(self) -> None:
        notes = await self.orders.reconcile()
        if notes:
            self.bus.publish(AlertEvent(AlertLevel.WARNING, AlertKind.RECONCILE,
                                        "Reconciled after reconnect", "\n".join(notes)))

    # ---- controls ------------------------------------------------------------------------

    async def halt(self, actor: str, reason: str) -> int:
        """Kill switch: persists first, so a crash right after cannot forget it."""
        self.controls.halted, self.controls.halt_reason = True, reason
        await self.journal.set_state("halt", {"halted": True, "reason": reason})
        cancelled = await self.orders.cancel_all("halt")
        self.bus.publish(HaltChanged(True, actor, reason))
        self.bus.publish(AlertEvent(AlertLevel.ERROR, AlertKind.HALT, "Trading halted",
                                    f"by {actor}: {reason}. {cancelled} open orders cancelled; "
                                    "no orders until /resume"))
        return cancelled

    async def resume(self, actor: str) -> None:
        self.controls.halted, self.controls.halt_reason = False, ""
        await self.journal.set_state("halt", {"halted": False, "reason": ""})
        self.bus.publish(HaltChanged(False, actor, "resumed"))

    async def before_close(self) -> int:
        """Stop new entries and flatten what must not be held overnight."""
        self.controls.entries_open = False
        return await self.subscriptions.signal_all("before_close")

    def status(self) -> EngineStatus:
        p = self.portfolio
        return EngineStatus(
            broker=self.broker.name, paper=self.broker.paper, connected=self.broker.connected,
            halted=self.controls.halted, halt_reason=self.controls.halt_reason,
            loss_blocked=self.controls.loss_blocked, auto_enabled=self.auto.enabled,
            auto_condition=self.auto.condition, subscriptions=len(self.subscriptions),
            max_subscriptions=self.broker.max_subscriptions,
            open_orders=len(self.orders.live_orders()), positions=len(p.positions), cash=p.cash,
            available_cash=p.available_cash(), equity=p.equity(),
            realized_today=p.today.realized_net, unrealized=p.total_unrealized(),
            ticks=self.feed.ticks, started_ns=self.started_ns,
        )
