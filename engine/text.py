"""Text a person typed, fit to be echoed back in a message, a terminal or a log: control and
format characters (escape sequences, bidi overrides) replaced, and the length bounded."""

from __future__ import annotations

import unicodedata

SHOWN_MAX = 40


def printable(text: str) -> str:
    return "".join(ch if ch.isprintable() and unicodedata.category(ch) != "Cf" else "?" for ch in text)


def shown(raw: object, limit: int = SHOWN_MAX) -> str:
    text = printable(str(raw))
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"
