"""The trading day on the KRX calendar: APScheduler's AsyncIOScheduler in the engine's loop.

Jobs are computed from the calendar each day (a special session moves them), not fixed cron
times. Started mid-session, the engine joins the session in the right state; started after the
close, it does not trade. A day's one-shot jobs (plan, flatten, close and report) are recorded in
the journal when they run, so they never run twice, not even across a restart.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from engine.auto import AutoModeError
from engine.config import ScheduleSettings
from engine.core import Engine
from engine.events import AlertEvent, AlertKind, AlertLevel, ReportEvent
from engine.krx.calendar import SEOUL, KrxCalendar, Session
from engine.reconcile import reconcile
from engine.subscriptions import SubscriptionError

log = logging.getLogger(__name__)

JOBS = ("pre_open", "open", "before_close", "close")
ONE_SHOT = ("pre_open", "before_close", "close")
Now = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class DayPlan:
    session: Session
    times: dict[str, datetime]


class TradingSchedule:
    def __init__(self, engine: Engine, settings: ScheduleSettings, clock: Now | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.calendar = KrxCalendar(settings.special_sessions, settings.extra_holidays)
        # The engine's clock unless a test pins the schedule's own view of "now".
        self.clock = clock or engine.clock.now
        # APScheduler fires by the machine's clock: a shifted engine clock (CLOCK_START) maps
        # each job's time onto it.
        self._timer: Callable[[datetime], datetime] = (
            engine.clock.timer_instant if clock is None else (lambda when: when)
        )
        self.scheduler = AsyncIOScheduler(
            timezone=SEOUL, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
        )
        self.runs: Counter[str] = Counter()
        self._compressed_day: date | None = None
        self._planned: dict[str, datetime] = {}  # job id -> its time on the engine's clock
        self.next_day_delay = timedelta(minutes=1)
        self._started = self.clock()

    # ---- planning ------------------------------------------------------------------------

    def plan_for(self, day: date) -> DayPlan | None:
        s = self.settings
        if s.compressed is not None and day == self._started.date():
            # The whole day shrinks: leads scale to a tenth of the session each.
            open_at = self._started + timedelta(seconds=s.compressed[0])
            close_at = self._started + timedelta(seconds=s.compressed[1])
            lead = (close_at - open_at) / 10
            session = Session(day, open_at, close_at, "compressed session (SESSION_TIMES)")
            return DayPlan(
                session,
                {
                    "pre_open": open_at - min(lead, open_at - self._started),
                    "open": open_at,
                    "before_close": close_at - 2 * lead,
                    "close": close_at,
                },
            )
        market = self.calendar.day(day)
        if market.session is None:
            return None
        session = market.session
        return DayPlan(
            session,
            {
                "pre_open": session.open - timedelta(minutes=s.pre_open_minutes),
                "open": session.open,
                "before_close": session.closing_auction - timedelta(minutes=s.before_close_minutes),
                "close": session.close,
            },
        )

    def _next_open_text(self, after: date) -> str:
        day = after
        for _ in range(30):
            day = self.calendar.next_trading_day(day)
            plan = self.plan_for(day)
            if plan is not None:
                return f"next session {plan.session.open:%a %Y-%m-%d %H:%M} KST"
        return "no session in the next 30 days"

    async def start(self) -> None:
        self.scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
        self.scheduler.start()
        self._arm_next_day()
        await self.join(self.clock().date())

    def _arm_next_day(self) -> None:
        """Plan the next Seoul day a minute after its midnight (on the engine's clock)."""
        tomorrow = self.clock().date() + timedelta(days=1)
        at = datetime.combine(tomorrow, datetime.min.time(), SEOUL) + self.next_day_delay
        self.scheduler.add_job(
            self._plan_next_day,
            DateTrigger(self._timer(at), timezone=SEOUL),
            id="plan-day",
            replace_existing=True,
        )

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def _plan_next_day(self) -> None:
        self._arm_next_day()
        await self.join(self.clock().date())

    async def join(self, day: date) -> None:
        """Schedule the day's jobs still ahead, and catch up with those already due."""
        controls = self.engine.controls
        plan = self.plan_for(day)
        now = self.clock()
        if plan is None:
            controls.session_open = controls.entries_open = False
            reason = self.calendar.day(day).reason
            controls.closed_reason = f"the market is closed today ({reason}); {self._next_open_text(day)}"
            return
        t = plan.times
        due = {name for name in JOBS if t[name] <= now}
        for name in JOBS:
            if name not in due:
                self._planned[f"{day}:{name}"] = t[name]
                self.scheduler.add_job(
                    self._job,
                    DateTrigger(self._timer(t[name]), timezone=SEOUL),
                    args=(name, day),
                    id=f"{day}:{name}",
                    replace_existing=True,
                )
        in_session = "open" in due and "close" not in due
        controls.session_open = in_session
        controls.entries_open = in_session and "before_close" not in due
        if not in_session:
            controls.closed_reason = (
                f"the market opens at {plan.session.open:%H:%M} KST"
                if "open" not in due
                else f"the market closed at {plan.session.close:%H:%M} KST; {self._next_open_text(day)}"
            )
        # Catch up: the plan before an open we are about to join; the flatten if we start in
        # the last minutes; the close (cancel, report) if we start after it. Never trading.
        if "pre_open" in due and "close" not in due:
            await self._job("pre_open", day)
        if in_session:
            await self._job("open", day)
        if "before_close" in due:
            await self._job("before_close", day)
        if "close" in due:
            await self._job("close", day)

    def next_jobs(self) -> list[tuple[str, datetime]]:
        out = []
        for job in self.scheduler.get_jobs():
            if job.next_run_time is None or job.id == "plan-day":
                continue
            out.append((job.id.split(":", 1)[1], self._planned.get(job.id, job.next_run_time)))
        return sorted(out, key=lambda x: x[1])

    # ---- the jobs ------------------------------------------------------------------------

    async def _job(self, name: str, day: date) -> None:
        key = f"job:{day.isoformat()}:{name}"
        if name in ONE_SHOT and await self.engine.journal.get_state(key):
            return
        routines: dict[str, Callable[[date], Awaitable[None]]] = {
            "pre_open": self.pre_open,
            "open": self.open,
            "before_close": self.before_close,
            "close": self.close,
        }
        if name in ONE_SHOT:
            await self.engine.journal.set_state(key, self.clock().isoformat())
        self.runs[name] += 1
        await routines[name](day)

    def _info(self, title: str, message: str) -> None:
        self.engine.bus.publish(AlertEvent(AlertLevel.INFO, AlertKind.INFO, title, message))

    async def pre_open(self, day: date) -> None:
        engine = self.engine
        notes = await reconcile(engine.orders)
        status = engine.status()
        risk = engine.config.risk
        plan = self.plan_for(day)
        session = f"{plan.session.open:%H:%M}-{plan.session.close:%H:%M}" if plan else "?"
        lines = [
            f"{'PAPER' if status.paper else 'LIVE'} on {status.broker}; session {session} KST",
            f"subscriptions: {', '.join(sorted(engine.subscriptions.records)) or 'none'}",
            f"auto mode: {'on at the open' if self.settings.auto_at_open else 'as set'} "
            f"({engine.config.defaults.condition})",
            f"risk: {risk.max_order_value:,}/order, {risk.max_position_value:,}/symbol, "
            f"{risk.max_open_positions} positions, daily loss {risk.daily_loss_limit:,} KRW",
            f"reconciled: {'; '.join(notes) if notes else 'journal and broker agree'}",
        ]
        self._info(f"Plan for {day:%a %m-%d}", "\n".join(lines))

    async def open(self, day: date) -> None:
        controls = self.engine.controls
        controls.session_open = controls.entries_open = True
        controls.closed_reason = ""
        auto = self.engine.auto
        if not await auto.resume() and self.settings.auto_at_open and auto.refusal() is None:
            try:
                await auto.enable(self.engine.config.defaults.condition)
            except AutoModeError as exc:
                self._info("Auto mode not started", f"{exc} (AUTO_AT_OPEN, AUTO_CONDITION)")
        self._info("Market open", f"entries allowed until {self._before_close_text(day)}")

    def _before_close_text(self, day: date) -> str:
        plan = self.plan_for(day)
        return f"{plan.times['before_close']:%H:%M:%S}" if plan else "the close"

    async def before_close(self, day: date) -> None:
        flattened = await self.engine.before_close()
        self._info("No new entries", f"closing soon; {flattened} positions flattened")

    async def close(self, day: date) -> None:
        engine = self.engine
        controls = engine.controls
        controls.session_open = controls.entries_open = False
        controls.closed_reason = f"the market is closed; {self._next_open_text(day)}"
        cancelled = await engine.orders.cancel_all("market close")
        for symbol in list(engine.subscriptions.records):
            with contextlib.suppress(SubscriptionError):  # already gone
                await engine.subscriptions.cancel(symbol, reason="market close")
        await engine.auto.pause()  # followed again at the next open
        report = await engine.daily_report(day)
        path = await engine.report_chart(report)
        engine.bus.publish(ReportEvent(report, str(path)))
        self._info("Market closed", f"{cancelled} open orders cancelled; subscriptions ended")

    def _job_failed(self, event: JobExecutionEvent) -> None:
        self.engine.bus.publish(
            AlertEvent(
                AlertLevel.ERROR,
                AlertKind.ERROR,
                "Scheduled job failed",
                f"{event.job_id}: {type(event.exception).__name__}: {event.exception}",
            )
        )
