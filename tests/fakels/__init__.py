"""A protocol-faithful fake of the LS증권 OPEN API (ex-eBest) for adapter tests.

See tests/fakels/server.py for usage and hooks, tests/fakels/README.md for what it covers, where
each TR came from, and every UNCONFIRMED choice.
"""

from tests.fakels.server import (
    PAPER_APP_KEY,
    PAPER_APP_SECRET,
    REAL_APP_KEY,
    REAL_APP_SECRET,
    FakeLS,
    OrderFault,
    TokenRecord,
)
from tests.fakels.websocket import WsConn

__all__ = [
    "PAPER_APP_KEY",
    "PAPER_APP_SECRET",
    "REAL_APP_KEY",
    "REAL_APP_SECRET",
    "FakeLS",
    "OrderFault",
    "TokenRecord",
    "WsConn",
]
