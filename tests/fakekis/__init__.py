"""A protocol-faithful fake of the KIS (한국투자증권) Open API for adapter tests.

See tests/fakekis/server.py for usage and the choices made where the reference is silent.
"""

from tests.fakekis.frames import (
    CAPTURED_H0STCNT0_FRAME,
    H0STCNT0_FIELDS,
    NOTICE_FIELDS_LEGACY23,
    NOTICE_FIELDS_OFFICIAL,
    aes_decrypt,
    aes_encrypt,
)
from tests.fakekis.server import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    FakeKis,
    MinuteRequest,
    OrderRequest,
    PsearchRequest,
    WsConn,
)

__all__ = [
    "CAPTURED_H0STCNT0_FRAME",
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "H0STCNT0_FIELDS",
    "NOTICE_FIELDS_LEGACY23",
    "NOTICE_FIELDS_OFFICIAL",
    "FakeKis",
    "MinuteRequest",
    "OrderRequest",
    "PsearchRequest",
    "WsConn",
    "aes_decrypt",
    "aes_encrypt",
]
