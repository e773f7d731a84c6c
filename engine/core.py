"""The Engine: wires broker, feed, subscriptions, orders, risk, portfolio and journal together,
restores state at start, and stops in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aiohttp

from engine import heartbeat
from engine.auto import AutoMode, AutoModeError
from engine.backoff import DELAYS, Backoff
from engine.brokers.base import Broker, BrokerError, ConditionChange, OrderUpdate, unreachable
from engine.charts import ChartWorker, Marker, resample
from engine.charts.bars import BarSeries
from engine.clock import Clock
from engine.config import EngineConfig
from engine.events import (
    AlertEvent,
    AlertKind,
    AlertLevel,
    ConnectionChanged,
    EventBus,
)
from engine.feed import MarketFeed
from engine.files import private_dir, write_private_bytes
from engine.instruments import Instrument
from engine.journal import Journal
from engine.killswitch import HaltOutcome, KillSwitch
from engine.marketdata import Tick
from engine.orders import OrderManager
from engine.portfolio import Portfolio
from engine.reconcile import reconcile
from engine.report import DailyReport, build_report, day_bounds
from engine.risk import CONNECTING, READY, TradingControls, broker_problem
from engine.subscriptions import Subscriptions
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# What a failed connection attempt can raise: the broker's own refusals, and the network's.
CONNECT_ERRORS = (BrokerError, OSError, TimeoutError, aiohttp.ClientError)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    broker: str
    paper: bool
    connected: bool
    broker_ready: bool  # reconciled with the broker: orders may go out
    broker_state: str  # "ready", or why orders are refused (connecting, unreachable, ...)
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


def describe_broker_failure(broker: Broker, exc: BaseException) -> str:
    """Why the broker could not be used, in words a user can act on (never a secret)."""
    where = f" at {broker.endpoint}" if broker.endpoint else ""
    if isinstance(exc, BrokerError):
        if exc.code == "credentials":
            return exc.message
        if exc.code == "unreachable":
            return f"broker unreachable{where}: {exc.cause}"
        return f"the {broker.name} broker{where} refused or failed: {exc.message}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"the {broker.name} broker{where} answered HTTP {exc.status}"
    if isinstance(exc, TimeoutError):
        return f"the {broker.name} broker{where} did not answer in time"
    return f"broker unreachable{where}: {unreachable(broker.name, exc).cause}"


class Engine:
    def __init__(
        self, config: EngineConfig, broker: Broker | None = None, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.clock = clock or config.make_clock()
        self.bus = EventBus(self.clock)
        self.controls = TradingControls(broker_ready=False, broker_state=CONNECTING)
        self.feed = MarketFeed()
        self.journal = Journal(config.data_dir / "journal.db", config.journal_sync, self.clock)
        self._broker = broker
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
        self.connect_backoff: Sequence[float] = DELAYS
        self._broker_started = False
        self._connecting = False  # inside a start-up attempt: its own reconcile follows
        self._last_failure = ""
        self._connect_attempts = 0
        self._connected_once = asyncio.Event()
        self._killswitch: KillSwitch | None = None

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
        return self.config.adapter.create(self.config.broker_context(self.clock))

    async def start(self) -> None:
        """Everything that needs only the journal comes up at once, so commands, the console
        and Discord work even while the broker does not answer; the broker part follows, now
        or, when the broker is down, in the background with backoff. Until it is done every
        order is refused with the reason."""
        self.started_ns = self.clock.time_ns()
        private_dir(self.config.data_dir)
        await self.journal.open()
        if self._broker is None:
            self._broker = await self._make_broker()

        initial_cash = await self.journal.get_state("initial_cash")
        self._portfolio = Portfolio(initial_cash or 0, self.config.costs)
        self.portfolio.last = self.feed.last
        fills = await self.journal.fills()
        for f in fills:  # positions are the sum of journaled fills
            self.portfolio.apply_fill(f.symbol, f.side, f.qty, f.price, f.commission, f.tax, f.ts_ns)

        halt = await self.journal.get_state("halt", {"halted": False, "reason": ""})
        self.controls.halted, self.controls.halt_reason = halt["halted"], halt["reason"]
        self.controls.halted_ns = int(halt.get("since_ns", 0))

        self._orders = OrderManager(
            self.broker,
            self.journal,
            self.portfolio,
            self.instruments,
            self.config.risk,
            self.controls,
            self.bus,
            self.clock,
        )
        self.orders.load(await self.journal.orders(), {f.fill_id for f in fills})
        self._subs = Subscriptions(
            self.broker,
            self.feed,
            self.journal,
            self.orders,
            self.portfolio,
            self.instruments,
            self.bus,
            self.controls,
            self.config.defaults.order_budget,
            self.bars,
            self.clock,
        )
        self._auto = AutoMode(
            self.broker,
            self.subscriptions,
            self.portfolio,
            self.journal,
            self.bus,
            self.config.defaults.strategy,
            self.config.defaults.params,
            self.clock,
            self.config.defaults.leave_grace,
            self.ensure_instrument,
        )
        self._killswitch = KillSwitch(
            self.orders, self.controls, self.journal, self.bus, self.clock, self._tasks
        )
        self._tasks.spawn(self.orders.run_updates(), "order-updates")
        self._tasks.spawn(self.auto.run(), "auto-mode")
        self._tasks.spawn(self._heartbeat(), "heartbeat")
        self._tasks.spawn(self._journal_alerts(), "alerts")
        if not await self._connect():
            self._tasks.spawn(self._connect_until_ready(), "connect")
        self._tasks.spawn(self._sample_equity(), "equity")

    async def _connect_until_ready(self) -> None:
        backoff = Backoff(self.connect_backoff)
        while True:
            await backoff.wait()
            if await self._connect():
                return

    async def _connect(self) -> bool:
        """One attempt at the broker part of start-up; False (said to the user) when the broker
        does not answer, so the caller tries again later."""
        self._connect_attempts += 1
        self._connecting = True
        try:
            await self._connect_once()
        except CONNECT_ERRORS as exc:
            detail = describe_broker_failure(self.broker, exc)
            first = self._last_failure != detail
            self._last_failure = detail
            self.controls.broker_state = detail
            if self._broker_started:
                self._broker_started = False
                with contextlib.suppress(*CONNECT_ERRORS):
                    await self.broker.stop()
            if first:  # one alert per distinct cause, not one per retry
                self.bus.publish(
                    AlertEvent(
                        AlertLevel.ERROR,
                        AlertKind.DISCONNECT,
                        "Broker not available",
                        f"{detail}. Trading is paused (every order is refused) and Tradecord keeps "
                        "trying; it reconciles with the broker as soon as it answers.",
                    )
                )
            return False
        finally:
            self._connecting = False
        return True

    async def _connect_once(self) -> None:
        self.controls.broker_state = CONNECTING
        if not self._broker_started:
            self._broker_started = True
            await self.broker.start(self)
        self.instruments.update(await self.broker.instruments())
        if await self.journal.get_state("initial_cash") is None:
            cash = (await self.broker.account()).cash
            await self.journal.set_state("initial_cash", cash)
            self.portfolio.set_initial_cash(cash)
        for code in {r.symbol for r in self.orders.orders.values() if r.live} | set(self.portfolio.positions):
            try:
                await self.ensure_instrument(code)
            except BrokerError as exc:
                log.warning("instrument %s unavailable: %s", code, exc.message)
        notes = await reconcile(self.orders)
        notes += await self._check_positions()
        saved = await self.journal.subscriptions()
        for sub in saved:
            try:
                await self.ensure_instrument(sub.symbol)
            except BrokerError as exc:
                log.warning("instrument %s unavailable: %s", sub.symbol, exc.message)
        self.controls.broker_ready, self.controls.broker_state = True, READY
        self._connected_once.set()
        notes += await self.subscriptions.restore(saved)
        notes += await self.auto.restore()
        if self.auto.refusal() is None:
            with contextlib.suppress(AutoModeError):  # only for autocomplete: /conditions says
                await self.auto.available()
        if notes:
            self.bus.publish(
                AlertEvent(
                    AlertLevel.WARNING, AlertKind.RECONCILE, "Reconciled at start-up", "\n".join(notes)
                )
            )
        if self.controls.halted:
            self.enforce_halt()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until the broker part of start-up has run (tests, the demo)."""
        async with asyncio.timeout(timeout):
            await self._connected_once.wait()

    async def ensure_instrument(self, code: str) -> Instrument:
        """The symbol's figures, asking the broker the first time (KIS has no full listing)."""
        inst = self.instruments.get(code)
        if inst is None:
            unavailable = broker_problem(self.controls)
            if not self._broker_started and unavailable is not None:
                raise BrokerError(unavailable.code, unavailable.message)
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
        if self._auto is not None:
            await self.auto.stop()
        if self._subs is not None:
            await self.subscriptions.shutdown()
        if self._orders is not None:
            await self.orders.drain()
        await self._tasks.close()
        if self._charts is not None:
            await self._charts.close()
        if self._broker is not None:
            await self.broker.stop()
        await self.journal.close()

    async def _heartbeat(self) -> None:
        # For the container health check: a fresh file means the loop is alive and not blocked.
        by = heartbeat.writer(os.getpid())
        while True:
            # The machine's time, not the engine's clock: liveness must not depend on where a
            # test or demo has set the trading clock (CLOCK_START).
            await asyncio.to_thread(heartbeat.beat, self.config.data_dir, Clock().time(), by)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _sample_equity(self) -> None:
        while True:
            # Before the broker first answers, the starting cash may be unknown: no sample.
            if self._connected_once.is_set():
                await self.journal.add_equity(self.clock.time_ns(), self.portfolio.equity())
            await asyncio.sleep(self.equity_interval)

    async def _journal_alerts(self) -> None:
        # The daily report lists the day's alerts and halts: they are kept, not just shown.
        while True:
            event = await self._alerts_queue.get()
            if isinstance(event, AlertEvent):
                await self.journal.add_alert(
                    event.ts_ns, event.level.value, event.kind.value, event.title, event.message
                )

    # ---- reports and charts --------------------------------------------------------------

    async def daily_report(self, day: date) -> DailyReport:
        start, end = day_bounds(day)
        alerts = await self.journal.alerts_between(start, end)
        return build_report(
            day,
            await self.journal.fills(),
            self.portfolio.initial_cash,
            self.config.costs,
            dict(self.feed.last),
            await self.journal.equity_between(start, end),
            [
                f"{title}: {message}"
                for _, level, kind, title, message in alerts
                if level != "info" and kind != AlertKind.HALT.value
            ],
            [message for _, _, kind, _, message in alerts if kind == AlertKind.HALT.value],
        )

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
        png = await worker.render_equity_curve(report.equity_points, f"Equity {report.day.isoformat()}")
        return await self._save_png(f"report-{report.day.isoformat()}.png", png)

    async def symbol_chart(self, symbol: str, interval_s: int) -> tuple[Path, int]:
        series = self.bars.get(symbol)
        bars = resample(series.bars(), interval_s) if series else []
        markers = [Marker(o.ts_ns, o.price, o.side) for o in await self.journal.fills() if o.symbol == symbol]
        name = self.instruments[symbol].name if symbol in self.instruments else symbol
        worker = await self._chart_worker()
        png = await worker.render_candles(bars, markers, f"{symbol} {name} {interval_s // 60}m")
        name = f"chart-{symbol}-{self.clock.time_ns() // 1_000_000}.png"
        return await self._save_png(name, png), len(bars)

    async def _save_png(self, name: str, png: bytes) -> Path:
        path = self.config.data_dir / "charts" / name
        await asyncio.to_thread(private_dir, path.parent)
        await asyncio.to_thread(write_private_bytes, path, png)
        return path

    def _task_crashed(self, name: str, exc: BaseException) -> None:
        self.errors += 1
        self.bus.publish(
            AlertEvent(
                AlertLevel.ERROR,
                AlertKind.ERROR,
                "Engine task crashed",
                f"{name}: {type(exc).__name__}: {exc}",
            )
        )

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
            if self._connects > 1 and not self._connecting:
                # Fills that happened while the socket was down never reach the stream, and
                # orders stay refused until the books agree again.
                self._tasks.spawn(self._reconcile_after_reconnect(), "reconcile")
        else:
            if self.controls.broker_ready:
                self.controls.broker_ready = False
                self.controls.broker_state = f"broker disconnected ({detail}); reconnecting"
            self.bus.publish(
                AlertEvent(
                    AlertLevel.WARNING, AlertKind.DISCONNECT, "Broker disconnected", f"{detail}; reconnecting"
                )
            )

    async def _reconcile_after_reconnect(self) -> None:
        backoff = Backoff(self.connect_backoff)
        while True:
            try:
                notes = await reconcile(self.orders)
                break
            except CONNECT_ERRORS as exc:
                self.controls.broker_state = describe_broker_failure(self.broker, exc)
                await backoff.wait()
        if self.broker.connected:
            self.controls.broker_ready, self.controls.broker_state = True, READY
        if notes:
            self.bus.publish(
                AlertEvent(
                    AlertLevel.WARNING, AlertKind.RECONCILE, "Reconciled after reconnect", "\n".join(notes)
                )
            )
        if self.controls.halted:
            self.enforce_halt()

    # ---- controls ------------------------------------------------------------------------

    @property
    def killswitch(self) -> KillSwitch:
        assert self._killswitch is not None, "engine not started"
        return self._killswitch

    async def halt(self, actor: str, reason: str) -> HaltOutcome:
        """Kill switch: persisted first, then every open order cancelled or kept being
        cancelled until the broker confirms (see engine.killswitch)."""
        return await self.killswitch.engage(actor, reason)

    def enforce_halt(self) -> None:
        self.killswitch.enforce()

    async def resume(self, actor: str) -> None:
        await self.killswitch.release(actor)

    async def before_close(self) -> int:
        """Stop new entries and flatten what must not be held overnight."""
        self.controls.entries_open = False
        return await self.subscriptions.signal_all("before_close")

    def status(self) -> EngineStatus:
        p = self.portfolio
        return EngineStatus(
            broker=self.broker.name,
            paper=self.broker.paper,
            connected=self.broker.connected,
            broker_ready=self.controls.broker_ready,
            broker_state=self.controls.broker_state,
            halted=self.controls.halted,
            halt_reason=self.controls.halt_reason,
            loss_blocked=self.controls.loss_blocked,
            auto_enabled=self.auto.enabled,
            auto_condition=self.auto.condition,
            subscriptions=len(self.subscriptions),
            max_subscriptions=self.broker.max_subscriptions,
            open_orders=len(self.orders.live_orders()),
            positions=len(p.positions),
            cash=p.cash,
            available_cash=p.available_cash(),
            equity=p.equity(),
            realized_today=p.realized_on(self.clock.today()),
            unrealized=p.total_unrealized(),
            ticks=self.feed.ticks,
            started_ns=self.started_ns,
        )
