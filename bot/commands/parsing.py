"""Argument parsing and validation shared by every transport.

Discord delivers typed options but enforces neither ranges nor autocomplete choices, and the
console delivers strings, so every value is checked here once.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.commands.context import CommandError
from engine.instruments import Instrument
from engine.krx.codes import InvalidSymbol, normalize_symbol
from engine.krx.prices import check_limit_price

MAX_QTY = 1_000_000


def symbol_code(raw: object) -> str:
    """The code's format only; whether the broker trades it is the engine's question."""
    try:
        return normalize_symbol(str(raw))
    except InvalidSymbol as exc:
        raise CommandError(str(exc)) from None


def quantity(raw: object) -> int:
    text = str(raw).replace(",", "").strip()
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"quantity must be a whole number of shares, got '{raw}'") from None
    if not 1 <= value <= MAX_QTY:
        raise CommandError(f"quantity must be between 1 and {MAX_QTY:,} shares, got {value:,}")
    return value


def price(raw: object, instrument: Instrument) -> int:
    text = str(raw).replace(",", "").strip()
    try:
        value = int(text)
    except ValueError:
        raise CommandError(f"price must be a whole number of KRW (or omit it for a market order), "
                           f"got '{raw}'") from None
    problem = check_limit_price(value, instrument.prev_close)
    if problem is not None:
        raise CommandError(f"{instrument.code} {instrument.name}: {problem}")
    return value


def on_off(raw: object) -> bool:
    text = str(raw).strip().lower()
    if text in ("on", "yes", "true", "1"):
        return True
    if text in ("off", "no", "false", "0"):
        return False
    raise CommandError(f"expected on or off, got '{raw}'")


def strategy_params(pairs: Mapping[str, object]) -> dict[str, float]:
    params = {}
    for name, raw in pairs.items():
        try:
            params[name] = float(str(raw))
        except ValueError:
            raise CommandError(f"strategy parameter {name} must be a number, got '{raw}'") from None
    return params
