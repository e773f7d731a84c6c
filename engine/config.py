"""Engine settings from the environment (and `.env`), validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

from engine.brokers import registry
from engine.brokers.registry import BrokerContext, BrokerSettings
from engine.clock import SEOUL, Clock
from engine.envparse import ConfigError, Env
from engine.files import DEFAULT_DATA_DIR
from engine.krx.calendar import parse_holidays, parse_special_sessions
from engine.krx.costs import CostModel
from engine.risk import RiskLimits
from engine.strategies.base import ParamError
from engine.strategies.registry import STRATEGIES


@dataclass(frozen=True, slots=True)
class StrategyDefaults:
    strategy: str = "breakout"
    order_budget: int = 1_000_000  # KRW per entry when a subscription names no quantity
    condition: str = "momentum"
    params: dict[str, float] = field(default_factory=dict)  # for auto-mode subscriptions
    # A flat symbol that left its condition is cancelled this long after, unless it is back.
    leave_grace: float = 10.0


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    trading_hours: str = "krx"  # krx: follow the calendar; always: no session gates (sim, tests)
    # Demo and test hook: today's session opens and closes this many seconds after start-up.
    compressed: tuple[float, float] | None = None
    pre_open_minutes: float = 10.0
    before_close_minutes: float = 10.0
    auto_at_open: bool = True
    special_sessions: dict[date, tuple[time, time, str]] = field(default_factory=dict)
    extra_holidays: dict[date, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    data_dir: Path = Path("data")
    broker: str = registry.DEFAULT
    # The chosen adapter's own settings (None: its defaults, read from an empty environment).
    broker_settings: BrokerSettings | None = None
    risk: RiskLimits = field(default_factory=RiskLimits)
    defaults: StrategyDefaults = field(default_factory=StrategyDefaults)
    journal_sync: str = "normal"
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    equity_sample_seconds: float = 10.0
    # Tests and demos only: the Seoul time the clock reads at start-up (it runs on from there).
    clock_start: datetime | None = None
    log_level: str = "info"
    live_trading: bool = False  # LIVE_TRADING=yes: the brokers' real environments are allowed
    commission_rate: float = 0.00015  # the broker's, each side

    @property
    def costs(self) -> CostModel:
        """The fee model for every broker: COMMISSION_RATE and the legal sell tax."""
        return CostModel(self.commission_rate)

    @property
    def adapter(self) -> BrokerSettings:
        if self.broker_settings is not None:
            return self.broker_settings
        return registry.settings_from_env(self.broker, {})

    @property
    def secrets(self) -> tuple[str, ...]:
        """Setting values that must never be written to a log."""
        return self.adapter.secrets

    @property
    def paper(self) -> bool:
        return self.adapter.paper

    def make_clock(self) -> Clock:
        return Clock() if self.clock_start is None else Clock(self.clock_start)

    def broker_context(self, clock: Clock) -> BrokerContext:
        return BrokerContext(self.data_dir, clock, self.costs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineConfig:
        env = Env(os.environ if environ is None else environ)
        environ = os.environ if environ is None else environ
        risk = RiskLimits(
            max_order_value=env.integer("RISK_MAX_ORDER_VALUE", 2_000_000, 1, "KRW"),
            max_position_value=env.integer("RISK_MAX_POSITION_VALUE", 3_000_000, 1, "KRW"),
            max_open_positions=env.integer("RISK_MAX_OPEN_POSITIONS", 5, 1, maximum=1_000),
            daily_loss_limit=env.integer("RISK_DAILY_LOSS_LIMIT", 300_000, 1, "KRW"),
        )
        defaults = StrategyDefaults(
            strategy=env.choice("DEFAULT_STRATEGY", "breakout", tuple(STRATEGIES)),
            order_budget=env.integer("ORDER_BUDGET", 1_000_000, 1, "KRW"),
            condition=env.text("AUTO_CONDITION", "momentum", 100),
            params=env.params("STRATEGY_PARAMS"),
            leave_grace=env.number("AUTO_LEAVE_GRACE_SECONDS", 10.0, 0.0, 600.0, "seconds"),
        )
        schedule = ScheduleSettings(
            trading_hours=env.choice("TRADING_HOURS", "krx", ("krx", "always")),
            compressed=env.session_times("SESSION_TIMES"),
            pre_open_minutes=env.number("PRE_OPEN_MINUTES", 10.0, 0.0, 120.0, "minutes"),
            before_close_minutes=env.number("BEFORE_CLOSE_MINUTES", 10.0, 0.0, 120.0, "minutes"),
            auto_at_open=env.boolean("AUTO_AT_OPEN", True),
            special_sessions=env.parsed(
                "KRX_SPECIAL_SESSIONS",
                {},
                parse_special_sessions,
                "day=open-close entries, e.g. 2027-11-18=10:00-16:30",
            ),
            extra_holidays=env.parsed(
                "KRX_EXTRA_HOLIDAYS",
                {},
                parse_holidays,
                "dates separated by commas, e.g. 2026-12-29,2027-01-04",
            ),
        )
        try:
            # Checked here, against the strategy that uses them, so a typo or an out-of-range
            # value stops the start instead of failing each auto-mode subscription later.
            STRATEGIES[defaults.strategy].resolve_params(defaults.params)
        except ParamError as exc:
            env.problems.append(f"STRATEGY_PARAMS: {exc}")
        config = cls(
            data_dir=env.path("DATA_DIR", DEFAULT_DATA_DIR),
            broker=env.choice("BROKER", registry.DEFAULT, registry.names()),
            commission_rate=env.number("COMMISSION_RATE", 0.00015, 0.0, 0.01),
            risk=risk,
            defaults=defaults,
            journal_sync=env.choice("JOURNAL_SYNC", "normal", ("normal", "full")),
            schedule=schedule,
            equity_sample_seconds=env.number(
                "EQUITY_SAMPLE_SECONDS", 10.0, 0.0, 3600.0, "seconds", exclusive_min=True
            ),
            live_trading=env.boolean("LIVE_TRADING", False),
            log_level=env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            clock_start=env.parsed(
                "CLOCK_START", None, _seoul_time, "a Seoul date and time, e.g. 2026-12-01T10:30"
            ),
        )
        try:
            # The adapter's own settings, checked in the same pass: every problem said at once.
            config = replace(config, broker_settings=registry.settings_from_env(config.broker, environ))
        except ConfigError as exc:
            env.problems += exc.problems
        env.check()
        if config.clock_start is not None and not config.paper:
            env.problems.append("CLOCK_START is for tests and demos: it is refused with live trading")
            env.check()
        return config


def _seoul_time(raw: str) -> datetime:
    when = datetime.fromisoformat(raw.strip())
    return when.astimezone(SEOUL) if when.tzinfo else when.replace(tzinfo=SEOUL)
