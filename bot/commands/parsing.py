"""Argument parsing and validation shared by every transport.

Discord delivers typed options but enforces neither ranges nor autocomplete choices, and the
console delivers strings, so every value is checked here once.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.commands.context import CommandError
from engine.envparse import decimal, whole_number
from engine.instruments import Instrument
from engine.krx.codes import InvalidSymbol, normalize_symbol
from engine.krx.prices import check_limit_price
from engine.text import printable
from engine.text import shown as shown  # re-exported: the transports echo with it

MAX_QTY = 1_000_000


def free_text(raw: object, limit: int) -> str:
    """Text a person typed that is kept (a halt reason): one line, printable, at most `limit`
    characters; never refused, because what it comes with (a halt) must not be."""
    text = " ".join(printable(str(raw)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _whole_number(raw: object, valid: str) -> int | None:
    """None when it is not a whole number; `valid` names the range for one far outside it."""
    text = str(raw).replace(",", "").strip()
    try:
        return whole_number(text)
    except ValueError:
        digits = text.removeprefix("-")
        if digits.isascii() and digits.isdigit():  # only too long
            raise CommandError(f"{valid}; got a number of {len(text):,} digits") from None
        return None


def symbol_code(raw: object) -> str:
    """The code's format only; whether the broker trades it is the engine's question."""
    try:
        return normalize_symbol(str(raw))
    except InvalidSymbol as exc:
        raise CommandError(str(exc)) from None


def quantity(raw: object) -> int:
    value = _whole_number(raw, f"quantity must be between 1 and {MAX_QTY:,} shares")
    if value is None:
        raise CommandError(f"quantity must be a whole number of shares in the digits 0-9, got '{shown(raw)}'")
    if not 1 <= value <= MAX_QTY:
        raise CommandError(f"quantity must be between 1 and {MAX_QTY:,} shares, got {value:,}")
    return value


def price(raw: object, instrument: Instrument) -> int:
    value = _whole_number(raw, f"price must be within {instrument.code}'s daily limits")
    if value is None:
        raise CommandError(
            f"price must be a whole number of KRW in the digits 0-9 (or omit it "
            f"for a market order), got '{shown(raw)}'"
        )
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
    raise CommandError(f"expected on or off, got '{shown(raw)}'")


def param_pairs(text: str) -> dict[str, str]:
    """`k=0.4 sl=1.5` (spaces or commas) into {"k": "0.4", "sl": "1.5"}."""
    pairs: dict[str, str] = {}
    for part in text.replace(",", " ").split():
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CommandError(
                f"strategy parameters are name=value pairs, e.g. k=0.4 sl=1.5; got '{shown(part)}'"
            )
        pairs[key.lower()] = value
    return pairs


def strategy_params(raw: str | Mapping[str, object] | None) -> dict[str, float]:
    """Names and ASCII decimal values; which names and ranges are valid is the strategy's
    question (Strategy.resolve_params)."""
    pairs = param_pairs(raw) if isinstance(raw, str) else dict(raw or {})
    params = {}
    for name, value in pairs.items():
        try:
            number = decimal(str(value))
        except ValueError:
            raise CommandError(
                f"strategy parameter {shown(name)} must be a decimal number in "
                f"the digits 0-9, e.g. 0.5; got '{shown(value)}'"
            ) from None
        params[name] = number
    return params
