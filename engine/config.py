"""Engine settings from the environment (and `.env`), validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

from engine.brokers.kis.config import KisConfig
from engine.clock import SEOUL, Clock
from engine.envparse import Env
from engine.files import DEFAULT_DATA_DIR
from engine.krx.calendar import parse_holidays, parse_special_sessions
from engine.krx.costs import CostModel
from engine.risk import RiskLimits
from engine.strategies.base import ParamError
from engine.strategies.registry import STRATEGIES


@dataclass(frozen=True, slots=True)
class SimSettings:
    """The embedded simulated exchange (or an external one at `url`)."""

    url: str | None = None  # e.g. http://127.0.0.1:8765 for `python -m engine.sim`
    seed: int = 7
    tick_rate: float = 2.0
    speed: float = 1.0
    cash: int = 10_000_000
    commission_rate: float = 0.00015
    max_subscriptions: int = 40


@dataclass(frozen=True, slots=True)
class StrategyDefaults:
    strategy: str = "breakout"
    order_budget: int = 1_000_000  # KRW per entry when a subscription names no quantity
    condition: str = "momentum"
    params: dict[str, float] = field(default_factory=dict)  # for auto-mode subscriptions


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
    broker: str = "sim"
    sim: SimSettings = field(default_factory=SimSettings)
    risk: RiskLimits = field(default_factory=RiskLimits)
    defaults: StrategyDefaults = field(default_factory=StrategyDefaults)
    journal_sync: str = "normal"
    kis: KisConfig | None = None
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    equity_sample_seconds: float = 10.0
    # Tests and demos only: the Seoul time the clock reads at start-up (it runs on from there).
    clock_start: datetime | None = None
    log_level: str = "info"
    live_trading: bool = False  # LIVE_TRADING=yes: the brokers' real environments are allowed

    @property
    def costs(self) -> CostModel:
        """The fee model for every broker: COMMISSION_RATE and the legal sell tax."""
        return CostModel(self.sim.commission_rate)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Setting values that must never be written to a log."""
        return (self.kis.app_key, self.kis.app_secret) if self.kis is not None else ()

    def make_clock(self) -> Clock:
        return Clock() if self.clock_start is None else Clock(self.clock_start)

    @property
    def paper(self) -> bool:
        return self.broker == "sim" or (self.kis is not None and self.kis.paper)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineConfig:
        env = Env(os.environ if environ is None else environ)
        sim = SimSettings(
            url=env.url("SIM_URL", ("http",)),
            seed=env.integer("SIM_SEED", 7, maximum=2**32 - 1),
            tick_rate=env.number("SIM_TICK_RATE", 2.0, 0.0, 10_000.0, "trades/s per symbol",
                                 exclusive_min=True),
            speed=env.number("SIM_SPEED", 1.0, 0.0, 1_000.0, exclusive_min=True),
            cash=env.integer("SIM_CASH", 10_000_000, 1, "KRW"),
            commission_rate=env.number("COMMISSION_RATE", 0.00015, 0.0, 0.01),
            max_subscriptions=env.integer("MAX_SUBSCRIPTIONS", 40, 1, "symbols", maximum=1_000),
        )
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
        )
        schedule = ScheduleSettings(
            trading_hours=env.choice("TRADING_HOURS", "krx", ("krx", "always")),
            compressed=env.session_times("SESSION_TIMES"),
            pre_open_minutes=env.number("PRE_OPEN_MINUTES", 10.0, 0.0, 120.0, "minutes"),
            before_close_minutes=env.number("BEFORE_CLOSE_MINUTES", 10.0, 0.0, 120.0, "minutes"),
            auto_at_open=env.boolean("AUTO_AT_OPEN", True),
            special_sessions=env.parsed("KRX_SPECIAL_SESSIONS", {}, parse_special_sessions,
                                        "day=open-close entries, e.g. 2027-11-18=10:00-16:30"),
            extra_holidays=env.parsed("KRX_EXTRA_HOLIDAYS", {}, parse_holidays,
                                      "dates separated by commas, e.g. 2026-12-29,2027-01-04"),
        )
        try:
            # Checked here, against the strategy that uses them, so a typo or an out-of-range
            # value stops the start instead of failing each auto-mode subscription later.
            STRATEGIES[defaults.strategy].resolve_params(defaults.params)
        except ParamError as exc:
            env.problems.append(f"STRATEGY_PARAMS: {exc}")
        config = cls(
            data_dir=env.path("DATA_DIR", DEFAULT_DATA_DIR),
            broker=env.choice("BROKER", "sim", ("sim", "kis")),
            sim=sim,
            risk=risk,
            defaults=defaults,
            journal_sync=env.choice("JOURNAL_SYNC", "normal", ("normal", "full")),
            schedule=schedule,
            equity_sample_seconds=env.number("EQUITY_SAMPLE_SECONDS", 10.0, 0.0, 3600.0, "seconds",
                                             exclusive_min=True),
            live_trading=env.boolean("LIVE_TRADING", False),
            log_level=env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            clock_start=env.parsed("CLOCK_START", None, _seoul_time,
                                   "a Seoul date and time, e.g. 2026-12-01T10:30"),
        )
        env.check()
        if config.broker == "kis":
            config = replace(config, kis=KisConfig.from_env(os.environ if environ is None else environ))
        if config.clock_start is not None and not config.paper:
            env.problems.append("CLOCK_START is for tests and demos: it is refused with live trading")
            env.check()
        return config


def _seoul_time(raw: str) -> datetime:
    when = datetime.fromisoformat(raw.strip())
    return when.astimezone(SEOUL) if when.tzinfo else when.replace(tzinfo=SEOUL)
