"""Settings of the simulated exchange adapter: the embedded exchange (or an external one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.envparse import Env

if TYPE_CHECKING:
    from engine.brokers.base import Broker
    from engine.brokers.registry import BrokerContext


@dataclass(frozen=True, slots=True)
class SimSettings:
    url: str | None = None  # e.g. http://127.0.0.1:8765 for `python -m engine.sim`; else embedded
    seed: int = 7
    tick_rate: float = 2.0
    speed: float = 1.0
    cash: int = 10_000_000
    max_subscriptions: int | None = 40

    @property
    def paper(self) -> bool:
        return True

    @property
    def secrets(self) -> tuple[str, ...]:
        return ()

    def create(self, context: BrokerContext) -> Broker:
        from engine.brokers.sim.client import SimBroker

        return SimBroker(self, context)


def from_env(environ: Mapping[str, str]) -> SimSettings:
    env = Env(environ)
    settings = SimSettings(
        url=env.url("SIM_URL", ("http",)),
        seed=env.integer("SIM_SEED", 7, maximum=2**32 - 1),
        tick_rate=env.number("SIM_TICK_RATE", 2.0, 0.0, 10_000.0, "trades/s per symbol", exclusive_min=True),
        speed=env.number("SIM_SPEED", 1.0, 0.0, 1_000.0, exclusive_min=True),
        cash=env.integer("SIM_CASH", 10_000_000, 1, "KRW"),
        max_subscriptions=env.integer("MAX_SUBSCRIPTIONS", 40, 1, "symbols", maximum=1_000),
    )
    env.check()
    return settings
