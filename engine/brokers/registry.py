"""BROKER=<name> picks an adapter. Each reads and checks its own settings (<NAME>_... variables)
and is imported only when chosen, so the engine names no broker and a sim run never loads a
real broker's code (nor a real run the simulated exchange)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from engine.clock import Clock
from engine.krx.costs import CostModel

if TYPE_CHECKING:
    from engine.brokers.base import Broker

# name -> the module whose `from_env(environ)` gives that adapter's settings.
ADAPTERS: dict[str, str] = {
    "sim": "engine.brokers.sim.config",
    "kis": "engine.brokers.kis.config",
    "kiwoom": "engine.brokers.kiwoom.config",
    "ls": "engine.brokers.ls.config",
}
DEFAULT = "sim"


@dataclass(frozen=True, slots=True)
class BrokerContext:
    """What every adapter gets from the engine: where to keep files, the clock, the fees."""

    data_dir: Path
    clock: Clock
    costs: CostModel


class BrokerSettings(Protocol):
    @property
    def paper(self) -> bool:
        """No real money can move (the sim, a paper account)."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never be written anywhere (keys, secrets)."""

    def create(self, context: BrokerContext) -> Broker: ...


def names() -> tuple[str, ...]:
    return tuple(ADAPTERS)


def settings_from_env(name: str, environ: Mapping[str, str]) -> BrokerSettings:
    """That adapter's settings, checked; ConfigError lists every problem."""
    module = importlib.import_module(ADAPTERS[name])
    settings: BrokerSettings = module.from_env(environ)
    return settings
