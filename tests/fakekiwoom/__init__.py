"""A protocol-faithful fake of the Kiwoom (키움증권) REST API + WebSocket service for adapter tests.

See tests/fakekiwoom/README.md for what it covers, where each api-id comes from, every UNCONFIRMED
choice, and the test hooks; tests/fakekiwoom/server.py for usage.
"""

from tests.fakekiwoom.codec import REFERENCE_FRAMES
from tests.fakekiwoom.conditions import ConditionSettings
from tests.fakekiwoom.server import APIS, DEFAULT_KEYS, FakeKiwoom, IssuedToken, OrderRequest, RestRequest
from tests.fakekiwoom.ws import WS_PATH, WsConn, WsSettings

__all__ = [
    "APIS",
    "DEFAULT_KEYS",
    "REFERENCE_FRAMES",
    "WS_PATH",
    "ConditionSettings",
    "FakeKiwoom",
    "IssuedToken",
    "OrderRequest",
    "RestRequest",
    "WsConn",
    "WsSettings",
]
