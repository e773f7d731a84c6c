"""KRX short codes.

Since 2024 a new code may carry a letter in its 5th character (never I, O or U), so `^\\d{6}$`
is wrong; see shared/reference/krx.md.
"""

from __future__ import annotations

import re

from engine.text import shown

_CODE = re.compile(r"^[0-9]{4}[0-9A-HJ-NP-TV-Z][0-9]$")

CODE_FORMAT = "6 characters: 4 digits, a digit or letter (not I, O, U), a digit, e.g. 005930"


class InvalidSymbol(ValueError):
    """A string that is not a KRX short code."""


def normalize_symbol(raw: str) -> str:
    """Return the canonical short code or raise InvalidSymbol saying what is valid.

    Accepts the `A005930` form some APIs use and lower-case letters, because users type both.
    """
    text = raw.strip().upper()
    if len(text) == 7 and text[0] in "AQJ":
        text = text[1:]
    if not _CODE.match(text):
        raise InvalidSymbol(f"'{shown(raw.strip()) or '(empty)'}' is not a KRX code: expected {CODE_FORMAT}")
    return text


def is_symbol(text: str) -> bool:
    return bool(_CODE.match(text))
