"""The strategy interface and its parameters.

A strategy instance belongs to one subscription (one symbol). It never sends orders: it returns
a Signal, and the order manager decides (risk, dedupe, journal) whether an order goes out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from engine.instruments import Instrument
from engine.marketdata import Tick
from engine.ordertypes import Side
from engine.text import shown


@dataclass(frozen=True, slots=True)
class Signal:
    side: Side
    qty: int
    price: int | None  # None = market order
    reason: str
    # Identifies the intent within the symbol and day. The order manager sends at most one live
    # order per key, so a signal repeated (by a bug, or after a restart) never doubles an order.
    key: str
    is_entry: bool


class Book(Protocol):
    """What a strategy may read about the account."""

    def qty(self, symbol: str) -> int: ...

    def avg_price(self, symbol: str) -> float: ...

    def open_order_qty(self, symbol: str, side: Side) -> int: ...

    def may_enter(self) -> bool:
        """Entries are possible now (session open, entries not closed, not halted)."""
        ...

    def may_exit(self) -> bool:
        """Exits are possible now (session open, not halted)."""
        ...


@dataclass(frozen=True, slots=True)
class Param:
    default: float
    minimum: float
    maximum: float
    help: str


class ParamError(ValueError):
    pass


class Strategy(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    params_spec: ClassVar[Mapping[str, Param]] = {}

    def __init__(
        self, instrument: Instrument, params: Mapping[str, float], qty: int | None, budget: int
    ) -> None:
        self.instrument = instrument
        self.symbol = instrument.code
        self.params = self.resolve_params(params)
        self.qty = qty
        self.budget = budget
        self.setup()

    def setup(self) -> None:
        """Per-instance state, built after params are resolved."""

    @classmethod
    def resolve_params(cls, given: Mapping[str, float]) -> dict[str, float]:
        """Defaults overlaid with `given`; unknown names and out-of-range values are refused."""
        unknown = sorted(set(given) - set(cls.params_spec))
        if unknown:
            valid = ", ".join(cls.params_spec) or "none"
            names = ", ".join(shown(name, 20) for name in unknown)
            raise ParamError(f"{cls.name} has no parameter {names}; valid: {valid}")
        params = {name: spec.default for name, spec in cls.params_spec.items()}
        for name, value in given.items():
            spec = cls.params_spec[name]
            if not spec.minimum <= value <= spec.maximum:
                raise ParamError(
                    f"{cls.name} {name}={value:g} is out of range: {spec.minimum:g} to "
                    f"{spec.maximum:g} ({spec.help})"
                )
            params[name] = value
        return params

    def entry_qty(self, price: int) -> int:
        return self.qty if self.qty is not None else self.budget // max(price, 1)

    @abstractmethod
    def on_tick(self, tick: Tick, book: Book) -> Signal | None: ...

    def on_before_close(self, book: Book) -> Signal | None:
        """Called once when the session is about to close; may flatten."""
        return None
