"""A protocol-faithful fake of the KIS (한국투자증권) Open API: REST and websocket on one port.

Built from /work/shared/reference/brokers.md section 2 (and krx.md), not from any adapter, so it
can cross-check one. Usage::

    fake = FakeKis(env="paper", rate_limit=None)
    await fake.start()
    ... point the client at fake.url (REST) and fake.ws_url (websocket, any path) ...
    await fake.stop()

Test hooks: clock (`advance_clock`, `allow_token_in`, `expire_tokens`), faults (`fail_next_orders`,
`delay_next_order_answer`, `fail_next`, `drop_websockets`), market (`pause_tape`, `resume_tape`,
`trade`, `add_symbol`, `send_raw`, `send_captured_frame`, `send_pingpong`), account (`set_cash`,
`add_position`, `seed_positions`), condition search (`set_conditions`, `set_condition_members`,
`condition_enter`, `condition_leave`, `condition_members`; constructor `conditions=`).
Inspection: `tokens_issued`, `approvals_issued`, `orders`, `order_requests`, `notices`,
`registrations`, `connections`, `pingpongs_sent/answered`, `balance_pages_served`,
`psearch_requests` (path, seq, monotonic time), `minute_requests` (code, hour, monotonic time),
`minute_book` (the fake's own prints per minute).

Besides orders, balance and daily fills: quotations inquire-price, inquire-daily-price,
inquire-time-itemchartprice (1-minute bars, 30 a call, newest first, today only; the session
before the fake started is a seeded history ending at the tape's start price, see chart.py) and
the condition search psearch-title / psearch-result (real env only; see psearch.py). Every REST
call shares one rate-limit window and `fail_next`.

Where the reference is silent or says UNCONFIRMED the choice is commented at the spot (search for
"UNCONFIRMED") and, where it matters to a client, configurable. For the condition search and the
minute bars those are: the paper refusal (90000000), the unknown HTS ID / seq reply (KIOK0460),
which 100 of a larger match are kept (code order), trade_amt in 백만원, the expected-price fields,
the bar label (minute start), acml_tr_pbmn as the running day total, FID_PW_DATA_INCU_YN having no
effect, FID_COND_MRKT_DIV_CODE J only, the empty page before the first bar, and the first-row
cntg_vol quirk (`minute_first_row_quirk`, off by default).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import random
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Literal, NamedTuple

from aiohttp import WSMsgType, web

from engine.clock import Clock
from tests import fakekrx as krx
from tests.fakekis import chart, frames, psearch
from tests.fakekis.account import LIMIT, MARKET, Account, FakeOrder, Position
from tests.fakekis.frames import Notice, NoticeLayout
from tests.fakekis.tape import SymbolTape, Tape, Trade, prdy_sign
from tests.fakeserver import FakeServer
from tests.faketape import DEFAULT_SYMBOLS, Side, name_of

log = logging.getLogger(__name__)

KST = timezone(timedelta(hours=9))  # Korea has no DST, so a fixed offset needs no tzdata

DEFAULT_APP_KEY = ("PSfakeKIS" + "0123456789abcdefghijklmnopqrstuvwxyz")[:36]
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
DEFAULT_APP_SECRET = ("fakeKISsecret/" + _B64 * 3)[:180]
ORGNO = "91252"  # KRX_FWDG_ORD_ORGNO of every order (the reference's example ack)
MAX_REGISTRATIONS = 41  # per appkey, ticks and the fill notice alike (brokers.md 2.6)
TOKEN_INTERVAL = 60.0  # EGW00133: one issuance per minute
TOKEN_LIFETIME = 86_400
TOKEN_REUSE = 6 * 3600  # "6시간 이내 발급신청시는 기존 토큰값과 동일"
APPROVAL_LIFETIME = 86_400

Env = Literal["paper", "real"]
OrderFault = Literal["EGW00201", "502_after_create", "timeout_after_create", "reject"]
_AFTER_CREATE: frozenset[str] = frozenset({"502_after_create", "timeout_after_create", "reject"})

# tr_id -> (env, side). The old 080x ids are accepted too: whether KIS still does is UNCONFIRMED.
ORDER_CASH_TR: dict[str, tuple[Env, Side]] = {
    "TTTC0012U": ("real", "buy"), "TTTC0802U": ("real", "buy"),
    "TTTC0011U": ("real", "sell"), "TTTC0801U": ("real", "sell"),
    "VTTC0012U": ("paper", "buy"), "VTTC0802U": ("paper", "buy"),
    "VTTC0011U": ("paper", "sell"), "VTTC0801U": ("paper", "sell"),
}  # fmt: skip
RVSECNCL_TR: dict[str, Env] = {
    "TTTC0013U": "real",
    "TTTC0803U": "real",
    "VTTC0013U": "paper",
    "VTTC0803U": "paper",
}
BALANCE_TR: dict[str, Env] = {"TTTC8434R": "real", "VTTC8434R": "paper"}
# inquire-daily-ccld is not in brokers.md: TTTC0081R/VTTC0081R are from the official
# examples_llm/inquire_daily_ccld.py; the older 8001R ids are common in wrappers. UNCONFIRMED.
CCLD_TR: dict[str, Env] = {
    "TTTC0081R": "real",
    "VTTC0081R": "paper",
    "TTTC8001R": "real",
    "VTTC8001R": "paper",
}

# Error codes. Only EGW00121, EGW00133, EGW00201 and APBK0013 come from the reference; the rest are
# plausible picks in the KIS style (EGW gateway, OPSQ input/service, APBK order business) and are
# NOT confirmed: an adapter should branch on rt_cd and the EGW codes, and show msg1.
E_TOKEN_INVALID = ("EGW00121", "유효하지 않은 token 입니다.")
E_APPKEY = ("EGW00103", "유효하지 않은 AppKey입니다.")
E_APPSECRET = ("EGW00105", "유효하지 않은 AppSecret입니다.")
E_TOKEN_RATE = ("EGW00133", "접근토큰발급 잠시후 다시 시도하세요(1분당 1회)")
E_GRANT = ("EGW00002", "grant_type이 올바르지 않습니다.")
E_RATE = ("EGW00201", "초당 거래건수를 초과하였습니다.")
E_SERVICE = "OPSQ0002"
E_INPUT = "OPSQ2001"
E_ACCOUNT = ("OPSQ2000", "ERROR : INPUT INVALID_CHECK_ACNO")
E_SYMBOL = "APBK0656"
E_QTY = "APBK0400"
E_TICK = "APBK0507"
E_LIMIT = "APBK0508"
E_CASH = "APBK0918"
E_SHARES = "APBK0986"
E_UNSUPPORTED = "APBK1509"
E_NO_ORDER = "APBK0913"
OK_ORDER = ("APBK0013", "주문 전송 완료 되었습니다.")
# Inquiry messages as commonly seen in KIS responses (UNCONFIRMED; not in the reference).
OK_MORE = ("KIOK0460", "조회가 계속됩니다..다음버튼을 Click 하십시오.")
OK_DONE = ("KIOK0510", "조회가 완료되었습니다")

_DIGITS = re.compile(r"^\d+$")
_DATE = re.compile(r"^\d{8}$")

ORDER_CASH_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR")
RVSECNCL_FIELDS = (
    "CANO",
    "ACNT_PRDT_CD",
    "KRX_FWDG_ORD_ORGNO",
    "ORGN_ODNO",
    "ORD_DVSN",
    "RVSE_CNCL_DVSN_CD",
    "ORD_QTY",
    "ORD_UNPR",
    "QTY_ALL_ORD_YN",
)
BALANCE_PARAMS = (
    "CANO",
    "ACNT_PRDT_CD",
    "AFHR_FLPR_YN",
    "OFL_YN",
    "INQR_DVSN",
    "UNPR_DVSN",
    "FUND_STTL_ICLD_YN",
    "FNCG_AMT_AUTO_RDPT_YN",
    "PRCS_DVSN",
    "CTX_AREA_FK100",
    "CTX_AREA_NK100",
)
# 주식당일분봉조회 is not in the reference: tr_id, parameters and fields from the official
# examples_llm/domestic_stock/inquire_time_itemchartprice sample ("실전/모의 동일" tr_id).
MINUTE_TR = "FHKST03010200"
MINUTE_PARAMS = (
    "FID_ETC_CLS_CODE",
    "FID_COND_MRKT_DIV_CODE",
    "FID_INPUT_ISCD",
    "FID_INPUT_HOUR_1",
    "FID_PW_DATA_INCU_YN",
)
_HHMMSS = re.compile(r"^([01]\d|2[0-3])[0-5]\d[0-5]\d$")
CCLD_PARAMS = (
    "CANO",
    "ACNT_PRDT_CD",
    "INQR_STRT_DT",
    "INQR_END_DT",
    "SLL_BUY_DVSN_CD",
    "INQR_DVSN",
    "PDNO",
    "CCLD_DVSN",
    "ORD_GNO_BRNO",
    "ODNO",
    "INQR_DVSN_3",
    "INQR_DVSN_1",
    "CTX_AREA_FK100",
    "CTX_AREA_NK100",
)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Refusal(Exception):
    """A business refusal: answered with HTTP 200 and rt_cd "1" (EGW gateway errors are not)."""

    def __init__(self, msg_cd: str, msg1: str) -> None:
        super().__init__(f"{msg_cd} {msg1}")
        self.msg_cd = msg_cd
        self.msg1 = msg1


@dataclass(eq=False)
class WsConn:
    id: int
    ws: web.WebSocketResponse
    request: web.Request
    path: str
    appkey: str | None = None  # bound by the first successful registration
    regs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> (key, iv)
    pingpong_outstanding: bool = False
    closed: bool = False

    @property
    def registrations(self) -> set[tuple[str, str]]:
        return set(self.regs)


@dataclass
class OrderRequest:
    """Every POST to an order endpoint, refused ones included."""

    path: str
    tr_id: str
    body: Any  # parsed JSON, or the raw text when it did not parse
    at: float
    status: int = 0
    rt_cd: str = ""
    msg_cd: str = ""
    odno: str = ""
    injected: str = ""


class PsearchRequest(NamedTuple):
    """Every HTTP request to psearch-title / psearch-result, refused and failed ones included."""

    path: str
    seq: str  # "" for psearch-title
    at: float  # time.monotonic(), so a test can measure a client's polling interval


class MinuteRequest(NamedTuple):
    """Every HTTP request to inquire-time-itemchartprice, refused and failed ones included."""

    code: str
    hour: str  # FID_INPUT_HOUR_1 as sent
    at: float  # time.monotonic()


@dataclass
class _Fault:
    kind: str
    delay: float = 0.0


@dataclass
class _PathFault:
    path_contains: str
    status: int
    n: int


class FakeKis(FakeServer):
    tape_name = "fakekis-tape"

    def __init__(
        self,
        *,
        env: Env = "paper",
        app_key: str = DEFAULT_APP_KEY,
        app_secret: str = DEFAULT_APP_SECRET,
        account: str = "12345678-01",
        hts_id: str = "testuser",
        symbols: dict[str, int] | None = None,
        cash: int = 10_000_000,
        rate_limit: float | Literal["env"] | None = "env",
        pingpong_interval: float = 110.0,
        tick_interval: float = 0.05,
        seed: int = 1,
        notice_layout: NoticeLayout = "official",
        balance_page_size: int | None = None,
        ccld_page_size: int | None = None,
        first_page_tr_cont: Literal["M", "F"] = "M",
        auth_error_status: int = 500,
        rate_error_status: int = 500,
        commission_rate: float = 0.00015,
        sell_tax_rate: float = 0.0020,
        keep_sold_positions: bool = True,
        pingpong_timeout: float | None = None,
        wrong_hts_id: Literal["ack", "close"] = "ack",
        clock: Clock | None = None,
        max_registrations: int = MAX_REGISTRATIONS,
        conditions: Iterable[tuple[str, str]] | None = None,
        minute_first_row_quirk: bool = False,
    ) -> None:
        super().__init__()
        if env not in ("paper", "real"):
            raise ValueError(f"env must be 'paper' or 'real', not {env!r}")
        cano, _, prdt = account.partition("-")
        if len(cano) != 8 or len(prdt) != 2:
            raise ValueError(f"account must look like 12345678-01, not {account!r}")
        self.env: Env = env
        self.app_key = app_key
        self.app_secret = app_secret
        self.hts_id = hts_id
        self.cano = cano
        self.prdt = prdt
        # 20/s real, 2/s paper (brokers.md 2.6). "env" picks by env; None disables.
        env_rate = 20.0 if env == "real" else 2.0
        self.rate_limit: float | None = env_rate if rate_limit == "env" else rate_limit
        self.pingpong_interval = pingpong_interval
        self.pingpong_timeout = pingpong_timeout
        self.tick_interval = tick_interval
        self.notice_layout: NoticeLayout = notice_layout
        self.balance_page_size = balance_page_size or (50 if env == "real" else 20)
        self.ccld_page_size = ccld_page_size or (100 if env == "real" else 15)
        # Which code marks "more pages" on the first page is UNCONFIRMED: the official client loops
        # while the response tr_cont is F or M. Later pages with more data always say M.
        self.first_page_tr_cont = first_page_tr_cont
        # EGW00121 and EGW00201 arrive with HTTP 500 in third-party reports; the status is
        # UNCONFIRMED (401 / 429 are the alternatives a client should also survive).
        self.auth_error_status = auth_error_status
        self.rate_error_status = rate_error_status
        self.keep_sold_positions = keep_sold_positions
        # A wrong HTS ID in the H0STCNI0 registration is reported as a dropped connection without
        # a close frame (brokers.md 2.6 pitfall) but an error ack is also plausible: both offered.
        self.wrong_hts_id = wrong_hts_id
        self.max_registrations = max_registrations
        self.notice_tr = frames.NOTICE_TR_REAL if env == "real" else frames.NOTICE_TR_PAPER

        self.tape = Tape(dict(symbols) if symbols is not None else dict(DEFAULT_SYMBOLS), seed)
        self.account = Account(
            cano=cano, prdt=prdt, cash=cash, commission_rate=commission_rate, sell_tax_rate=sell_tax_rate
        )
        self._static_prices: dict[str, int] = {}
        # (group, name) pairs saved in HTS [0110] under hts_id; seq is the position from "0".
        self._conditions = psearch.numbered(psearch.DEFAULT_CONDITIONS if conditions is None else conditions)
        self.minute_book = chart.MinuteBook()
        self._history: dict[str, list[chart.MinuteBar]] = {}  # code -> seeded bars of the start date
        self._seed = seed
        # The official sample says the first row's cntg_vol shows the previous minute's volume
        # until the current minute's first print; off by default so bars stay plain aggregates.
        self.minute_first_row_quirk = minute_first_row_quirk

        # Inspection.
        self.tokens_issued = 0
        self.approvals_issued = 0
        self.orders: list[FakeOrder] = []
        self.order_requests: list[OrderRequest] = []
        self.notices: list[Notice] = []
        self.requests: list[tuple[str, str, str]] = []  # (method, path, tr_id) of every HTTP request
        self.pingpongs_sent = 0
        self.pingpongs_answered = 0
        self.balance_pages_served = 0
        self.ccld_pages_served = 0
        self.connections_total = 0
        self.psearch_requests: list[PsearchRequest] = []
        self.minute_requests: list[MinuteRequest] = []

        self._offset = 0.0
        # The one clock of the test: KIS keys its books by Seoul date, as the engine must.
        self._clock = clock or Clock()
        self._tokens: dict[str, float] = {}  # token -> expiry (fake clock)
        self._last_token: tuple[str, float] | None = None  # (token, issued at)
        self._next_token_at = 0.0
        self._approvals: dict[str, tuple[str, float]] = {}  # approval_key -> (appkey, issued at)
        self._rate_window: deque[float] = deque()
        self._order_faults: deque[_Fault] = deque()
        self._answer_delays: deque[float] = deque()
        self._path_faults: list[_PathFault] = []
        self._next_odno = 100_000
        self._book: list[FakeOrder] = []
        self._conns: list[WsConn] = []
        self._owner: dict[str, WsConn] = {}  # appkey -> the connection holding its session
        self._conn_seq = 0
        self._paused = False
        self._tape_began = self.now()  # reset by start(): the session before it is seeded history

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        self._tape_began = self.now()
        self._history.clear()
        await super().start(port)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/oauth2/tokenP", self._token)
        router.add_post("/oauth2/revokeP", self._revoke)
        router.add_post("/oauth2/Approval", self._approval)
        router.add_post("/uapi/hashkey", self._hashkey)
        base = "/uapi/domestic-stock/v1/trading"
        router.add_post(f"{base}/order-cash", self._order_cash)
        router.add_post(f"{base}/order-rvsecncl", self._order_rvsecncl)
        router.add_get(f"{base}/inquire-balance", self._inquire_balance)
        router.add_get(f"{base}/inquire-daily-ccld", self._inquire_daily_ccld)
        # KIS clients connect to ws://host:port, ws://host:port/tryitout or /tryitout/H0STCNT0.
        quotes = "/uapi/domestic-stock/v1/quotations"
        router.add_get(f"{quotes}/inquire-price", self._inquire_price)
        router.add_get(f"{quotes}/inquire-daily-price", self._inquire_daily_price)
        router.add_get(f"{quotes}/inquire-time-itemchartprice", self._inquire_time_itemchartprice)
        router.add_get(f"{quotes}/psearch-title", self._psearch_title)
        router.add_get(f"{quotes}/psearch-result", self._psearch_result)
        router.add_route("*", "/{tail:.*}", self._catch_all)

    async def close_sockets(self) -> None:
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await conn.ws.close(code=1001, message=b"server shutdown")

    # ------------------------------------------------------------------ clock & test hooks

    def now(self) -> float:
        return self._clock.time() + self._offset

    def kst(self) -> datetime:
        return datetime.fromtimestamp(self.now(), KST)

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock (token limits and expiry) without waiting."""
        self._offset += seconds

    def allow_token_in(self, seconds: float = 0.0) -> None:
        """The next token issuance is allowed `seconds` from now instead of 60 s after the last."""
        self._next_token_at = self.now() + seconds

    def expire_tokens(self) -> None:
        """Every issued token becomes invalid (EGW00121) and the next request issues a new one."""
        past = self.now() - 1
        self._tokens = dict.fromkeys(self._tokens, past)
        self._last_token = None

    def fail_next_orders(self, n: int, kind: OrderFault, *, delay: float = 30.0) -> None:
        """The next `n` order requests (order-cash and order-rvsecncl) fail as `kind`:
        EGW00201 — refused by the gateway, nothing created;
        502_after_create — created and processed (notices, fills) but answered with a bare 502;
        timeout_after_create — created and processed, answered only after `delay` seconds;
        reject — answered rt_cd "0", then the exchange refuses it (RFUS_YN=1 notice)."""
        if kind not in ("EGW00201", *_AFTER_CREATE):
            raise ValueError(f"unknown order fault {kind!r}")
        self._order_faults.extend(_Fault(kind, delay) for _ in range(n))

    def delay_next_order_answer(self, seconds: float) -> None:
        """The next successful order's acceptance (and any fill) notices go out on the websocket
        while its REST answer is held back `seconds`."""
        self._answer_delays.append(seconds)

    def fail_next(self, path_contains: str, status: int = 500, n: int = 1) -> None:
        """The next `n` HTTP requests whose path contains `path_contains` get a bare `status`."""
        self._path_faults.append(_PathFault(path_contains, status, n))

    def set_cash(self, amount: int) -> None:
        self.account.cash = self.account.d2_cash = amount

    def add_position(self, code: str, qty: int, avg_price: int, *, name: str | None = None) -> None:
        """Hold `qty` shares bought before today. Codes without a tape keep `avg_price` as price."""
        self.account.positions[code] = Position(
            code=code, name=name or name_of(code), qty=qty, cost=qty * avg_price, prior_qty=qty
        )
        if code not in self.tape.symbols:
            self._static_prices[code] = avg_price

    def seed_positions(self, count: int, *, qty: int = 10, price: int = 10_000) -> list[str]:
        """Add `count` synthetic positions (codes 900000 upward) to exercise continuation."""
        codes = [f"{900_000 + i:06d}" for i in range(count)]
        for i, code in enumerate(codes):
            self.add_position(code, qty, price + 10 * i, name=f"시드종목{i:03d}")
        return codes

    def add_symbol(self, code: str, prev_close: int) -> None:
        """Put `code` on the tape (quotes, orders, conditions), `prev_close` its base price."""
        if not krx.CODE_RE.match(code):
            raise ValueError(f"{code!r} is not a KRX short code")
        self.tape.add(code, prev_close)

    def set_conditions(self, conditions: Iterable[tuple[str, str]]) -> None:
        """Replace the HTS-saved conditions by (group, name) pairs, seq "0" upward; no members."""
        self._conditions = psearch.numbered(conditions)

    def _condition(self, seq: str | int) -> psearch.Condition:
        cond = self._conditions.get(str(seq))
        if cond is None:
            raise ValueError(f"no saved condition seq {seq!r} (have {sorted(self._conditions)})")
        return cond

    def _listed(self, symbol: str) -> str:
        if symbol not in self.tape.symbols:
            raise ValueError(f"{symbol!r} is not on the fake's tape: add it with add_symbol()")
        return symbol

    def set_condition_members(self, seq: str | int, symbols: Iterable[str]) -> None:
        """The symbols condition `seq` matches from now on (tape symbols only)."""
        members = list(dict.fromkeys(self._listed(s) for s in symbols))
        self._condition(seq).members = members

    def condition_enter(self, seq: str | int, symbol: str) -> bool:
        """`symbol` starts matching condition `seq`; False when it already did."""
        members = self._condition(seq).members
        if self._listed(symbol) in members:
            return False
        members.append(symbol)
        return True

    def condition_leave(self, seq: str | int, symbol: str) -> bool:
        """`symbol` stops matching condition `seq`; False when it did not match."""
        members = self._condition(seq).members
        if symbol not in members:
            return False
        members.remove(symbol)
        return True

    def condition_members(self, seq: str | int) -> list[str]:
        return list(self._condition(seq).members)

    def pause_tape(self) -> None:
        self._paused = True

    def resume_tape(self) -> None:
        self._paused = False

    def price_of(self, code: str) -> int:
        if code in self.tape.symbols:
            return self.tape.symbols[code].price
        return self._static_prices[code]

    async def trade(self, code: str, price: int | None = None, qty: int = 100, side: Side = "buy") -> None:
        """Print one trade on the tape now (published and matched), e.g. while it is paused."""
        sym = self.tape.symbols[code]
        price = sym.price if price is None else price
        lower, upper = sym.limits
        if not krx.on_grid(price) or not lower <= price <= upper:
            raise ValueError(f"{price} is off the grid or outside {lower}..{upper}")
        await self._print(sym, [Trade(code=code, price=price, qty=qty, side=side, hhmmss=self._hhmmss())])

    async def send_raw(self, text: str, conn_id: int | None = None) -> int:
        """Send `text` as a websocket text frame to every open connection (or one)."""
        sent = 0
        for conn in list(self._conns):
            if conn_id is None or conn.id == conn_id:
                sent += await self._send(conn, text)
        return sent

    async def send_captured_frame(self, conn_id: int | None = None) -> int:
        return await self.send_raw(frames.CAPTURED_H0STCNT0_FRAME, conn_id)

    async def send_pingpong(self) -> None:
        for conn in list(self._conns):
            await self._pingpong(conn)

    async def drop_websockets(self) -> int:
        """Abort every websocket's TCP connection without a close frame."""
        dropped = 0
        for conn in list(self._conns):
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
        return dropped

    # ------------------------------------------------------------------ inspection

    @property
    def connections(self) -> list[WsConn]:
        return [c for c in self._conns if not c.closed]

    @property
    def registrations(self) -> dict[int, set[tuple[str, str]]]:
        return {c.id: c.registrations for c in self.connections}

    @property
    def token(self) -> str | None:
        return self._last_token[0] if self._last_token else None

    @property
    def working_orders(self) -> list[FakeOrder]:
        return list(self._book)

    # ------------------------------------------------------------------ HTTP plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path, request.headers.get("tr_id", "")))
        tail = request.path.rsplit("/", 1)[-1]
        if tail in ("psearch-title", "psearch-result"):
            self.psearch_requests.append(
                PsearchRequest(request.path, request.query.get("seq", ""), time.monotonic())
            )
        elif tail == "inquire-time-itemchartprice":
            self.minute_requests.append(
                MinuteRequest(
                    request.query.get("FID_INPUT_ISCD", ""),
                    request.query.get("FID_INPUT_HOUR_1", ""),
                    time.monotonic(),
                )
            )
        for fault in self._path_faults:
            if fault.n > 0 and fault.path_contains in request.path:
                fault.n -= 1
                return web.Response(status=fault.status, text=f"{fault.status} injected by FakeKis")
        return await handler(request)

    def _json(self, body: Any, *, status: int = 200, tr_id: str = "", tr_cont: str = "") -> web.Response:
        headers = {"tr_id": tr_id, "tr_cont": tr_cont, "gt_uid": uuid.uuid4().hex}
        return web.json_response(
            body, status=status, headers=headers, dumps=partial(json.dumps, ensure_ascii=False)
        )

    def _rt_error(self, code: tuple[str, str], *, status: int = 200, tr_id: str = "") -> web.Response:
        return self._json({"rt_cd": "1", "msg_cd": code[0], "msg1": code[1]}, status=status, tr_id=tr_id)

    def _oauth_error(self, code: tuple[str, str]) -> web.Response:
        # The OAuth endpoints answer in their own shape, not the rt_cd envelope (brokers.md 2.2).
        return web.json_response(
            {"error_description": code[1], "error_code": code[0]},
            status=403,
            dumps=partial(json.dumps, ensure_ascii=False),
        )

    def _hhmmss(self) -> str:
        return self.kst().strftime("%H%M%S")

    def _today(self) -> str:
        return self.kst().strftime("%Y%m%d")

    def _rate_limited(self) -> bool:
        if self.rate_limit is None:
            return False
        now = time.monotonic()
        while self._rate_window and now - self._rate_window[0] >= 1.0:
            self._rate_window.popleft()
        if len(self._rate_window) >= max(1, int(self.rate_limit)):
            return True  # a refused request does not use up the window
        self._rate_window.append(now)
        return False

    def _gate(self, request: web.Request, tr_ids: dict[str, Any]) -> tuple[str, web.Response | None]:
        """Gateway checks shared by every /uapi call: rate limit, token, app credentials, tr_id."""
        tr_id = request.headers.get("tr_id", "")
        err = self._gate_error(request, tr_id, tr_ids)
        if err is None:
            return tr_id, None
        status, code = err
        return tr_id, self._rt_error(code, status=status, tr_id=tr_id)

    def _gate_error(
        self, request: web.Request, tr_id: str, tr_ids: dict[str, Any]
    ) -> tuple[int, tuple[str, str]] | None:
        if self._rate_limited():
            return self.rate_error_status, E_RATE
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        expiry = self._tokens.get(token.strip())
        if scheme.lower() != "bearer" or expiry is None or expiry <= self.now():
            # One code for unknown and expired tokens, as the reference has only EGW00121
            # (real KIS may say EGW00123 for an expired one — UNCONFIRMED).
            return self.auth_error_status, E_TOKEN_INVALID
        if request.headers.get("appkey") != self.app_key:
            return self.auth_error_status, E_APPKEY
        if request.headers.get("appsecret") != self.app_secret:
            return self.auth_error_status, E_APPSECRET
        # custtype "P" is always sent by the official client; whether KIS enforces it is
        # UNCONFIRMED, so only a wrong value is refused, not a missing one.
        if request.headers.get("custtype", "P") not in ("P", "B"):
            return 200, (E_INPUT, "custtype은 P(개인) 또는 B(법인)입니다.")
        if tr_id not in tr_ids:
            return 200, (E_SERVICE, f"없는 서비스 코드 입니다 (tr_id {tr_id!r})")
        entry = tr_ids[tr_id]
        env = entry[0] if isinstance(entry, tuple) else entry
        if env != self.env:
            what = "실전투자" if env == "real" else "모의투자"
            msg = (
                f"{tr_id}는 {what} TR입니다. 이 서버는 {'모의투자' if self.env == 'paper' else '실전투자'}"
                f" 서버입니다 (a {env} tr_id on the {self.env} server)"
            )
            return 200, (E_SERVICE, msg)
        return None

    @staticmethod
    def _loads(raw: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def _check_body(self, body: Any, required: Iterable[str]) -> dict[str, str]:
        """KIS wants UPPERCASE keys and string values in POST bodies (brokers.md 2.4)."""
        if not isinstance(body, dict):
            raise _Refusal(E_INPUT, "ERROR : INPUT BODY IS NOT JSON OBJECT")
        lower = [k for k in body if not isinstance(k, str) or k != k.upper()]
        if lower:
            raise _Refusal(E_INPUT, f"POST API의 BODY key는 대문자로 보내야 합니다: {lower}")
        not_str = [k for k, v in body.items() if not isinstance(v, str)]
        if not_str:
            raise _Refusal(E_INPUT, f"BODY 값은 String으로 전달해야 합니다: {not_str}")
        missing = [k for k in required if k not in body]
        if missing:
            raise _Refusal(E_INPUT, f"ERROR INPUT FIELD NOT FOUND {missing}")
        if body["CANO"] != self.cano or body["ACNT_PRDT_CD"] != self.prdt:
            raise _Refusal(*E_ACCOUNT)
        return body

    def _check_price(self, sym: SymbolTape, price: int) -> None:
        lower, upper = sym.limits
        if not krx.on_grid(price):
            down, up = krx.neighbours(price)
            raise _Refusal(E_TICK, f"호가단위 오류입니다. ({price}: 가능한 가격 {down} 또는 {up})")
        if not lower <= price <= upper:
            raise _Refusal(E_LIMIT, f"주문가격이 가격제한폭({lower}~{upper})을 벗어났습니다.")

    def _new_odno(self) -> str:
        self._next_odno += 1
        return f"{self._next_odno:010d}"

    # ------------------------------------------------------------------ OAuth

    async def _token(self, request: web.Request) -> web.Response:
        body = self._loads(await request.text())
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            return self._oauth_error(E_GRANT)
        if body.get("appkey") != self.app_key:
            return self._oauth_error(E_APPKEY)
        if body.get("appsecret") != self.app_secret:
            return self._oauth_error(E_APPSECRET)
        now = self.now()
        if now < self._next_token_at:
            return self._oauth_error(E_TOKEN_RATE)
        self._next_token_at = now + TOKEN_INTERVAL
        if (
            self._last_token
            and now - self._last_token[1] < TOKEN_REUSE
            and self._tokens.get(self._last_token[0], 0) > now
        ):
            token = self._last_token[0]
        else:
            token = self._make_token(now)
            self._tokens[token] = now + TOKEN_LIFETIME
            self._last_token = (token, now)
        self.tokens_issued += 1
        expires = datetime.fromtimestamp(self._tokens[token], KST).strftime("%Y-%m-%d %H:%M:%S")
        remaining = int(self._tokens[token] - now)
        return web.json_response(
            {
                "access_token": token,
                "access_token_token_expired": expires,
                "token_type": "Bearer",
                "expires_in": remaining,
            }
        )

    def _make_token(self, now: float) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

        head = b64(json.dumps({"typ": "JWT", "alg": "HS512"}).encode())
        claims = {
            "sub": "token",
            "aud": str(uuid.uuid4()),
            "prdt_cd": "",
            "iss": "unogw",
            "exp": int(now) + TOKEN_LIFETIME,
            "iat": int(now),
            "jti": self.app_key,
        }
        return f"{head}.{b64(json.dumps(claims).encode())}.{b64(secrets.token_bytes(64))}"

    async def _revoke(self, request: web.Request) -> web.Response:
        # Shape UNCONFIRMED beyond the request fields ([pykis] token_revoke).
        body = self._loads(await request.text())
        if (
            not isinstance(body, dict)
            or body.get("appkey") != self.app_key
            or body.get("appsecret") != self.app_secret
        ):
            return self._oauth_error(E_APPKEY)
        token = str(body.get("token", ""))
        self._tokens.pop(token, None)
        if self._last_token and self._last_token[0] == token:
            self._last_token = None
        return web.json_response(
            {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"},
            dumps=partial(json.dumps, ensure_ascii=False),
        )

    async def _approval(self, request: web.Request) -> web.Response:
        body = self._loads(await request.text())
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            return self._oauth_error(E_GRANT)
        if body.get("appkey") != self.app_key:
            return self._oauth_error(E_APPKEY)
        # The body key is `secretkey`, not `appsecret` (brokers.md 2.2): `appsecret` is refused.
        if body.get("secretkey") != self.app_secret:
            return self._oauth_error(E_APPSECRET)
        key = str(uuid.uuid4())
        self._approvals[key] = (self.app_key, self.now())
        self.approvals_issued += 1
        return web.json_response({"approval_key": key})

    async def _hashkey(self, request: web.Request) -> web.Response:
        # Optional on KIS ("현재는 hash key 필수 사항아님"); provided so a client that calls it works.
        raw = await request.text()
        h = request.headers
        if h.get("appkey") != self.app_key or h.get("appsecret") != self.app_secret:
            return self._rt_error(E_APPKEY, status=self.auth_error_status)
        return self._json({"BODY": self._loads(raw), "HASH": hashlib.sha256(raw.encode()).hexdigest()})

    # ------------------------------------------------------------------ orders

    def _refused(self, rec: OrderRequest, tr_id: str, err: _Refusal) -> web.Response:
        resp = self._rt_error((err.msg_cd, err.msg1), tr_id=tr_id)
        rec.status, rec.rt_cd, rec.msg_cd = 200, "1", err.msg_cd
        return resp

    async def _order_prelude(
        self, request: web.Request, tr_ids: dict[str, Any]
    ) -> tuple[OrderRequest, str, Any, web.Response | None]:
        raw = await request.text()
        rec = OrderRequest(
            path=request.path, tr_id=request.headers.get("tr_id", ""), body=self._loads(raw), at=self.now()
        )
        self.order_requests.append(rec)
        if self._order_faults and self._order_faults[0].kind == "EGW00201":
            self._order_faults.popleft()
            rec.injected = "EGW00201"
            resp = self._rt_error(E_RATE, status=self.rate_error_status, tr_id=rec.tr_id)
            rec.status, rec.rt_cd, rec.msg_cd = resp.status, "1", E_RATE[0]
            return rec, rec.tr_id, rec.body, resp
        gate = self._gate_error(request, rec.tr_id, tr_ids)
        if gate is not None:
            status, code = gate
            rec.status, rec.rt_cd, rec.msg_cd = status, "1", code[0]
            return rec, rec.tr_id, rec.body, self._rt_error(code, status=status, tr_id=rec.tr_id)
        return rec, rec.tr_id, rec.body, None

    def _take_after_create_fault(self) -> _Fault | None:
        if self._order_faults and self._order_faults[0].kind in _AFTER_CREATE:
            return self._order_faults.popleft()
        return None

    async def _answer(
        self,
        request: web.Request,
        rec: OrderRequest,
        body: dict[str, Any],
        tr_id: str,
        accept: Callable[[], Awaitable[None]],
        fault: _Fault | None,
    ) -> web.StreamResponse:
        """Answer a created order/cancel, ordering the REST answer and the notices as injected."""
        rec.status, rec.rt_cd, rec.msg_cd = 200, "0", OK_ORDER[0]
        if fault is not None and fault.kind == "502_after_create":
            rec.status, rec.injected = 502, fault.kind
            await accept()
            return web.Response(
                status=502,
                text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        if fault is not None and fault.kind == "timeout_after_create":
            rec.injected = fault.kind
            await accept()
            await self.sleep(fault.delay)
            return self._json(body, tr_id=tr_id)
        if self._answer_delays:
            delay = self._answer_delays.popleft()
            await accept()
            await self.sleep(delay)
            return self._json(body, tr_id=tr_id)
        # Normal order of events: the REST answer is on the wire before any notice or fill.
        resp = self._json(body, tr_id=tr_id)
        try:
            await resp.prepare(request)
            await resp.write_eof()
        finally:
            await accept()  # the order exists even if the client went away before the answer
        return resp

    async def _order_cash(self, request: web.Request) -> web.StreamResponse:
        rec, tr_id, body, err = await self._order_prelude(request, ORDER_CASH_TR)
        if err is not None:
            return err
        side = ORDER_CASH_TR[tr_id][1]
        try:
            order = self._validate_new_order(body, side, tr_id)
        except _Refusal as refusal:
            return self._refused(rec, tr_id, refusal)
        self.orders.append(order)  # reserves cash/shares at once, before the answer or notices
        rec.odno = order.odno
        fault = self._take_after_create_fault()
        reject = fault is not None and fault.kind == "reject"
        answer = {
            "rt_cd": "0",
            "msg_cd": OK_ORDER[0],
            "msg1": OK_ORDER[1],
            "output": {"KRX_FWDG_ORD_ORGNO": ORGNO, "ODNO": order.odno, "ORD_TMD": order.ord_tmd},
        }

        async def accept() -> None:
            await self._notify(self._order_notice(order, acpt="1"))
            if reject:
                order.status, order.rejected = "rejected", order.qty
                await self._notify(self._order_notice(order, acpt="2", refused=True))
            else:
                self._book.append(order)

        if reject:
            rec.injected = "reject"
            fault = None
        return await self._answer(request, rec, answer, tr_id, accept, fault)

    def _validate_new_order(self, body: Any, side: Side, tr_id: str) -> FakeOrder:
        b = self._check_body(body, ORDER_CASH_FIELDS)
        code = b["PDNO"]
        if not krx.CODE_RE.match(code) or code not in self.tape.symbols:
            raise _Refusal(E_SYMBOL, f"종목코드 오류입니다. ({code!r}: 주문 가능한 종목이 아닙니다)")
        sym = self.tape.symbols[code]
        dvsn = b["ORD_DVSN"]
        if dvsn not in (LIMIT, MARKET):
            # KIS has 02-16 too; the fake models limit and market only.
            raise _Refusal(E_UNSUPPORTED, f"지원하지 않는 주문구분입니다 (ORD_DVSN {dvsn!r}; fake: 00, 01)")
        exch = b.get("EXCG_ID_DVSN_CD", "KRX")
        if exch not in ("KRX", ""):
            raise _Refusal(E_UNSUPPORTED, f"지원하지 않는 거래소입니다 (EXCG_ID_DVSN_CD {exch!r}; fake: KRX)")
        if not _DIGITS.match(b["ORD_QTY"]) or int(b["ORD_QTY"]) <= 0:
            raise _Refusal(E_QTY, f"주문수량 오류입니다 (ORD_QTY {b['ORD_QTY']!r})")
        if not _DIGITS.match(b["ORD_UNPR"]):
            raise _Refusal(E_INPUT, f"주문단가 오류입니다 (ORD_UNPR {b['ORD_UNPR']!r})")
        qty, price = int(b["ORD_QTY"]), int(b["ORD_UNPR"])
        if dvsn == MARKET:
            # Market orders carry ORD_UNPR "0" ([mojito]); a price there is refused rather than
            # silently ignored, since the server's real reaction is UNCONFIRMED.
            if price != 0:
                raise _Refusal(E_INPUT, f'시장가 주문의 ORD_UNPR은 "0"이어야 합니다 ({price})')
        else:
            self._check_price(sym, price)
        # Market buys are margined at the upper limit, as Korean brokers do.
        reserve = sym.limits[1] if dvsn == MARKET else price
        if side == "buy":
            need = self.account.buy_cost(reserve, qty)
            have = self.account.orderable_cash(self.orders)
            if need > have:
                raise _Refusal(E_CASH, f"주문가능금액을 초과 했습니다 (필요 {need}원, 가능 {have}원)")
        else:
            can = self.account.sellable(code, self.orders)
            if qty > can:
                raise _Refusal(E_SHARES, f"주문가능수량을 초과 했습니다 (주문 {qty}주, 가능 {can}주)")
        return FakeOrder(
            odno=self._new_odno(),
            kind="new",
            symbol=code,
            side=side,
            qty=qty,
            price=price,
            ord_dvsn=dvsn,
            tr_id=tr_id,
            created_at=self.now(),
            ord_tmd=self._hhmmss(),
            ord_dt=self._today(),
            reserve_price=reserve,
        )

    async def _order_rvsecncl(self, request: web.Request) -> web.StreamResponse:
        rec, tr_id, body, err = await self._order_prelude(request, RVSECNCL_TR)
        if err is not None:
            return err
        try:
            b = self._check_body(body, RVSECNCL_FIELDS)
            orig = self._find_order(b)
            record, accept = (
                self._cancel(orig, b, tr_id)
                if b["RVSE_CNCL_DVSN_CD"] == "02"
                else self._modify(orig, b, tr_id)
            )
        except _Refusal as refusal:
            return self._refused(rec, tr_id, refusal)
        rec.odno = record.odno
        fault = self._take_after_create_fault()
        if fault is not None and fault.kind == "reject":
            fault = None  # an exchange reject of a cancel is not modelled; answer normally
        answer = {
            "rt_cd": "0",
            "msg_cd": OK_ORDER[0],
            "msg1": OK_ORDER[1],
            "output": {"KRX_FWDG_ORD_ORGNO": ORGNO, "ODNO": record.odno, "ORD_TMD": record.ord_tmd},
        }
        return await self._answer(request, rec, answer, tr_id, accept, fault)

    def _find_order(self, b: dict[str, str]) -> FakeOrder:
        if b["RVSE_CNCL_DVSN_CD"] not in ("01", "02"):
            code = b["RVSE_CNCL_DVSN_CD"]
            raise _Refusal(E_INPUT, f"정정취소구분코드 오류입니다 ({code!r}; 01 정정, 02 취소)")
        if b["KRX_FWDG_ORD_ORGNO"].strip() != ORGNO:
            raise _Refusal(E_NO_ORDER, f"주문조직번호가 올바르지 않습니다 ({b['KRX_FWDG_ORD_ORGNO']!r})")
        if not _DIGITS.match(b["ORGN_ODNO"]):
            raise _Refusal(E_NO_ORDER, f"원주문번호 오류입니다 ({b['ORGN_ODNO']!r})")
        # Compared as numbers: whether KIS accepts ODNO without its leading zeros is UNCONFIRMED.
        wanted = int(b["ORGN_ODNO"])
        for order in self.orders:
            if order.kind != "cancel" and int(order.odno) == wanted:
                if order.status != "open" or order.remaining <= 0:
                    raise _Refusal(E_NO_ORDER, f"정정/취소할 수량이 없습니다 ({order.odno}: {order.status})")
                return order
        raise _Refusal(E_NO_ORDER, f"원주문번호가 존재하지 않습니다 ({b['ORGN_ODNO']})")

    def _change_qty(self, orig: FakeOrder, b: dict[str, str]) -> int:
        if b["QTY_ALL_ORD_YN"] == "Y":
            return orig.remaining
        if b["QTY_ALL_ORD_YN"] != "N" or not _DIGITS.match(b["ORD_QTY"]):
            what = (b["QTY_ALL_ORD_YN"], b["ORD_QTY"])
            raise _Refusal(E_INPUT, f"잔량전부주문여부/주문수량 오류입니다 {what!r}")
        qty = int(b["ORD_QTY"])
        if not 0 < qty <= orig.remaining:
            raise _Refusal(E_QTY, f"정정/취소 가능수량을 초과했습니다 ({qty} > {orig.remaining})")
        return qty

    def _cancel(
        self, orig: FakeOrder, b: dict[str, str], tr_id: str
    ) -> tuple[FakeOrder, Callable[[], Awaitable[None]]]:
        qty = self._change_qty(orig, b)
        record = FakeOrder(
            odno=self._new_odno(),
            kind="cancel",
            symbol=orig.symbol,
            side=orig.side,
            qty=qty,
            price=orig.price,
            ord_dvsn=orig.ord_dvsn,
            tr_id=tr_id,
            created_at=self.now(),
            ord_tmd=self._hhmmss(),
            ord_dt=self._today(),
            orgn_odno=orig.odno,
            status="done",
        )
        orig.cancelled += qty
        if orig.remaining == 0:
            orig.status = "cancelled"
            self._unbook(orig)
        self.orders.append(record)

        async def accept() -> None:
            # Cancel notices: CNTG_YN 1, RCTF_CLS 2 (취소), first ACPT_YN 1 (접수) then 2 (확인),
            # ODER_NO = the cancel's own number, OODER_NO = the original. The reference gives the
            # code meanings; that KIS sends both the 접수 and the 확인 for a cancel is UNCONFIRMED.
            await self._notify(self._order_notice(record, acpt="1", rctf="2"))
            await self._notify(self._order_notice(record, acpt="2", rctf="2"))

        return record, accept

    def _modify(
        self, orig: FakeOrder, b: dict[str, str], tr_id: str
    ) -> tuple[FakeOrder, Callable[[], Awaitable[None]]]:
        qty = self._change_qty(orig, b)
        dvsn = b["ORD_DVSN"]
        if dvsn not in (LIMIT, MARKET):
            raise _Refusal(E_UNSUPPORTED, f"지원하지 않는 주문구분입니다 (ORD_DVSN {dvsn!r}; fake: 00, 01)")
        sym = self.tape.symbols[orig.symbol]
        price = int(b["ORD_UNPR"]) if _DIGITS.match(b["ORD_UNPR"]) else -1
        if dvsn == LIMIT:
            self._check_price(sym, price)
        elif price != 0:
            raise _Refusal(E_INPUT, f'시장가 정정의 ORD_UNPR은 "0"이어야 합니다 ({b["ORD_UNPR"]!r})')
        reserve = sym.limits[1] if dvsn == MARKET else price
        if orig.side == "buy":
            extra = self.account.buy_cost(reserve, qty) - self.account.buy_cost(orig.reserve_price, qty)
            if extra > self.account.orderable_cash(self.orders):
                raise _Refusal(E_CASH, "주문가능금액을 초과 했습니다 (정정)")
        record = FakeOrder(
            odno=self._new_odno(),
            kind="modify",
            symbol=orig.symbol,
            side=orig.side,
            qty=qty,
            price=price,
            ord_dvsn=dvsn,
            tr_id=tr_id,
            created_at=self.now(),
            ord_tmd=self._hhmmss(),
            ord_dt=self._today(),
            orgn_odno=orig.odno,
            reserve_price=reserve,
        )
        orig.replaced += qty
        if orig.remaining == 0:
            orig.status = "replaced"
            self._unbook(orig)
        self.orders.append(record)

        async def accept() -> None:
            await self._notify(self._order_notice(record, acpt="1", rctf="1"))
            await self._notify(self._order_notice(record, acpt="2", rctf="1"))
            self._book.append(record)

        return record, accept

    def _unbook(self, order: FakeOrder) -> None:
        if order in self._book:
            self._book.remove(order)

    # ------------------------------------------------------------------ notices

    def _order_notice(
        self,
        order: FakeOrder,
        *,
        acpt: str,
        rctf: str = "0",
        refused: bool = False,
        fill: tuple[int, int] | None = None,
    ) -> Notice:
        """A notice for `order`. On acks (CNTG_YN 1) fields 9/10 carry the order qty/price, on fills
        this fill's qty/price (brokers.md 2.3). Fills use ACPT_YN 2 (확인): [pykis] reads ACPT_YN 1
        as "an acceptance", so a fill must not carry it."""
        qty, price = fill if fill is not None else (order.qty, order.price)
        return Notice(
            cust_id=self.hts_id,
            acnt_no=f"{self.cano}{self.prdt}",
            oder_no=order.odno,
            ooder_no=order.orgn_odno,
            seln_byov_cls="01" if order.side == "sell" else "02",
            rctf_cls=rctf,
            oder_kind=order.ord_dvsn,
            oder_cond="0",
            code=order.symbol,
            cntg_qty=str(qty),
            cntg_unpr=str(price),
            hour=self._hhmmss(),
            rfus_yn="1" if refused else "0",
            cntg_yn="2" if fill is not None else "1",
            acpt_yn=acpt,
            brnc_no=ORGNO,
            oder_qty=str(order.qty),
            acnt_name="테스트계좌",
            name=name_of(order.symbol),
            oder_prc=str(order.price),
        )

    async def _notify(self, notice: Notice) -> None:
        self.notices.append(notice)
        for conn in list(self._conns):
            key_iv = conn.regs.get((self.notice_tr, self.hts_id))
            if key_iv is not None:
                frame = frames.notice_frame(self.notice_tr, notice, self.notice_layout, *key_iv)
                await self._send(conn, frame)

    # ------------------------------------------------------------------ tape & matching

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            if self._paused:
                continue
            try:
                await self._tick_once()
            except Exception:  # keep the market running; the log shows what broke
                log.exception("fakekis tape step failed")

    async def _tick_once(self) -> None:
        wanted = {key for c in self._conns for (tr, key) in c.regs if tr == frames.TICK_TR}
        wanted |= {o.symbol for o in self._book}
        for code in sorted(wanted & self.tape.symbols.keys()):
            hhmmss = self._hhmmss()
            # A generator: each step is drawn only after the previous one moved the price.
            steps = (self.tape.next_trade(code, hhmmss) for _ in range(self.tape.batch_size()))
            await self._print(self.tape.symbols[code], steps)

    async def _print(self, sym: SymbolTape, trades: Iterable[Trade]) -> None:
        """Apply, publish as one frame (a record per trade, each with the running totals as of that
        trade, like the real feed), then match the account's orders against each trade."""
        date = self._today()
        printed: list[Trade] = []
        records = []
        for t in trades:
            sym.apply(t)
            self.minute_book.add(date, t)
            printed.append(t)
            records.append(sym.record(t, date, self.tape.rng))
        frame = frames.data_frame(frames.TICK_TR, records)
        for conn in list(self._conns):
            if (frames.TICK_TR, sym.code) in conn.regs:
                await self._send(conn, frame)
        for t in printed:
            await self._match(t)

    async def _match(self, trade: Trade) -> None:
        """Working orders of the symbol fill in time priority against this print's volume."""
        volume = trade.qty
        for order in [o for o in self._book if o.symbol == trade.code]:
            if volume <= 0:
                break
            if order.status != "open" or order.remaining <= 0 or not order.crosses(trade):
                continue
            qty = min(volume, order.remaining)
            volume -= qty
            self.account.apply_fill(order, trade.price, qty, name_of(order.symbol))
            if order.remaining == 0:
                self._unbook(order)
            await self._notify(self._order_notice(order, acpt="2", fill=(qty, trade.price)))

    # ------------------------------------------------------------------ inquiries

    def _check_params(self, request: web.Request, names: Iterable[str]) -> dict[str, str]:
        q = request.query
        # The official samples always send every parameter, blanks included; a missing one is refused.
        missing = [n for n in names if n not in q]
        if missing:
            raise _Refusal(E_INPUT, f"ERROR INPUT FIELD NOT FOUND {missing}")
        if q["CANO"] != self.cano or q["ACNT_PRDT_CD"] != self.prdt:
            raise _Refusal(*E_ACCOUNT)
        return {k: q[k] for k in q}

    def _ctx(self, last_key: str) -> tuple[str, str]:
        # Real CTX_AREA_* values are opaque fixed-width 100-char fields; padding with spaces is a
        # guess (UNCONFIRMED). Continuation is matched after rstrip, so echoing them stripped works.
        fk = f"{self.cano}^{self.prdt}^".ljust(100)
        nk = f"{self.cano}^{self.prdt}^{last_key}^".ljust(100) if last_key else "".ljust(100)
        return fk, nk

    def _page(
        self,
        request: web.Request,
        q: dict[str, str],
        rows: list[tuple[str, dict[str, str]]],
        size: int,
        *,
        descending: bool = False,
    ) -> tuple[list[dict[str, str]], str, str, str]:
        """One page of `rows` (sorted (key, row) pairs) -> (rows, response tr_cont, fk, nk).
        Continuation needs the request header tr_cont "N" plus CTX_AREA_NK100 from the previous
        page; without tr_cont N the request is an initial one (tr_cont blank = 초기 조회) and gets
        page one again whatever the CTX fields say."""
        continued = request.headers.get("tr_cont", "") == "N" and q["CTX_AREA_NK100"].strip() != ""
        start = 0
        if continued:
            nk_in = q["CTX_AREA_NK100"].strip()
            parts = nk_in.split("^")
            if len(parts) < 3 or parts[0] != self.cano or parts[1] != self.prdt:
                raise _Refusal(E_INPUT, f"연속조회키 오류입니다 (CTX_AREA_NK100 {nk_in!r})")
            last = parts[2]
            start = next(
                (i for i, (k, _) in enumerate(rows) if (k < last if descending else k > last)), len(rows)
            )
        page = rows[start : start + size]
        more = start + size < len(rows)
        # Last page: D when it is the only page, E after a continuation (UNCONFIRMED split).
        tr_cont: str = ("M" if continued else self.first_page_tr_cont) if more else "E" if continued else "D"
        fk, nk = self._ctx(page[-1][0] if page and more else "")
        return [r for _, r in page], tr_cont, fk, nk

    # Quotations (not in brokers.md; shapes from the official samples, UNCONFIRMED): the same
    # tr_id serves paper and real, since the V-prefix rule only touches T/J/C ids.
    def _quote_symbol(self, request: web.Request, tr: str) -> tuple[str, web.Response | None]:
        tr_id, err = self._gate(request, {tr: (self.env,)})
        if err is not None:
            return "", err
        code = request.query.get("FID_INPUT_ISCD", "")
        if request.query.get("FID_COND_MRKT_DIV_CODE") != "J" or code not in self.tape.symbols:
            return "", self._rt_error((E_INPUT, f"종목코드 {code!r}를 확인하세요"), tr_id=tr_id)
        return code, None

    async def _inquire_price(self, request: web.Request) -> web.Response:
        code, err = self._quote_symbol(request, "FHKST01010100")
        if err is not None:
            return err
        sym = self.tape.symbols[code]
        lower, upper = sym.limits
        out = {
            "stck_prpr": str(sym.price),
            "stck_oprc": str(sym.open or sym.base),
            "stck_hgpr": str(sym.high or sym.base),
            "stck_lwpr": str(sym.low or sym.base),
            "stck_sdpr": str(sym.base),
            "stck_mxpr": str(upper),
            "stck_llam": str(lower),
            "acml_vol": str(sym.acml_vol),
        }
        return self._json(
            {"output": out, "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."},
            tr_id="FHKST01010100",
        )

    async def _inquire_daily_price(self, request: web.Request) -> web.Response:
        code, err = self._quote_symbol(request, "FHKST01010400")
        if err is not None:
            return err
        sym = self.tape.symbols[code]
        today = self.kst().strftime("%Y%m%d")
        # Yesterday: closed at the base, with a 3% range around it.
        rows = [
            {
                "stck_bsop_date": today,
                "stck_oprc": str(sym.open or sym.base),
                "stck_hgpr": str(sym.high or sym.base),
                "stck_lwpr": str(sym.low or sym.base),
                "stck_clpr": str(sym.price),
            },
            {
                "stck_bsop_date": "19990101",
                "stck_oprc": str(sym.base),
                "stck_hgpr": str(krx.round_down(int(sym.base * 1.02))),
                "stck_lwpr": str(krx.round_down(int(sym.base * 0.99))),
                "stck_clpr": str(sym.base),
            },
        ]
        return self._json(
            {"output": rows, "rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."},
            tr_id="FHKST01010400",
        )

    # ------------------------------------------------------------------ minute bars

    def _day_bars(self, code: str) -> list[chart.MinuteBar]:
        """Today's bars of `code`, ascending: the seeded session before the tape began, if that
        was today, then the fake's own prints."""
        today = self._today()
        began = datetime.fromtimestamp(self._tape_began, KST)
        history: list[chart.MinuteBar] = []
        if began.strftime("%Y%m%d") == today:
            cached = self._history.get(code)
            if cached is None:
                sym = self.tape.symbols[code]
                # A str seed goes through sha512, not hash(): the same start gives the same history
                # in every process.
                rng = random.Random(f"fakekis-bars:{self._seed}:{code}:{today}:{began:%H%M}")
                cached = chart.seeded_history(
                    rng, sym.base, sym.limits, chart.history_minutes(began.strftime("%H%M"))
                )
                self._history[code] = cached
            history = cached
        return chart.combine(history, self.minute_book.day(code, today))

    def _minute_query(self, request: web.Request) -> dict[str, str]:
        q = request.query
        # Like the other inquiries: every parameter of the official sample must be sent, in capitals
        # (whether KIS also takes lowercase query keys is UNCONFIRMED).
        missing = [n for n in MINUTE_PARAMS if n not in q]
        if missing:
            raise _Refusal(E_INPUT, f"ERROR INPUT FIELD NOT FOUND {missing}")
        if q["FID_COND_MRKT_DIV_CODE"] != "J":
            # KIS also has NX (NXT) and UN (통합); the fake prints a KRX tape only.
            raise _Refusal(E_INPUT, f"조건시장분류코드 오류입니다 ({q['FID_COND_MRKT_DIV_CODE']!r}; fake: J)")
        code = q["FID_INPUT_ISCD"]
        if code not in self.tape.symbols:
            raise _Refusal(E_INPUT, f"종목코드 {code!r}를 확인하세요")
        hour = q["FID_INPUT_HOUR_1"]
        if not _HHMMSS.match(hour):
            raise _Refusal(E_INPUT, f"입력시간 오류입니다 (FID_INPUT_HOUR_1 HHMMSS: {hour!r})")
        # "과거 데이터 포함 여부": with today-only data both values read the same here (UNCONFIRMED).
        if q["FID_PW_DATA_INCU_YN"] not in ("Y", "N"):
            raise _Refusal(E_INPUT, f"과거데이터포함여부는 Y 또는 N입니다 ({q['FID_PW_DATA_INCU_YN']!r})")
        return {k: q[k] for k in q}

    async def _inquire_time_itemchartprice(self, request: web.Request) -> web.Response:
        tr_id, err = self._gate(request, {MINUTE_TR: (self.env,)})
        if err is not None:
            return err
        try:
            q = self._minute_query(request)
        except _Refusal as refusal:
            return self._rt_error((refusal.msg_cd, refusal.msg1), tr_id=tr_id)
        code = q["FID_INPUT_ISCD"]
        sym = self.tape.symbols[code]
        now = self._hhmmss()
        # "FID_INPUT_HOUR_1 에 미래일시 입력 시에 현재가로 조회됩니다": a later hour reads as now.
        end = min(q["FID_INPUT_HOUR_1"], now)
        bars = self._day_bars(code)
        today = self._today()
        rows: list[tuple[str, dict[str, str]]] = []
        cum = 0
        for b in bars:
            cum += b.amount
            # A bar is labelled with its minute's start, HHMM00, and covers HH:MM:00-59; the label
            # convention is UNCONFIRMED (the in-progress minute is the first row either way).
            rows.append(
                (
                    f"{b.hhmm}00",
                    self._bar_row(today, f"{b.hhmm}00", b.close, b.open, b.high, b.low, b.volume, cum),
                )
            )
        current = f"{now[:4]}00"
        if (
            self.minute_first_row_quirk
            and rows
            and rows[-1][0] < current <= end
            and chart.OPEN <= now[:4] < chart.CONTINUOUS_END
        ):
            # The documented quirk: before the minute's first print its row already exists and
            # carries the previous minute's cntg_vol.
            last = bars[-1]
            rows.append(
                (
                    current,
                    self._bar_row(
                        today, current, last.close, last.close, last.close, last.close, last.volume, cum
                    ),
                )
            )
        # A minute without prints has no row (the fake's tape only prints subscribed or booked
        # symbols), and asking before the first bar gives an empty output2 with rt_cd "0"; what KIS
        # does in both cases is UNCONFIRMED.
        page = [row for hour, row in rows if hour <= end][-chart.MAX_ROWS :]
        page.reverse()  # newest first
        # output1 is the symbol as of now, whatever hour was asked (UNCONFIRMED); its day totals
        # include the seeded history, unlike inquire-price and H0STCNT0, which count from the start.
        diff = sym.price - sym.base
        lower, upper = sym.limits
        summary = {
            "prdy_vrss": str(diff),
            "prdy_vrss_sign": prdy_sign(diff, sym.price, lower, upper),
            "prdy_ctrt": f"{diff / sym.base * 100:.2f}",
            "stck_prdy_clpr": str(sym.base),
            "acml_vol": str(sum(b.volume for b in bars)),
            "acml_tr_pbmn": str(sum(b.amount for b in bars)),
            "hts_kor_isnm": name_of(code),
            "stck_prpr": str(sym.price),
        }
        # No tr_cont continuation: a client pages back by asking again with an earlier hour.
        return self._json(
            {
                "output1": summary,
                "output2": page,
                "rt_cd": "0",
                "msg_cd": psearch.OK[0],
                "msg1": psearch.OK[1],
            },
            tr_id=tr_id,
        )

    @staticmethod
    def _bar_row(
        date: str, hour: str, close: int, open_: int, high: int, low: int, volume: int, cum_amount: int
    ) -> dict[str, str]:
        # acml_tr_pbmn is 누적 거래대금 in the official column mapping: the day's turnover up to
        # and including this minute (whether KIS sends the minute's own turnover is UNCONFIRMED).
        return {
            "stck_bsop_date": date,
            "stck_cntg_hour": hour,
            "stck_prpr": str(close),
            "stck_oprc": str(open_),
            "stck_hgpr": str(high),
            "stck_lwpr": str(low),
            "cntg_vol": str(volume),
            "acml_tr_pbmn": str(cum_amount),
        }

    # ------------------------------------------------------------------ condition search

    def _psearch_gate(self, request: web.Request, tr: str) -> tuple[str, web.Response | None]:
        tr_id, err = self._gate(request, {tr: (self.env,)})
        if err is None and self.env == "paper":
            # "모의투자 미지원" (condition-search.md 4.1); the reply itself is UNCONFIRMED (psearch.py).
            err = self._rt_error(psearch.PAPER_UNSUPPORTED, tr_id=tr_id)
        return tr_id, err

    def _psearch_query(self, request: web.Request, names: Iterable[str]) -> dict[str, str]:
        q = request.query
        missing = [n for n in names if not q.get(n)]
        if missing:
            raise _Refusal(E_INPUT, f"ERROR INPUT FIELD NOT FOUND {missing}")
        # Conditions live under the HTS ID that saved them; another ID has none (UNCONFIRMED reply).
        if q["user_id"] != self.hts_id or not self._conditions:
            raise _Refusal(*psearch.NOT_SAVED)
        return {k: q[k] for k in q}

    async def _psearch_title(self, request: web.Request) -> web.Response:
        tr_id, err = self._psearch_gate(request, psearch.TITLE_TR)
        if err is not None:
            return err
        try:
            self._psearch_query(request, ("user_id",))
        except _Refusal as refusal:
            return self._rt_error((refusal.msg_cd, refusal.msg1), tr_id=tr_id)
        rows = [
            {"user_id": self.hts_id, "seq": c.seq, "grp_nm": c.group, "condition_nm": c.name}
            for c in self._conditions.values()
        ]
        return self._json(
            {"output2": rows, "rt_cd": "0", "msg_cd": psearch.OK[0], "msg1": psearch.OK[1]}, tr_id=tr_id
        )

    async def _psearch_result(self, request: web.Request) -> web.Response:
        tr_id, err = self._psearch_gate(request, psearch.RESULT_TR)
        if err is not None:
            return err
        try:
            q = self._psearch_query(request, ("user_id", "seq"))
            cond = self._conditions.get(q["seq"])  # seq is a key: "00" is not "0"
            if cond is None:
                raise _Refusal(*psearch.NOT_SAVED)
        except _Refusal as refusal:
            return self._rt_error((refusal.msg_cd, refusal.msg1), tr_id=tr_id)
        # Which 100 KIS keeps of a larger match, and in what order, is UNCONFIRMED: code order
        # (the portal example starts at 000120), the first 100.
        members = sorted(cond.members)[: psearch.MAX_RESULTS]
        if not members:
            return self._rt_error(psearch.NO_MATCHES, tr_id=tr_id)
        rows = [self._psearch_row(code) for code in members]
        return self._json(
            {"output2": rows, "rt_cd": "0", "msg_cd": psearch.OK[0], "msg1": psearch.OK[1]}, tr_id=tr_id
        )

    def _psearch_row(self, code: str) -> dict[str, str]:
        sym = self.tape.symbols[code]
        bars = self._day_bars(code)
        lower, upper = sym.limits
        price, base = sym.price, sym.base
        diff = price - base
        f = psearch.fixed16
        if bars:
            daebi = prdy_sign(diff, price, lower, upper)
            day_open, day_high, day_low = bars[0].open, max(b.high for b in bars), min(b.low for b in bars)
        else:
            # The portal example of a symbol that has not traded: daebi "0", price = recprice,
            # open/high/low and the volumes 0.
            daebi, day_open, day_high, day_low = "0", 0, 0, 0
        volume = sum(b.volume for b in bars)
        amount = sum(b.amount for b in bars)
        cttr = sym.shnu_smtn / sym.seln_smtn * 100 if sym.seln_smtn else 0.0
        # 52-week range: synthetic, around the base and never inside today's range.
        high52 = max(krx.round_down(base * 6 // 5), day_high)
        low52 = min(krx.round_down(base * 7 // 10), day_low or base)
        # trade_amt in 백만원, like stotprice in 억원: a 16-character field with 4 decimals cannot
        # hold a large cap's turnover in won. The unit is UNCONFIRMED (the example shows 0).
        # Expected-price fields outside the call auctions: as the portal example shows them
        # (expprice 0, expchggrate -100, expdaebi 5) — UNCONFIRMED during the session.
        return {
            "code": code, "name": name_of(code), "daebi": daebi, "price": f(price, zero_pad=True),
            "chgrate": f(diff / base * 100 if bars else 0.0), "acml_vol": f(volume),
            "trade_amt": f(amount / 1_000_000), "change": f(diff if bars else 0), "cttr": f(cttr),
            "open": f(day_open), "high": f(day_high),
            "low": f(day_low), "high52": f(high52), "low52": f(low52), "expprice": f(0, zero_pad=True),
            "expchange": f(0), "expchggrate": f(-100), "expcvol": f(0),
            "chgrate2": f(volume / sym.prdy_vol * 100), "expdaebi": "5", "recprice": f(base),
            "uplmtprice": f(upper), "dnlmtprice": f(lower),
            "stotprice": f(price * sym.listed_shares / 100_000_000),  # 억원 (example: 31617.9088)
        }  # fmt: skip

    async def _inquire_balance(self, request: web.Request) -> web.Response:
        tr_id, err = self._gate(request, BALANCE_TR)
        if err is not None:
            return err
        try:
            q = self._check_params(request, BALANCE_PARAMS)
            rows = [
                (p.code, self._position_row(p))
                for p in sorted(self.account.positions.values(), key=lambda p: p.code)
                if p.qty > 0 or (self.keep_sold_positions and (p.today_buy or p.today_sell))
            ]
            page, tr_cont, fk, nk = self._page(request, q, rows, self.balance_page_size)
        except _Refusal as refusal:
            return self._rt_error((refusal.msg_cd, refusal.msg1), tr_id=tr_id)
        self.balance_pages_served += 1
        msg = OK_MORE if tr_cont in ("M", "F") else OK_DONE
        body = {
            "ctx_area_fk100": fk,
            "ctx_area_nk100": nk,
            "output1": page,
            "output2": [self._balance_summary()],
            "rt_cd": "0",
            "msg_cd": msg[0],
            "msg1": msg[1],
        }
        return self._json(body, tr_id=tr_id, tr_cont=tr_cont)

    def _position_row(self, p: Position) -> dict[str, str]:
        prpr = self.price_of(p.code)
        base = self.tape.symbols[p.code].base if p.code in self.tape.symbols else prpr
        evlu = prpr * p.qty
        pfls = evlu - p.cost
        rt = pfls / p.cost * 100 if p.cost else 0.0
        return {
            "pdno": p.code, "prdt_name": p.name, "trad_dvsn_name": "현금", "bfdy_buy_qty": "0",
            "bfdy_sll_qty": "0", "thdt_buyqty": str(p.today_buy), "thdt_sll_qty": str(p.today_sell),
            "hldg_qty": str(p.qty), "ord_psbl_qty": str(max(self.account.sellable(p.code, self.orders), 0)),
            "pchs_avg_pric": f"{p.avg_price:.4f}", "pchs_amt": str(p.cost), "prpr": str(prpr),
            "evlu_amt": str(evlu), "evlu_pfls_amt": str(pfls), "evlu_pfls_rt": f"{rt:.2f}",
            "evlu_erng_rt": f"{rt:.8f}", "loan_dt": "", "loan_amt": "0", "stln_slng_chgs": "0",
            "expd_dt": "", "fltt_rt": f"{(prpr - base) / base * 100:.8f}", "bfdy_cprs_icdc": str(prpr - base),
            "item_mgna_rt_name": "20%", "grta_rt_name": "", "sbst_pric": "0", "stck_loan_unpr": "0.0000",
        }  # fmt: skip

    def _balance_summary(self) -> dict[str, str]:
        a = self.account
        held = [p for p in a.positions.values() if p.qty > 0]
        scts = sum(self.price_of(p.code) * p.qty for p in held)
        pchs = sum(p.cost for p in held)
        # KRX settles T+2: dnca_tot_amt (예수금) is the settled cash and does not move with today's
        # trades; prvs_rcdl_excc_amt (D+2) does. A client wanting buying power must not read dnca.
        return {
            "dnca_tot_amt": str(a.cash), "nxdy_excc_amt": str(a.cash), "prvs_rcdl_excc_amt": str(a.d2_cash),
            "cma_evlu_amt": "0", "bfdy_buy_amt": "0", "thdt_buy_amt": str(a.today_buy_amt),
            "nxdy_auto_rdpt_amt": "0", "bfdy_sll_amt": "0", "thdt_sll_amt": str(a.today_sell_amt),
            "d2_auto_rdpt_amt": "0", "bfdy_tlex_amt": "0", "thdt_tlex_amt": str(a.today_fees),
            "tot_loan_amt": "0", "scts_evlu_amt": str(scts), "tot_evlu_amt": str(a.d2_cash + scts),
            "nass_amt": str(a.d2_cash + scts), "fncg_gld_auto_rdpt_yn": "", "pchs_amt_smtl_amt": str(pchs),
            "evlu_amt_smtl_amt": str(scts), "evlu_pfls_smtl_amt": str(scts - pchs),
            "tot_stln_slng_chgs": "0", "bfdy_tot_asst_evlu_amt": str(a.cash), "asst_icdc_amt": "0",
            "asst_icdc_erng_rt": "0.00000000",
        }  # fmt: skip

    async def _inquire_daily_ccld(self, request: web.Request) -> web.Response:
        # UNCONFIRMED endpoint (not in brokers.md): shape from the official examples_llm sample
        # (output1 rows, output2 one totals object, 100 real / 15 paper rows per page).
        tr_id, err = self._gate(request, CCLD_TR)
        if err is not None:
            return err
        try:
            q = self._check_params(request, CCLD_PARAMS)
            for name in ("INQR_STRT_DT", "INQR_END_DT"):
                if not _DATE.match(q[name]):
                    raise _Refusal(E_INPUT, f"{name} 형식 오류입니다 (YYYYMMDD): {q[name]!r}")
            orders = self._ccld_orders(q)
            descending = q["INQR_DVSN"] != "01"  # 00 역순 (newest first), 01 정순
            rows = sorted(
                ((o.odno, self._ccld_row(o)) for o in orders), key=lambda r: r[0], reverse=descending
            )
            page, tr_cont, fk, nk = self._page(request, q, rows, self.ccld_page_size, descending=descending)
        except _Refusal as refusal:
            return self._rt_error((refusal.msg_cd, refusal.msg1), tr_id=tr_id)
        self.ccld_pages_served += 1
        new = [o for o in orders if o.kind != "cancel"]
        filled_qty = sum(o.filled for o in new)
        filled_amt = sum(o.fill_amount for o in new)
        buys = [o for o in new if o.side == "buy" and o.filled]
        buy_avg = sum(o.fill_amount for o in buys) / sum(o.filled for o in buys) if buys else 0.0
        msg = OK_MORE if tr_cont in ("M", "F") else OK_DONE
        body = {
            "ctx_area_fk100": fk,
            "ctx_area_nk100": nk,
            "output1": page,
            "output2": {
                "tot_ord_qty": str(sum(o.qty for o in new)),
                "tot_ccld_qty": str(filled_qty),
                "tot_ccld_amt": str(filled_amt),
                "prsm_tlex_smtl": str(self.account.today_fees),
                "pchs_avg_pric": f"{buy_avg:.4f}",
            },
            "rt_cd": "0",
            "msg_cd": msg[0],
            "msg1": msg[1],
        }
        return self._json(body, tr_id=tr_id, tr_cont=tr_cont)

    def _ccld_orders(self, q: dict[str, str]) -> list[FakeOrder]:
        side = {"01": "sell", "02": "buy"}.get(q["SLL_BUY_DVSN_CD"])
        out = []
        for o in self.orders:
            if not q["INQR_STRT_DT"] <= o.ord_dt <= q["INQR_END_DT"]:
                continue  # KIS lists the orders of the requested Seoul dates only
            if side is not None and o.side != side:
                continue
            if q["PDNO"] and o.symbol != q["PDNO"]:
                continue
            if q["ODNO"] and (not _DIGITS.match(q["ODNO"]) or int(o.odno) != int(q["ODNO"])):
                continue
            if q["CCLD_DVSN"] == "01" and not o.filled:
                continue
            if q["CCLD_DVSN"] == "02" and not (o.status == "open" and o.remaining > 0):
                continue
            out.append(o)
        return out

    def _ccld_row(self, o: FakeOrder) -> dict[str, str]:
        cancel = o.kind == "cancel"
        dvsn_name = "취소" if cancel else ("시장가" if o.is_market else "지정가")
        side_name = ("매도" if o.side == "sell" else "매수") + ("취소" if cancel else "")
        return {
            "ord_dt": o.ord_dt, "ord_gno_brno": ORGNO, "odno": o.odno, "orgn_odno": o.orgn_odno,
            "ord_dvsn_name": dvsn_name, "sll_buy_dvsn_cd": "01" if o.side == "sell" else "02",
            "sll_buy_dvsn_cd_name": f"현금{side_name}", "pdno": o.symbol, "prdt_name": name_of(o.symbol),
            "ord_qty": str(o.qty), "ord_unpr": str(o.price), "ord_tmd": o.ord_tmd,
            "tot_ccld_qty": str(o.filled), "avg_prvs": str(round(o.avg_fill_price)),
            "cncl_yn": "Y" if cancel else "N", "tot_ccld_amt": str(o.fill_amount), "loan_dt": "",
            "ordr_empno": "", "ord_dvsn_cd": o.ord_dvsn, "cnc_cfrm_qty": str(o.cancelled),
            "rmn_qty": str(o.remaining if o.status == "open" else 0), "rjct_qty": str(o.rejected),
            "ccld_cndt_name": "없음", "inqr_ip_addr": "", "cpbc_ordp_ord_rcit_dvsn_cd": "",
            "cpbc_ordp_infm_mthd_dvsn_cd": "", "infm_tmd": "", "ctac_tlno": "", "prdt_type_cd": "300",
            "excg_dvsn_cd": "02", "cpbc_ordp_mtrl_dvsn_cd": "", "ord_orgno": ORGNO, "rsvn_ord_end_dt": "",
            "excg_id_dvsn_cd": "KRX", "stpm_cndt_pric": "0", "stpm_efct_occr_dtmd": "",
        }  # fmt: skip

    # ------------------------------------------------------------------ websocket

    async def _catch_all(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=False)  # PINGPONG answers may come as pong frames: see them
        if not ws.can_prepare(request).ok:
            raise web.HTTPNotFound(text=f"no such API: {request.method} {request.path}")
        await ws.prepare(request)
        self._conn_seq += 1
        conn = WsConn(id=self._conn_seq, ws=ws, request=request, path=request.path)
        self._conns.append(conn)
        self.connections_total += 1
        pinger = self.spawn(self._pingpong_loop(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                    # The legacy official client answers PINGPONG with a ping frame carrying the
                    # text; other pings (keepalives of websocket libraries) are not answers.
                    if b"PINGPONG" in msg.data:
                        self._answered(conn)
                elif msg.type == WSMsgType.PONG:
                    self._answered(conn)
                elif msg.type == WSMsgType.BINARY:
                    await self._send(conn, frames.control_ack("", "", frames.JSON_ERROR, ok=False))
        finally:
            conn.closed = True
            pinger.cancel()
            if conn.appkey is not None and self._owner.get(conn.appkey) is conn:
                del self._owner[conn.appkey]
            if conn in self._conns:
                self._conns.remove(conn)
        return ws

    async def _send(self, conn: WsConn, text: str) -> int:
        if conn.closed or conn.ws.closed:
            return 0
        try:
            await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return 0
        return 1

    def _answered(self, conn: WsConn) -> None:
        if conn.pingpong_outstanding:
            conn.pingpong_outstanding = False
            self.pingpongs_answered += 1

    async def _pingpong(self, conn: WsConn) -> None:
        conn.pingpong_outstanding = True
        self.pingpongs_sent += 1
        await self._send(conn, frames.pingpong(self.kst().strftime("%Y%m%d%H%M%S")))

    async def _pingpong_loop(self, conn: WsConn) -> None:
        # Whether KIS drops a session that never answers is UNCONFIRMED: off unless pingpong_timeout.
        while not conn.closed:
            await asyncio.sleep(self.pingpong_interval)
            await self._pingpong(conn)
            if self.pingpong_timeout is not None:
                await asyncio.sleep(self.pingpong_timeout)
                if conn.pingpong_outstanding:
                    await conn.ws.close(code=1000, message=b"PINGPONG timeout")
                    return

    async def _on_text(self, conn: WsConn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        header = msg.get("header") if isinstance(msg, dict) else None
        if not isinstance(header, dict):
            await self._send(conn, frames.control_ack("", "", frames.JSON_ERROR, ok=False))
            return
        if header.get("tr_id") == frames.PINGPONG:
            self._answered(conn)  # the text echo used by pykis/mojito
            return
        body = msg.get("body") if isinstance(msg, dict) else None
        inp = body.get("input") if isinstance(body, dict) else None
        if not isinstance(inp, dict):
            await self._send(conn, frames.control_ack("", "", frames.JSON_ERROR, ok=False))
            return
        tr_id, tr_key = str(inp.get("tr_id", "")), str(inp.get("tr_key", ""))
        ack = await self._register(conn, header, tr_id, tr_key)
        if ack is not None:
            await self._send(conn, ack)

    async def _register(self, conn: WsConn, header: dict[str, Any], tr_id: str, tr_key: str) -> str | None:
        def refuse(code: tuple[str, str]) -> str:
            return frames.control_ack(tr_id, tr_key, code, ok=False)

        approval = self._approvals.get(str(header.get("approval_key", "")))
        # The key is checked only when a session registers (brokers.md 2.2).
        if approval is None or self.now() - approval[1] > APPROVAL_LIFETIME:
            return refuse(frames.INVALID_APPROVAL)
        appkey = approval[0]
        owner = self._owner.get(appkey)
        if owner is not None and owner is not conn and not owner.closed:
            return refuse(frames.APPKEY_IN_USE)
        tr_type = header.get("tr_type")
        if tr_type not in ("1", "2"):
            # "0" for unregister appears in new official docstrings but contradicts the portal.
            return refuse(frames.JSON_ERROR)
        notice = tr_id in (frames.NOTICE_TR_REAL, frames.NOTICE_TR_PAPER)
        if tr_id != frames.TICK_TR and tr_id != self.notice_tr:
            return refuse(frames.INVALID_TR_ID)
        if notice and tr_key != self.hts_id:
            if self.wrong_hts_id == "close":
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
                return None
            return refuse(frames.INVALID_TR_KEY)
        if not notice and not krx.CODE_RE.match(tr_key):
            return refuse(frames.INVALID_TR_KEY)
        key = (tr_id, tr_key)
        if tr_type == "1":
            if key in conn.regs:
                return refuse(frames.ALREADY_SUBSCRIBED)
            if len(conn.regs) >= self.max_registrations:
                return refuse(frames.MAX_SUBSCRIBE)
            conn.appkey = appkey
            self._owner[appkey] = conn
            # A well-formed but unknown code is registered and simply never ticks.
            conn.regs[key] = frames.new_key_iv()
            return frames.control_ack(
                tr_id, tr_key, frames.SUBSCRIBE_OK, ok=True, encrypt=notice, key_iv=conn.regs[key]
            )
        if key not in conn.regs:
            return refuse(frames.NOT_SUBSCRIBED)
        key_iv = conn.regs.pop(key)
        return frames.control_ack(
            tr_id, tr_key, frames.UNSUBSCRIBE_OK, ok=True, encrypt=notice, key_iv=key_iv
        )
