"""Argument parsing and validation shared by every transport.

Discord delivers typed options but enforces neither ranges nor autocomplete choices, and the
console delivers strings, so every value is checked here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.commands.context import CommandError
from engine.instruments import Instrument
from engine.krx.codes import InvalidSymbol, normalize_symbol
from engine.krx.prices import check_limit_price

MAX_QTY = 1_000_000
# ASCII digits, optionally grouped with commas: int() would also take "1_0", "１" and "٣".
_WHOLE = re.compile(r"-?[0-9]+")  # a sign only so a negative gets the range message
SHOWN_MAX = 40


def shown(raw: object) -> str:
    """A user's text, fit to echo back: control characters removed, length bounded."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(raw))
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + f"… ({len(text):,} characters)"


def _whole_number(raw: object) -> int | None:
    text = str(raw).replace(",", "").strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def symbol_code(raw: object) -> str:
    """The code's format only; whether the broker trades it is the engine's question."""
    try:
        return normalize_symbol(str(raw))
    except InvalidSymbol as exc:
        raise CommandError(str(exc)) from None


def quantity(raw: object) -> int:
    value = _whole_number(raw)
    if value is None:
        raise CommandError(f"quantity must be a whole number of shares in the digits 0-9, got "
                           f"'{shown(raw)}'")
    if not 1 <= value <= MAX_QTY:
        raise CommandError(f"quantity must be between 1 and {MAX_QTY:,} shares, got {value:,}")
    return value


def price(raw: object, instrument: Instrument) -> int:
    value = _whole_number(raw)
    if value is None:
        raise CommandError(f"price must be a whole number of KRW in the digits 0-9 (or omit it "
                           f"for a market order), got '{shown(raw)}'")
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
