"""A protocol-faithful fake of the Kiwoom (키움증권) REST API + WebSocket service (2025 REST service).

Built from /work/shared/reference/brokers.md section 3 (and 4, 5), condition-search.md sections 2
and 6, krx.md, and the official spec Kiwoom-Securities/Kiwoom-REST-API
(kiwoom/_data/kiwoom_api_spec.json @451f89c0 and the examples/ scripts) — never from an adapter, so
it can cross-check one. REST and websocket share one port on 127.0.0.1. Usage::

    fake = FakeKiwoom(env="paper", rate_limits=None)
    await fake.start()
    ... POST fake.url + "/oauth2/token", "/api/dostk/ordr" ...; websocket fake.ws_url ...
    await fake.stop()

One instance is one environment (`env` "real" or "paper", like api.kiwoom.com and
mockapi.kiwoom.com); each has its own app key, and the other environment's key is refused with a
mode-mismatch code. Start two fakes to test both.

Test hooks:
- clock: `advance_clock(s)`, `expire_tokens(code=8005)`.
- faults: `fail_next(api_id, status, n)` (bare HTTP status, nothing done);
  `fail_next_orders(n, status=500)` (order created and processed, answered with a bare 5xx);
  `notice_before_answer(n)` (the order's 00 frames, fills included, go out before its REST answer);
  `delay_next_order_answer(seconds)` (notices go out, the answer waits); `reject_next_orders(n)`
  (answered OK, then 접수 + 거부); `rate_limit_next(n, api_id=None, style=None)` (1700 on demand);
  `set_rate_limits(...)`; `drop_websockets()`; `send_raw(text)`; `send_ping()`.
- market: `pause_tape()`, `resume_tape()`, `trade(code, price, qty, side)`, `add_symbol(code, base)`.
- account: `set_cash(n)`, `add_position(code, qty, avg_price)`, `seed_positions(count)`,
  `set_page_size(api_id, n)`.
- conditions: `set_conditions(rows)`, `set_condition_members(seq, codes)`,
  `await condition_enter(seq, code)`, `await condition_leave(seq, code)`.
Inspection: `tokens_issued`, `orders`, `order_requests`, `requests`, `events` (00 values sent),
`connections`, `registrations`, `pings_sent`, `pings_answered`, `conditions_registered`,
`condition_requests`, `pages_served`.

Where the reference is silent or says UNCONFIRMED the choice is commented at the spot (search for
"UNCONFIRMED") and listed in README.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from engine.clock import Clock
from tests import fakekrx as krx
from tests.fakekiwoom import codec
from tests.fakekiwoom.account import LIMIT, MARKET, TRDE_TP_NAMES, Account, FakeOrder, Fill, Position
from tests.fakekiwoom.conditions import Conditions, ConditionSettings
from tests.fakekiwoom.tape import SymbolTape, Tape, Trade
from tests.fakekiwoom.ws import BALANCE, ORDER_EVENTS, WS_PATH, WsConn, WsHub, WsSettings
from tests.fakeserver import FakeServer
from tests.faketape import DEFAULT_SYMBOLS, Side, name_of

log = logging.getLogger(__name__)

Env = Literal["real", "paper"]
Category = Literal["order", "query"]

# Separate key pairs per environment ([KW-off] README "운영(real)과 모의투자(demo)는 키가 서로 다릅니다").
DEFAULT_KEYS: dict[Env, tuple[str, str]] = {
    "real": ("RLfakeKiwoomRealAppKey0123456789abcdef", "RLfakeKiwoomRealSecretKey0123456789abcdefghij"),
    "paper": ("PPfakeKiwoomPaperAppKey0123456789abcde", "PPfakeKiwoomPaperSecretKey0123456789abcdefghi"),
}
TOKEN_LIFETIME = 86_400.0  # ~24 h per third-party guides: UNCONFIRMED (clients must read expires_dt)

ORDR = "/api/dostk/ordr"
ACNT = "/api/dostk/acnt"
STKINFO = "/api/dostk/stkinfo"
CHART = "/api/dostk/chart"

# api-id -> (URL, rate-limit category). From the official spec's meta (URL) for each API.
APIS: dict[str, tuple[str, Category]] = {
    "kt10000": (ORDR, "order"),  # 주식 매수주문
    "kt10001": (ORDR, "order"),  # 주식 매도주문
    "kt10002": (ORDR, "order"),  # 주식 정정주문 (refused: not modelled)
    "kt10003": (ORDR, "order"),  # 주식 취소주문
    "ka00001": (ACNT, "query"),  # 계좌번호조회
    "kt00001": (ACNT, "query"),  # 예수금상세현황요청
    "kt00018": (ACNT, "query"),  # 계좌평가잔고내역요청
    "ka10075": (ACNT, "query"),  # 미체결요청
    "ka10076": (ACNT, "query"),  # 체결요청
    "kt00007": (ACNT, "query"),  # 계좌별주문체결내역상세요청
    "ka10001": (STKINFO, "query"),  # 주식기본정보요청
    "ka10080": (CHART, "query"),  # 주식분봉차트조회요청
    "ka10081": (CHART, "query"),  # 주식일봉차트조회요청
}

# Page sizes: none is published; these are the fake's defaults (UNCONFIRMED), changeable per test.
DEFAULT_PAGE_SIZES: dict[str, int] = {
    "kt00018": 20,
    "ka10075": 20,
    "ka10076": 20,
    "kt00007": 20,
    "ka10080": 900,
    "ka10081": 600,
}
TIC_SCOPES = frozenset({1, 3, 5, 10, 15, 30, 45, 60})

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Refusal(Exception):
    """A business refusal: answered HTTP 200 with a non-zero return_code."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


def _biz(msg: str) -> _Refusal:
    return _Refusal(codec.BUSINESS_REFUSAL, msg)


@dataclass
class IssuedToken:
    token: str
    app_key: str
    env: Env
    issued_at: float
    expires_at: float
    revoked: bool = False
    expired_code: int | None = None  # set by expire_tokens(): the code the server answers with


@dataclass
class RestRequest:
    api_id: str
    path: str
    body: Any
    at: float
    cont_yn: str = ""
    next_key: str = ""
    status: int = 0
    return_code: int | None = None


@dataclass
class OrderRequest:
    """Every POST to /api/dostk/ordr, refused ones included (to prove "exactly one order")."""

    api_id: str
    body: Any
    at: float
    status: int = 0
    return_code: int | None = None
    ord_no: str = ""
    injected: str = ""


@dataclass
class _OrderFault:
    kind: Literal["5xx", "notice_first", "delay", "reject"]
    status: int = 500
    delay: float = 0.0


@dataclass
class _ApiFault:
    api_id: str
    status: int
    n: int


@dataclass
class _RateFault:
    api_id: str | None
    n: int
    style: codec.ErrorStyle | None


@dataclass
class _Window:
    limit: float
    stamps: deque[float] = field(default_factory=deque)

    def take(self) -> bool:
        """True when the request may pass (and uses up a slot); refusals do not use the window."""
        now = time.monotonic()  # real elapsed time: a frozen test clock must not freeze the limiter
        while self.stamps and now - self.stamps[0] >= 1.0:
            self.stamps.popleft()
        if len(self.stamps) >= max(1, int(self.limit)):
            return False
        self.stamps.append(now)
        return True


class FakeKiwoom(FakeServer):
    ws_path = WS_PATH
    tape_name = "fakekiwoom-tape"

    def __init__(
        self,
        *,
        env: Env = "paper",
        app_key: str | None = None,
        app_secret: str | None = None,
        account: str = "5012345678",
        symbols: dict[str, int] | None = None,
        cash: int = 10_000_000,
        rate_limits: dict[Category, float] | Literal["env"] | None = "env",
        rate_error_style: codec.ErrorStyle = "wrapped",
        auth_error_style: codec.ErrorStyle = "code",
        error_http_status: int = 200,
        token_lifetime: float = TOKEN_LIFETIME,
        tick_interval: float = 0.05,
        seed: int = 1,
        page_sizes: dict[str, int] | None = None,
        history_minutes: int = 30,
        history_days: int = 5,
        commission_rate: float = 0.00015,
        sell_tax_rate: float = 0.0020,
        first_ord_no: int = 1,
        conditions: ConditionSettings | None = None,
        ws: WsSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        if env not in ("real", "paper"):
            raise ValueError(f"env must be 'real' or 'paper', not {env!r}")
        if len(account) != 10 or not account.isdigit():
            raise ValueError(f"account must be 10 digits (ka00001 acctNo), not {account!r}")
        self.env: Env = env
        other: Env = "paper" if env == "real" else "real"
        self.app_key = app_key or DEFAULT_KEYS[env][0]
        self.app_secret = app_secret or DEFAULT_KEYS[env][1]
        self.other_env_key = DEFAULT_KEYS[other][0]
        self.rate_error_style: codec.ErrorStyle = rate_error_style
        self.auth_error_style: codec.ErrorStyle = auth_error_style
        # The HTTP status of envelope errors (rate limit, token) is UNCONFIRMED: the official client
        # reads return_code; 200 keeps the envelope the only signal. 429/401 are plausible too.
        self.error_http_status = error_http_status
        self.token_lifetime = token_lifetime
        self.tick_interval = tick_interval
        self.page_sizes = {**DEFAULT_PAGE_SIZES, **(page_sizes or {})}
        # The one clock of the test: token expiry, order times, Seoul dates, bars.
        self.clock = clock or Clock()
        self._windows: dict[Category, _Window] = {}
        self.set_rate_limits(rate_limits)

        self.tape = Tape(dict(symbols) if symbols is not None else dict(DEFAULT_SYMBOLS), seed)
        now = self.clock.now()
        for sym in self.tape.symbols.values():
            self.tape.seed_history(sym, now.date(), history_days)
            self.tape.backfill(sym, now, history_minutes)
        self.account = Account(
            acct_no=account, cash=cash, commission_rate=commission_rate, sell_tax_rate=sell_tax_rate
        )
        self.conditions = Conditions(conditions or ConditionSettings())
        ws_settings = ws or WsSettings()
        ws_settings.paper = env == "paper"
        self.hub = WsHub(ws_settings, self._ws_auth, self.conditions, self._condition_quote)

        # Inspection.
        self.tokens_issued: list[IssuedToken] = []
        self.orders: list[FakeOrder] = []
        self.order_requests: list[OrderRequest] = []
        self.requests: list[RestRequest] = []
        self.events: list[dict[str, str]] = []  # every 00 values dict the account produced
        # The order of what went on the wire for orders: ("00", "ord_no:913") when a 00 event is
        # pushed, ("rest", "api_id:ord_no:status") when an order answer is written.
        self.timeline: list[tuple[str, str]] = []
        self.pages_served: dict[str, int] = {}

        self._next_ord_no = first_ord_no
        self._next_cntr_no = 0
        self._order_faults: deque[_OrderFault] = deque()
        self._api_faults: list[_ApiFault] = []
        self._rate_faults: list[_RateFault] = []
        self._book: list[FakeOrder] = []  # working orders in time priority
        self._paused = False

    # ------------------------------------------------------------------ lifecycle

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/oauth2/token", self._token)
        router.add_post("/oauth2/revoke", self._revoke)
        router.add_get(WS_PATH, self.hub.handle)
        for path in (ORDR, ACNT, STKINFO, CHART):
            router.add_post(path, self._dispatch)
        router.add_route("*", "/{tail:.*}", self._not_found)

    async def close_sockets(self) -> None:
        await self.hub.shutdown()

    # ------------------------------------------------------------------ hooks: clock & faults

    def now(self) -> datetime:
        return self.clock.now()

    def advance_clock(self, seconds: float) -> None:
        """Move the (shared) clock, e.g. past a token's expires_dt."""
        self.clock.advance(seconds)

    def expire_tokens(self, code: int = codec.TOKEN_INVALID) -> None:
        """Every issued token expires now; requests with one get `code` (8005, 8031 or 8103 are
        the codes the official client treats as "re-issue the token and retry once")."""
        if code not in codec.TOKEN_CODES:
            raise ValueError(f"token codes are {codec.TOKEN_CODES}, not {code}")
        past = self.clock.time() - 1
        for tok in self.tokens_issued:
            tok.expires_at = min(tok.expires_at, past)
            tok.expired_code = code

    def set_rate_limits(self, limits: dict[Category, float] | Literal["env"] | None) -> None:
        """Per-second limits per category; "env" = the published policy as quoted by third parties
        (brokers.md 3.6, UNCONFIRMED): 조회 5/s and 주문 5/s on real, 조회 1/s on paper (paper
        orders: not stated; 5/s assumed). None disables limiting."""
        if limits == "env":
            limits = {"order": 5.0, "query": 5.0 if self.env == "real" else 1.0}
        self._windows = {cat: _Window(rate) for cat, rate in (limits or {}).items()}

    def rate_limit_next(
        self, n: int = 1, api_id: str | None = None, style: codec.ErrorStyle | None = None
    ) -> None:
        """The next `n` REST calls (of `api_id`, or any) are refused with 1700 whatever the load."""
        self._rate_faults.append(_RateFault(api_id, n, style))

    def fail_next(self, api_id: str, status: int = 500, n: int = 1) -> None:
        """The next `n` calls of `api_id` get a bare HTTP `status` before anything is done."""
        self._api_faults.append(_ApiFault(api_id, status, n))

    def fail_next_orders(self, n: int = 1, status: int = 500) -> None:
        """The next `n` accepted orders (kt10000/1/3) are created and processed (notices, fills)
        but answered with a bare `status`: the order exists while the client sees a failure."""
        self._order_faults.extend(_OrderFault("5xx", status=status) for _ in range(n))

    def notice_before_answer(self, n: int = 1) -> None:
        """The next `n` accepted orders' 00 frames (접수 and, for market orders, 체결) go out on
        the websocket before the REST answer is written."""
        self._order_faults.extend(_OrderFault("notice_first") for _ in range(n))

    def delay_next_order_answer(self, seconds: float) -> None:
        """The next accepted order is processed at once (00 frames go out) but its REST answer is
        held back `seconds`."""
        self._order_faults.append(_OrderFault("delay", delay=seconds))

    def reject_next_orders(self, n: int = 1) -> None:
        """The next `n` new orders are answered return_code 0 with an ord_no, then the exchange
        refuses them: 00 frames 접수 then 거부."""
        self._order_faults.extend(_OrderFault("reject") for _ in range(n))

    async def drop_websockets(self) -> int:
        """Abort every websocket's TCP connection without a close frame."""
        return self.hub.drop_all()

    async def send_raw(self, text: str, conn_id: int | None = None) -> int:
        sent = 0
        for conn in self.hub.connections:
            if conn_id is None or conn.id == conn_id:
                sent += await self.hub.send(conn, text)
        return sent

    async def send_ping(self) -> None:
        """A PING now on every logged-in connection (besides the periodic ones)."""
        for conn in self.hub.connections:
            if conn.logged_in:
                await self.hub.send_ping(conn)

    def set_page_size(self, api_id: str, n: int) -> None:
        self.page_sizes[api_id] = n
        if api_id == "CNSRREQ":
            self.conditions.settings.page_size = n

    # ------------------------------------------------------------------ hooks: market & account

    def pause_tape(self) -> None:
        self._paused = True

    def resume_tape(self) -> None:
        self._paused = False

    def add_symbol(self, code: str, base: int) -> SymbolTape:
        sym = self.tape.add(code, base)
        self.tape.seed_history(sym, self.now().date(), 5)
        return sym

    async def trade(self, code: str, price: int | None = None, qty: int = 100, side: Side = "buy") -> None:
        """Print one trade now (published on 0B and matched), e.g. while the tape is paused."""
        sym = self.tape.symbols[code]
        price = sym.price if price is None else price
        lower, upper = sym.limits
        if not krx.on_grid(price) or not lower <= price <= upper:
            raise ValueError(f"{price} is off the grid or outside {lower}..{upper}")
        await self._print(sym, Trade(code=code, price=price, qty=qty, side=side, at=self.now()))

    def set_cash(self, amount: int) -> None:
        self.account.cash = self.account.d2_cash = amount

    def add_position(self, code: str, qty: int, avg_price: int, *, name: str | None = None) -> None:
        """Hold `qty` shares bought before today (a code without a tape gets one at avg_price)."""
        if code not in self.tape.symbols:
            self.add_symbol(code, krx.round_down(avg_price))
        self.account.positions[code] = Position(
            code=code, name=name or name_of(code), qty=qty, cost=qty * avg_price, prior_qty=qty
        )

    def seed_positions(self, count: int, *, qty: int = 10, price: int = 10_000) -> list[str]:
        """`count` synthetic positions (codes 900000 upward) to exercise continuation."""
        codes = [f"{900_000 + i:06d}" for i in range(count)]
        for i, code in enumerate(codes):
            self.add_position(code, qty, price + 10 * i, name=f"시드종목{i:03d}")
        return codes

    # ------------------------------------------------------------------ hooks: conditions

    def set_conditions(self, rows: list[tuple[str, str]]) -> None:
        """The conditions saved in 영웅문4, as CNSRLST lists them: [(seq, name), ...]."""
        self.conditions.set_rows(rows)

    def set_condition_members(self, seq: str, codes: list[str]) -> None:
        """The symbols matching condition `seq` right now (no frames are sent)."""
        self.conditions.set_members(seq, codes)

    async def condition_enter(self, seq: str, code: str) -> int:
        """`code` enters condition `seq`: a REAL 02 frame with 843 "I" to every connection that
        registered `seq` in realtime. Returns the number of frames sent."""
        self.conditions.enter(seq, code)
        return await self._condition_push(seq, code, "I")

    async def condition_leave(self, seq: str, code: str) -> int:
        self.conditions.leave(seq, code)
        return await self._condition_push(seq, code, "D")

    async def _condition_push(self, seq: str, code: str, flag: Literal["I", "D"]) -> int:
        s = self.conditions.settings
        entry = codec.condition_event(
            seq, code, flag, self._hhmmss(), with_907=s.with_907, value_9081=s.value_9081
        )
        return await self.hub.publish_condition(seq, entry)

    # ------------------------------------------------------------------ inspection

    @property
    def connections(self) -> list[WsConn]:
        return self.hub.connections

    @property
    def registrations(self) -> dict[int, set[tuple[str, str]]]:
        return self.hub.registrations()

    @property
    def conditions_registered(self) -> dict[int, set[str]]:
        return self.hub.conditions_registered()

    @property
    def condition_requests(self) -> list[dict[str, Any]]:
        return self.conditions.requests

    @property
    def pings_sent(self) -> int:
        return self.hub.pings_sent

    @property
    def pings_answered(self) -> int:
        return self.hub.pings_answered

    @property
    def working_orders(self) -> list[FakeOrder]:
        return list(self._book)

    def order(self, ord_no: str) -> FakeOrder:
        return next(o for o in self.orders if o.ord_no == ord_no)

    @property
    def token(self) -> str | None:
        live = [t for t in self.tokens_issued if not t.revoked and t.expires_at > self.clock.time()]
        return live[-1].token if live else None

    # ------------------------------------------------------------------ HTTP plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        api_id = request.headers.get("api-id", "")
        for fault in self._api_faults:
            if fault.n > 0 and fault.api_id == api_id:
                fault.n -= 1
                self.requests.append(
                    RestRequest(api_id, request.path, None, self.clock.time(), status=fault.status)
                )
                if request.path == ORDR:
                    rec = OrderRequest(
                        api_id,
                        self._loads(await request.text()),
                        self.clock.time(),
                        status=fault.status,
                        injected=f"fail_next {fault.status}",
                    )
                    self.order_requests.append(rec)
                return web.Response(status=fault.status, text=f"{fault.status} injected by FakeKiwoom")
        return await handler(request)

    @staticmethod
    def _loads(raw: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def _json(
        self, body: dict[str, Any], api_id: str, *, status: int = 200, cont_yn: str = "N", next_key: str = ""
    ) -> web.Response:
        # Response headers echo api-id and carry the continuation (spec response header table).
        headers = {"api-id": api_id, "cont-yn": cont_yn, "next-key": next_key}
        return web.Response(
            text=codec.dumps(body),
            status=status,
            headers=headers,
            content_type="application/json",
            charset="utf-8",
        )

    def _error(self, body: dict[str, Any], api_id: str, status: int = 200) -> web.Response:
        return self._json(body, api_id, status=status)

    def _refusal(self, code: int, msg: str, api_id: str) -> web.Response:
        return self._json({"return_code": code, "return_msg": msg}, api_id)

    def _hhmmss(self) -> str:
        return self.now().strftime("%H%M%S")

    def _today(self) -> str:
        return self.now().strftime("%Y%m%d")

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"return_code": codec.UNKNOWN_API, "return_msg": f"no such URL: {request.method} {request.path}"},
            status=404,
        )

    # ------------------------------------------------------------------ OAuth (au10001 / au10002)

    def _check_credentials(self, body: Any) -> tuple[int, str] | None:
        if not isinstance(body, dict):
            return codec.INPUT_ERROR, "요청 본문은 JSON 객체입니다"
        key = body.get("appkey")
        if key == self.other_env_key:
            what = "모의투자" if self.env == "paper" else "실전투자"
            return codec.MODE_MISMATCH, f"{what} 서버에 다른 환경의 앱키로 요청했습니다"
        if key != self.app_key:
            return codec.APPKEY_INVALID, "앱키가 유효하지 않습니다"
        if body.get("secretkey") != self.app_secret:
            return codec.SECRET_INVALID, "시크릿키가 유효하지 않습니다"
        return None

    async def _token(self, request: web.Request) -> web.Response:
        api_id = request.headers.get("api-id", "au10001")
        body = self._loads(await request.text())
        self.requests.append(RestRequest(api_id, request.path, body, self.clock.time()))
        if api_id != "au10001":
            return self._refusal(codec.UNKNOWN_API, f"api-id 오류 ({api_id!r}; au10001)", api_id)
        err = self._check_credentials(body)
        if err is None and body.get("grant_type") != "client_credentials":
            err = (codec.INPUT_ERROR, "grant_type은 client_credentials입니다")
        if err is not None:
            return self._json(
                {"return_code": err[0], "return_msg": err[1]}, api_id, status=self.error_http_status
            )
        now = self.clock.time()
        # A fresh token on every call, earlier ones staying valid until they expire: whether Kiwoom
        # re-issues the same token within its lifetime is UNCONFIRMED.
        tok = IssuedToken(
            token=secrets.token_urlsafe(64),
            app_key=self.app_key,
            env=self.env,
            issued_at=now,
            expires_at=now + self.token_lifetime,
        )
        self.tokens_issued.append(tok)
        expires = (self.now() + timedelta(seconds=self.token_lifetime)).strftime("%Y%m%d%H%M%S")
        return self._json(
            {
                "expires_dt": expires,
                "token_type": "bearer",
                "token": tok.token,
                "return_code": 0,
                "return_msg": codec.OK_MSG,
            },
            api_id,
        )

    async def _revoke(self, request: web.Request) -> web.Response:
        api_id = request.headers.get("api-id", "au10002")
        body = self._loads(await request.text())
        self.requests.append(RestRequest(api_id, request.path, body, self.clock.time()))
        if api_id != "au10002":
            return self._refusal(codec.UNKNOWN_API, f"api-id 오류 ({api_id!r}; au10002)", api_id)
        err = self._check_credentials(body)
        if err is not None:
            return self._refusal(err[0], err[1], api_id)
        token = str(body.get("token", ""))
        for tok in self.tokens_issued:
            if tok.token == token:
                tok.revoked = True
        # Revoking an unknown token: the answer is UNCONFIRMED; success (idempotent) is the guess.
        return self._json({"return_code": 0, "return_msg": codec.OK_MSG}, api_id)

    def _token_status(self, token: str) -> tuple[int, str | None]:
        for tok in self.tokens_issued:
            if tok.token == token:
                if tok.revoked:
                    return codec.TOKEN_INVALID, None
                if tok.expires_at <= self.clock.time():
                    return tok.expired_code or codec.TOKEN_INVALID, None
                return 0, tok.app_key
        return codec.TOKEN_INVALID, None

    def _ws_auth(self, token: str) -> tuple[int, str | None]:
        return self._token_status(token)

    # ------------------------------------------------------------------ REST dispatch

    def _rate_refusal(self, api_id: str, category: Category) -> dict[str, Any] | None:
        for fault in self._rate_faults:
            if fault.n > 0 and fault.api_id in (None, api_id):
                fault.n -= 1
                return codec.rate_error(fault.style or self.rate_error_style, api_id, None)
        window = self._windows.get(category)
        if window is not None and not window.take():
            return codec.rate_error(self.rate_error_style, api_id, window.limit)
        return None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        api_id = request.headers.get("api-id", "")
        raw = await request.text()
        body = self._loads(raw)
        headers = request.headers
        rec = RestRequest(
            api_id,
            request.path,
            body,
            self.clock.time(),
            cont_yn=headers.get("cont-yn", ""),
            next_key=headers.get("next-key", ""),
        )
        self.requests.append(rec)
        order_rec: OrderRequest | None = None
        if request.path == ORDR:
            order_rec = OrderRequest(api_id, body, self.clock.time())
            self.order_requests.append(order_rec)
        resp = await self._dispatch_checked(request, api_id, body, rec, order_rec)
        rec.status = resp.status
        if order_rec is not None and not order_rec.status:
            order_rec.status = resp.status
        return resp

    async def _dispatch_checked(
        self, request: web.Request, api_id: str, body: Any, rec: RestRequest, order_rec: OrderRequest | None
    ) -> web.StreamResponse:
        def failed(resp: web.Response, code: int) -> web.Response:
            rec.return_code = code
            if order_rec is not None:
                order_rec.return_code = code
            return resp

        spec = APIS.get(api_id)
        category: Category = spec[1] if spec else ("order" if request.path == ORDR else "query")
        rate = self._rate_refusal(api_id, category)
        if rate is not None:
            if order_rec is not None:
                order_rec.injected = order_rec.injected or "rate_limit"
            return failed(self._error(rate, api_id, self.error_http_status), rate["return_code"])
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        code = self._token_status(token.strip())[0] if scheme.lower() == "bearer" else codec.TOKEN_INVALID
        if code:
            return failed(
                self._error(codec.auth_error(code, self.auth_error_style), api_id, self.error_http_status),
                code,
            )
        if spec is None or spec[0] != request.path:
            where = f"{spec[0]}" if spec else "없는 api-id"
            return failed(
                self._refusal(codec.UNKNOWN_API, f"api-id 오류 ({api_id!r} → {where})", api_id),
                codec.UNKNOWN_API,
            )
        if not isinstance(body, dict):
            refusal = self._refusal(codec.INPUT_ERROR, "요청 본문은 JSON 객체입니다", api_id)
            return failed(refusal, codec.INPUT_ERROR)
        not_str = [k for k, v in body.items() if not isinstance(v, str)]
        if not_str:
            # Every body field is typed String in the spec; numbers are sent as strings.
            msg = f"입력값은 String입니다: {not_str}"
            return failed(self._refusal(codec.INPUT_ERROR, msg, api_id), codec.INPUT_ERROR)
        try:
            if request.path == ORDR:
                assert order_rec is not None
                return await self._order(request, api_id, body, order_rec)
            resp = self._query(request, api_id, body)
        except _Refusal as refusal:
            return failed(self._refusal(refusal.code, refusal.msg, api_id), refusal.code)
        rec.return_code = 0
        self.pages_served[api_id] = self.pages_served.get(api_id, 0) + 1
        return resp

    def _query(self, request: web.Request, api_id: str, body: dict[str, str]) -> web.Response:
        cont = request.headers.get("cont-yn", "N") == "Y"
        key = request.headers.get("next-key", "") if cont else ""
        if api_id == "ka00001":
            return self._json(
                {"acctNo": self.account.acct_no, "return_code": 0, "return_msg": codec.OK_MSG}, api_id
            )
        handlers: dict[str, Callable[[str, dict[str, str], str], web.Response]] = {
            "kt00001": self._kt00001,
            "kt00018": self._kt00018,
            "ka10075": self._ka10075,
            "ka10076": self._ka10076,
            "kt00007": self._kt00007,
            "ka10001": self._ka10001,
            "ka10080": self._ka10080,
            "ka10081": self._ka10081,
        }
        return handlers[api_id](api_id, body, key)

    # ------------------------------------------------------------------ paging

    def _page(
        self, api_id: str, rows: list[tuple[str, dict[str, str]]], key: str, descending: bool
    ) -> tuple[list[dict[str, str]], str, str]:
        """One page of sorted (sort key, row) pairs after `key` -> (rows, cont-yn, next-key).
        The next-key is the last row's sort key, so rows added meanwhile do not shift pages."""
        if key:
            rows = [r for r in rows if (r[0] < key if descending else r[0] > key)]
        size = self.page_sizes.get(api_id, 50)
        page = rows[:size]
        if len(rows) > size:
            return [r for _, r in page], "Y", page[-1][0]
        return [r for _, r in page], "N", ""

    # ------------------------------------------------------------------ helpers

    def _require(self, body: dict[str, str], *names: str) -> None:
        missing = [n for n in names if n not in body or body[n] == ""]
        if missing:
            raise _Refusal(codec.INPUT_ERROR, f"필수 입력값이 없습니다: {missing}")

    def _symbol(self, stk_cd: str) -> SymbolTape:
        """A request code: KRX 005930, NXT 005930_NX, SOR 005930_AL (no "A" prefix in requests)."""
        code, _, suffix = stk_cd.partition("_")
        if suffix not in ("", "NX", "AL") or not krx.CODE_RE.match(code):
            raise _Refusal(1901, f"종목코드 오류입니다 ({stk_cd!r})")
        if suffix and self.env == "paper":
            raise _Refusal(codec.PAPER_UNSUPPORTED, f"모의투자는 KRX만 지원합니다 ({stk_cd!r})")
        if code not in self.tape.symbols:
            raise _Refusal(1902, f"존재하지 않는 종목입니다 ({stk_cd!r})")
        return self.tape.symbols[code]

    def _stex_ok(self, value: str, allowed: Iterable[str]) -> None:
        if value not in allowed:
            raise _Refusal(codec.INPUT_ERROR, f"거래소구분 오류 ({value!r}; {', '.join(allowed)})")

    @staticmethod
    def _io_tp_nm(order: FakeOrder) -> str:
        if order.kind == "cancel":
            return "매수취소" if order.side == "buy" else "매도취소"
        return "+매수" if order.side == "buy" else "-매도"

    def _ord_stt(self, order: FakeOrder) -> str:
        # ka10075/76 주문상태 texts: 접수 (example), 체결 (example); 확인/취소/거부 by analogy with
        # FID 913 (brokers.md 3.3). UNCONFIRMED beyond the two examples.
        if order.kind == "cancel":
            return "확인"
        if order.status == "rejected":
            return "거부"
        if order.status == "cancelled" and not order.filled:
            return "취소"
        return "체결" if order.filled else "접수"

    # ------------------------------------------------------------------ account queries

    def _kt00001(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """예수금상세현황요청 (spec: examples/국내주식/계좌/get_domestic_deposit_detail.py field list).
        Only the cash fields a trading agent reads are filled; their width (15, like kt00018) is
        UNCONFIRMED."""
        self._require(body, "qry_tp")
        if body["qry_tp"] not in ("2", "3"):
            raise _Refusal(codec.INPUT_ERROR, f"qry_tp 오류 ({body['qry_tp']!r}; 3 추정조회, 2 일반조회)")
        a = self.account
        orderable = max(a.orderable_cash(self.orders), 0)
        out = {
            "entr": codec.zpad(a.cash, 15),
            "profa_ch": codec.zpad(a.reserved_cash(self.orders), 15),
            "ord_alow_amt": codec.zpad(orderable, 15),
            "100stk_ord_alow_amt": codec.zpad(orderable, 15),
            "pymn_alow_amt": codec.zpad(max(min(a.cash, a.d2_cash), 0), 15),
            "d1_entra": codec.zpad(a.cash, 15),
            "d2_entra": codec.zpad(a.d2_cash, 15),
            "stk_entr_prst": [],
            "return_code": 0,
            "return_msg": codec.QUERY_OK_MSG,
        }
        return self._json(out, api_id)

    def _kt00018(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        self._require(body, "qry_tp", "dmst_stex_tp")
        if body["qry_tp"] not in ("1", "2"):
            raise _Refusal(codec.INPUT_ERROR, f"qry_tp 오류 ({body['qry_tp']!r}; 1 합산, 2 개별)")
        self._stex_ok(body["dmst_stex_tp"], ("KRX",) if self.env == "paper" else ("KRX", "NXT"))
        held = sorted((p for p in self.account.positions.values() if p.qty > 0), key=lambda p: p.code)
        values = {p.code: self.tape.symbols[p.code].price * p.qty for p in held}
        total_eval = sum(values.values())
        rows = [(p.code, self._balance_row(p, values[p.code], total_eval)) for p in held]
        page, cont, next_key = self._page(api_id, rows, key, descending=False)
        pur = sum(p.cost for p in held)
        fees = sum(self._eval_costs(p, values[p.code]) for p in held)
        pl = total_eval - pur - fees
        summary = {
            "tot_pur_amt": codec.zpad(pur, 15),
            "tot_evlt_amt": codec.zpad(total_eval, 15),
            "tot_evlt_pl": codec.zpad(pl, 15),
            "tot_prft_rt": f"{pl / pur * 100:.2f}" if pur else "0.00",
            "prsm_dpst_aset_amt": codec.zpad(self.account.d2_cash + total_eval, 15),
            "tot_loan_amt": codec.zpad(0, 15),
            "tot_crd_loan_amt": codec.zpad(0, 15),
            "tot_crd_ls_amt": codec.zpad(0, 15),
        }
        # The summary repeats on every page (UNCONFIRMED; the clients read it from each page).
        out = {**summary, "acnt_evlt_remn_indv_tot": page, "return_code": 0, "return_msg": codec.DONE_MSG}
        return self._json(out, api_id, cont_yn=cont, next_key=next_key)

    def _eval_costs(self, p: Position, evlt: int) -> int:
        """Estimated costs of selling now: buy fees paid + sell commission + tax (the spec example
        satisfies evltv_prft = evlt_amt - pur_amt - sum_cmsn - tax)."""
        return p.buy_fees + int(evlt * self.account.commission_rate) + int(evlt * self.account.sell_tax_rate)

    def _balance_row(self, p: Position, evlt: int, total_eval: int) -> dict[str, str]:
        sym = self.tape.symbols[p.code]
        sell_cmsn = int(evlt * self.account.commission_rate)
        tax = int(evlt * self.account.sell_tax_rate)
        pl = evlt - p.cost - p.buy_fees - sell_cmsn - tax
        sellable = max(self.account.sellable(p.code, self.orders), 0)
        return {
            "stk_cd": f"A{p.code}", "stk_nm": p.name, "evltv_prft": codec.zpad(pl, 15),
            "prft_rt": f"{pl / p.cost * 100:.2f}" if p.cost else "0.00",
            "pur_pric": codec.zpad(round(p.avg_price), 15), "pred_close_pric": codec.zpad(sym.base, 12),
            "rmnd_qty": codec.zpad(p.qty, 15), "trde_able_qty": codec.zpad(sellable, 15),
            "cur_prc": codec.zpad(sym.price, 12), "pred_buyq": codec.zpad(0, 15),
            "pred_sellq": codec.zpad(0, 15), "tdy_buyq": codec.zpad(p.today_buy, 15),
            "tdy_sellq": codec.zpad(p.today_sell, 15), "pur_amt": codec.zpad(p.cost, 15),
            "pur_cmsn": codec.zpad(p.buy_fees, 15), "evlt_amt": codec.zpad(evlt, 15),
            "sell_cmsn": codec.zpad(sell_cmsn, 15), "tax": codec.zpad(tax, 15),
            "sum_cmsn": codec.zpad(p.buy_fees + sell_cmsn, 15),
            "poss_rt": f"{evlt / total_eval * 100:.2f}" if total_eval else "0.00",
            "crd_tp": "00", "crd_tp_nm": "", "crd_loan_dt": "",
        }  # fmt: skip

    def _order_filter(self, body: dict[str, str], side_field: str, one_code_field: str) -> list[FakeOrder]:
        """Today's orders of the requested side, and of stk_cd when `one_code_field` is "1"."""
        side = {"1": "sell", "2": "buy"}.get(body.get(side_field, "0"))
        one_code = body.get(one_code_field) == "1"
        out = []
        for o in self.orders:
            if o.ord_dt != self._today():
                continue
            if side is not None and o.side != side:
                continue
            if one_code and o.code != body.get("stk_cd"):
                continue
            out.append(o)
        return out

    def _ka10075(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """미체결요청: working orders, newest first (the order is UNCONFIRMED)."""
        self._require(body, "all_stk_tp", "trde_tp", "stex_tp")
        self._stex_ok(body["stex_tp"], ("0", "1", "2"))
        if body["all_stk_tp"] == "1":
            self._require(body, "stk_cd")
        orders = [
            o for o in self._order_filter(body, "trde_tp", "all_stk_tp") if o.kind == "new" and o.working
        ]
        rows = sorted(((o.ord_no, self._oso_row(o)) for o in orders), key=lambda r: r[0], reverse=True)
        page, cont, next_key = self._page(api_id, rows, key, descending=True)
        return self._json(
            {"oso": page, "return_code": 0, "return_msg": codec.QUERY_OK_MSG},
            api_id,
            cont_yn=cont,
            next_key=next_key,
        )

    def _oso_row(self, o: FakeOrder) -> dict[str, str]:
        sym = self.tape.symbols[o.code]
        last = o.fills[-1] if o.fills else None
        return {
            "acnt_no": self.account.acct_no, "ord_no": o.ord_no, "mang_empno": "", "stk_cd": o.code,
            "tsk_tp": "", "ord_stt": self._ord_stt(o), "stk_nm": name_of(o.code), "ord_qty": str(o.qty),
            "ord_pric": str(o.price), "oso_qty": str(o.remaining), "cntr_tot_amt": str(o.fill_amount),
            "orig_ord_no": o.orig_ord_no, "io_tp_nm": self._io_tp_nm(o), "trde_tp": TRDE_TP_NAMES[o.trde_tp],
            "tm": o.ord_tm, "cntr_no": last.cntr_no if last else "",
            "cntr_pric": str(last.price if last else 0),
            "cntr_qty": str(o.filled), "cur_prc": codec.signed(sym.price, sym.base),
            "sel_bid": codec.signed(sym.ask, sym.base), "buy_bid": codec.signed(sym.bid, sym.base),
            "unit_cntr_pric": str(last.price) if last else "", "unit_cntr_qty": str(last.qty) if last else "",
            "tdy_trde_cmsn": str(o.fees), "tdy_trde_tax": str(o.tax), "ind_invsr": "", "stex_tp": "1",
            "stex_tp_txt": "KRX", "sor_yn": "N", "stop_pric": "",
        }  # fmt: skip

    def _ka10076(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """체결요청: one row per order with fills (avg price, cumulative qty), newest first as in the
        spec example; `ord_no` lists orders older than it. Per-fill rows instead: UNCONFIRMED."""
        self._require(body, "qry_tp", "sell_tp", "stex_tp")
        self._stex_ok(body["stex_tp"], ("0", "1", "2"))
        if body["qry_tp"] == "1":
            self._require(body, "stk_cd")
        before = body.get("ord_no", "")
        orders = [
            o
            for o in self._order_filter(body, "sell_tp", "qry_tp")
            if o.kind == "new" and o.filled and (not before or o.ord_no < before.zfill(7))
        ]
        rows = sorted(((o.ord_no, self._cntr_row(o)) for o in orders), key=lambda r: r[0], reverse=True)
        page, cont, next_key = self._page(api_id, rows, key, descending=True)
        return self._json(
            {"cntr": page, "return_code": 0, "return_msg": codec.QUERY_OK_MSG},
            api_id,
            cont_yn=cont,
            next_key=next_key,
        )

    def _cntr_row(self, o: FakeOrder) -> dict[str, str]:
        return {
            "ord_no": o.ord_no,
            "stk_nm": name_of(o.code),
            "io_tp_nm": self._io_tp_nm(o),
            "ord_pric": str(o.price),
            "ord_qty": str(o.qty),
            "cntr_pric": str(o.avg_price),
            "cntr_qty": str(o.filled),
            "oso_qty": str(o.remaining if o.working else 0),
            "tdy_trde_cmsn": str(o.fees),
            "tdy_trde_tax": str(o.tax),
            "ord_stt": self._ord_stt(o),
            "trde_tp": TRDE_TP_NAMES[o.trde_tp],
            "orig_ord_no": o.orig_ord_no,
            "ord_tm": o.ord_tm,
            "stk_cd": o.code,
            "stex_tp": "1",
            "stex_tp_txt": "KRX",
            "sor_yn": "N",
            "stop_pric": "",
        }

    def _kt00007(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """계좌별주문체결내역상세요청: every order of the day incl. cancel records. qry_tp 1 주문순,
        2 역순, 3 미체결, 4 체결내역만. fr_ord_no read as "from this number on" (UNCONFIRMED)."""
        self._require(body, "qry_tp", "stk_bond_tp", "sell_tp", "dmst_stex_tp")
        qry = body["qry_tp"]
        if qry not in ("1", "2", "3", "4"):
            raise _Refusal(codec.INPUT_ERROR, f"qry_tp 오류 ({qry!r}; 1 주문순 2 역순 3 미체결 4 체결)")
        self._stex_ok(body["dmst_stex_tp"], ("%", "KRX", "NXT", "SOR"))
        day = body.get("ord_dt") or self._today()
        side = {"1": "sell", "2": "buy"}.get(body["sell_tp"])
        descending = qry == "2"
        fr = body.get("fr_ord_no", "").zfill(7) if body.get("fr_ord_no") else ""
        orders = []
        for o in self.orders:
            if o.ord_dt != day or (side is not None and o.side != side):
                continue
            if body.get("stk_cd") and o.code != body["stk_cd"]:
                continue
            if (qry == "3" and not o.working) or (qry == "4" and not o.filled):
                continue
            if fr and (o.ord_no > fr if descending else o.ord_no < fr):
                continue
            orders.append(o)
        rows = sorted(
            ((o.ord_no, self._detail_row(o)) for o in orders), key=lambda r: r[0], reverse=descending
        )
        page, cont, next_key = self._page(api_id, rows, key, descending=descending)
        return self._json(
            {"acnt_ord_cntr_prps_dtl": page, "return_code": 0, "return_msg": codec.DONE_MSG},
            api_id,
            cont_yn=cont,
            next_key=next_key,
        )

    def _detail_row(self, o: FakeOrder) -> dict[str, str]:
        cancel = o.kind == "cancel"
        hms = f"{o.ord_tm[:2]}:{o.ord_tm[2:4]}:{o.ord_tm[4:]}"
        acpt = "확인" if cancel else "거부" if o.status == "rejected" else "접수"
        io = ("현금매수" if o.side == "buy" else "현금매도") if not cancel else self._io_tp_nm(o)
        return {
            "ord_no": o.ord_no, "stk_cd": f"A{o.code}",
            "trde_tp": "취소" if cancel else TRDE_TP_NAMES[o.trde_tp],
            "crd_tp": "보통매매", "ord_qty": codec.zpad(o.qty, 10), "ord_uv": codec.zpad(o.price, 10),
            "cnfm_qty": codec.zpad(o.qty if cancel else o.cancelled, 10), "acpt_tp": acpt, "rsrv_tp": "",
            "ord_tm": hms, "ori_ord": o.orig_ord_no, "stk_nm": name_of(o.code), "io_tp_nm": io, "loan_dt": "",
            "cntr_qty": codec.zpad(o.filled, 10), "cntr_uv": codec.zpad(o.avg_price, 10),
            "ord_remnq": codec.zpad(o.remaining if o.working else 0, 10), "comm_ord_tp": "Open API",
            "mdfy_cncl": "취소" if cancel else "", "cnfm_tm": hms if cancel else "", "dmst_stex_tp": "KRX",
            "cond_uv": codec.zpad(0, 10),
        }  # fmt: skip

    # ------------------------------------------------------------------ market queries

    def _ka10001(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """주식기본정보요청. Prices signed against the base (the field table says "부호가 포함된
        숫자"); the spec's own example has its values shifted by one field, so the table rules."""
        self._require(body, "stk_cd")
        sym = self._symbol(body["stk_cd"])
        lower, upper = sym.limits
        base = sym.base
        traded = sym.trades > 0
        hist = sym.history[:250]
        hi250 = max([sym.high if traded else base, *(d.high for d in hist)])
        lo250 = min([sym.low if traded else base, *(d.low for d in hist)])
        out = {
            "stk_cd": sym.code, "stk_nm": sym.name, "setl_mm": "12", "fav": "100", "cap": "1000",
            "flo_stk": str(sym.listed_shares // 1000), "crd_rt": "+0.08",
            "oyr_hgst": codec.signed(hi250, base), "oyr_lwst": codec.signed(lo250, base),
            "mac": str(sym.price * sym.listed_shares // 100_000_000), "mac_wght": "", "for_exh_rt": "0.00",
            "repl_pric": str(krx.round_down(base * 7 // 10)), "per": "", "eps": "", "roe": "", "pbr": "",
            "ev": "", "bps": "", "sale_amt": "0", "bus_pro": "0", "cup_nga": "0",
            "250hgst": codec.signed(hi250, base), "250lwst": codec.signed(lo250, base),
            "high_pric": codec.signed(sym.high, base) if traded else "0",
            "open_pric": codec.signed(sym.open, base) if traded else "0",
            "low_pric": codec.signed(sym.low, base) if traded else "0",
            "upl_pric": codec.signed(upper, base), "lst_pric": codec.signed(lower, base),
            "base_pric": str(base), "exp_cntr_pric": "0", "exp_cntr_qty": "0",
            "250hgst_pric_dt": self._today(),
            "250hgst_pric_pre_rt": codec.signed_rate(sym.price - hi250, hi250),
            "250lwst_pric_dt": self._today(),
            "250lwst_pric_pre_rt": codec.signed_rate(sym.price - lo250, lo250),
            "cur_prc": codec.signed(sym.price, base),
            "pre_sig": codec.sign_code(sym.price, base, lower, upper),
            "pred_pre": codec.signed_num(sym.price - base),
            "flu_rt": codec.signed_rate(sym.price - base, base),
            "trde_qty": str(sym.acml_vol), "trde_pre": codec.signed_rate(sym.acml_vol, sym.prev_vol),
            "fav_unit": "원", "dstr_stk": str(sym.listed_shares), "dstr_rt": "100.0",
            "return_code": 0, "return_msg": codec.OK_MSG,
        }  # fmt: skip
        return self._json(out, api_id)

    def _ka10080(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """주식분봉차트조회요청: bars newest first, cntr_tm YYYYMMDDHHmmss. Whether cntr_tm is the
        bar's start or end minute is UNCONFIRMED: the fake labels a bar by its start."""
        self._require(body, "stk_cd", "tic_scope", "upd_stkpc_tp")
        sym = self._symbol(body["stk_cd"])
        scope = int(body["tic_scope"]) if body["tic_scope"].isdigit() else 0
        if scope not in TIC_SCOPES:
            raise _Refusal(codec.INPUT_ERROR, f"tic_scope 오류 ({body['tic_scope']!r}; {sorted(TIC_SCOPES)})")
        base_dt = body.get("base_dt", "")
        bars = sym.bars if not base_dt or base_dt == self._today() else []
        grouped: dict[datetime, list[Any]] = {}
        for bar in bars:
            minutes = bar.start.hour * 60 + bar.start.minute
            start = bar.start.replace(hour=0, minute=0) + timedelta(minutes=minutes - minutes % scope)
            grouped.setdefault(start, []).append(bar)
        rows: list[tuple[str, dict[str, str]]] = []
        for start, group in grouped.items():
            close = group[-1].close
            stamp = start.strftime("%Y%m%d%H%M%S")
            rows.append(
                (
                    stamp,
                    {
                        "cur_prc": codec.signed(close, sym.base),
                        "trde_qty": str(sum(b.volume for b in group)),
                        "cntr_tm": stamp,
                        "open_pric": codec.signed(group[0].open, sym.base),
                        "high_pric": codec.signed(max(b.high for b in group), sym.base),
                        "low_pric": codec.signed(min(b.low for b in group), sym.base),
                        "acc_trde_qty": str(group[-1].acc_volume),
                        "pred_pre": codec.signed_num(close - sym.base),
                        "pred_pre_sig": codec.sign_code(close, sym.base, *sym.limits),
                    },
                )
            )
        rows.sort(key=lambda r: r[0], reverse=True)
        page, cont, next_key = self._page(api_id, rows, key, descending=True)
        return self._json(
            {
                "stk_cd": sym.code,
                "stk_min_pole_chart_qry": page,
                "return_code": 0,
                "return_msg": codec.OK_MSG,
            },
            api_id,
            cont_yn=cont,
            next_key=next_key,
        )

    def _ka10081(self, api_id: str, body: dict[str, str], key: str) -> web.Response:
        """주식일봉차트조회요청: today's bar (when traded) then previous days, newest first. This is
        where yesterday's high/low come from (ka10001 has no such field). Prices unsigned, as in the
        spec example; pred_pre signed."""
        self._require(body, "stk_cd", "base_dt", "upd_stkpc_tp")
        sym = self._symbol(body["stk_cd"])
        base_dt = body["base_dt"]
        rows: list[tuple[str, dict[str, str]]] = []
        days = list(sym.history)
        for i, d in enumerate(days):
            prev_close = days[i + 1].close if i + 1 < len(days) else d.open
            day = d.day.strftime("%Y%m%d")
            rows.append((day, self._day_row(day, d.open, d.high, d.low, d.close, d.volume, prev_close)))
        if sym.trades:
            today = self._today()
            rows.insert(
                0,
                (today, self._day_row(today, sym.open, sym.high, sym.low, sym.price, sym.acml_vol, sym.base)),
            )
        rows = [r for r in rows if r[0] <= base_dt]
        page, cont, next_key = self._page(api_id, rows, key, descending=True)
        return self._json(
            {"stk_cd": sym.code, "stk_dt_pole_chart_qry": page, "return_code": 0, "return_msg": codec.OK_MSG},
            api_id,
            cont_yn=cont,
            next_key=next_key,
        )

    @staticmethod
    def _day_row(
        day: str, open_: int, high: int, low: int, close: int, volume: int, prev_close: int
    ) -> dict[str, str]:
        lower, upper = krx.price_limits(prev_close)
        return {
            "cur_prc": str(close),
            "trde_qty": str(volume),
            "trde_prica": str(close * volume // 1_000_000),
            "dt": day,
            "open_pric": str(open_),
            "high_pric": str(high),
            "low_pric": str(low),
            "pred_pre": codec.signed_num(close - prev_close),
            "pred_pre_sig": codec.sign_code(close, prev_close, lower, upper),
            "trde_tern_rt": "+0.10",
        }

    def _condition_quote(self, code: str) -> dict[str, str] | None:
        """A ka10172 row: 9-digit zero-padded signed numbers, 12 scaled x100 (condition-search.md 2.3)."""
        sym = self.tape.symbols.get(code)
        if sym is None:
            return None
        diff = sym.price - sym.base
        rate = round(diff / sym.base * 10_000) if sym.base else 0
        traded = sym.trades > 0
        return {
            "9001": f"A{code}",
            "302": sym.name,
            "10": codec.zpad(sym.price, 9),
            "25": codec.sign_code(sym.price, sym.base, *sym.limits),
            "11": codec.zpad(diff, 9),
            "12": codec.zpad(rate, 9),
            "13": codec.zpad(sym.acml_vol, 9),
            "16": codec.zpad(sym.open if traded else 0, 9),
            "17": codec.zpad(sym.high if traded else 0, 9),
            "18": codec.zpad(sym.low if traded else 0, 9),
        }

    # ------------------------------------------------------------------ orders

    def _new_ord_no(self) -> str:
        n = self._next_ord_no
        self._next_ord_no += 1
        return codec.ord_no(n)

    async def _order(
        self, request: web.Request, api_id: str, body: dict[str, str], rec: OrderRequest
    ) -> web.StreamResponse:
        if api_id in ("kt10000", "kt10001"):
            side: Side = "buy" if api_id == "kt10000" else "sell"
            order = self._validate_new(api_id, body, side)
            self.orders.append(order)  # reserves cash/shares now, before the answer or notices
            rec.ord_no = order.ord_no
            answer = {
                "ord_no": order.ord_no,
                "dmst_stex_tp": order.dmst_stex_tp,
                "return_code": 0,
                "return_msg": codec.OK_MSG,
            }

            async def accept_new() -> None:
                await self._accept_new(order)

            return await self._answer(request, rec, answer, api_id, accept_new, order)
        if api_id == "kt10003":
            record, orig = self._validate_cancel(body)
            rec.ord_no = record.ord_no
            what = "매수취소" if orig.side == "buy" else "매도취소"
            answer = {
                "ord_no": record.ord_no,
                "base_orig_ord_no": orig.ord_no,
                "cncl_qty": codec.zpad(record.qty, 12),
                "return_code": 0,
                "return_msg": f"{what} 주문입력이 완료되었습니다",
            }

            async def accept_cancel() -> None:
                await self._cancel_events(record, orig)

            return await self._answer(request, rec, answer, api_id, accept_cancel, None)
        raise _Refusal(codec.UNKNOWN_API, f"{api_id}: the fake models buy, sell and cancel only")

    def _validate_new(self, api_id: str, body: dict[str, str], side: Side) -> FakeOrder:
        self._require(body, "dmst_stex_tp", "stk_cd", "ord_qty", "trde_tp")
        stex = body["dmst_stex_tp"]
        if self.env == "paper" and stex != "KRX":
            # "모의투자 도메인 https://mockapi.kiwoom.com(KRX만 지원가능)" (brokers.md 3.1/3.6).
            raise _Refusal(codec.PAPER_UNSUPPORTED, f"모의투자는 KRX만 지원합니다 (dmst_stex_tp {stex!r})")
        self._stex_ok(stex, ("KRX", "NXT", "SOR"))
        code = body["stk_cd"]
        if not krx.CODE_RE.match(code):
            raise _Refusal(1901, f"종목코드 오류입니다 ({code!r}; 6자리, 접두어 없이)")
        if code not in self.tape.symbols:
            raise _Refusal(1902, f"존재하지 않는 종목입니다 ({code!r})")
        sym = self.tape.symbols[code]
        trde_tp = body["trde_tp"]
        if trde_tp not in (LIMIT, MARKET):
            raise _biz(f"지원하지 않는 매매구분입니다 (trde_tp {trde_tp!r}; fake: 0 보통, 3 시장가)")
        qty_s = body["ord_qty"]
        if not qty_s.isdigit() or int(qty_s) <= 0:
            raise _biz(f"주문수량 오류입니다 (ord_qty {qty_s!r})")
        qty = int(qty_s)
        uv = body.get("ord_uv", "")
        if trde_tp == MARKET:
            # The official example sends ord_uv "" for market; "0" is accepted too (UNCONFIRMED),
            # a real price is refused rather than silently ignored.
            if uv not in ("", "0"):
                raise _biz(f"시장가 주문은 주문단가를 입력하지 않습니다 (ord_uv {uv!r})")
            price = 0
        else:
            if not uv.isdigit() or int(uv) <= 0:
                raise _biz(f"주문단가 오류입니다 (ord_uv {uv!r})")
            price = int(uv)
            lower, upper = sym.limits
            if not krx.on_grid(price):
                down, up = krx.neighbours(price)
                raise _biz(f"호가단위 오류입니다 ({price}: 가능한 가격 {down} 또는 {up})")
            if not lower <= price <= upper:
                raise _biz(f"주문가격이 가격제한폭({lower}~{upper})을 벗어났습니다 ({price})")
        # Market buys are margined at the upper limit, as Korean brokers do.
        reserve = sym.limits[1] if trde_tp == MARKET else price
        if side == "buy":
            need = self.account.buy_cost(reserve, qty)
            have = self.account.orderable_cash(self.orders)
            if need > have:
                raise _biz(f"주문가능금액을 초과했습니다 (필요 {need}원, 가능 {have}원)")
        else:
            can = self.account.sellable(code, self.orders)
            if qty > can:
                raise _biz(f"매도가능수량을 초과했습니다 (주문 {qty}주, 가능 {can}주)")
        return FakeOrder(
            ord_no=self._new_ord_no(),
            kind="new",
            api_id=api_id,
            code=code,
            side=side,
            qty=qty,
            price=price,
            trde_tp=trde_tp,
            dmst_stex_tp=stex,
            created_at=self.clock.time(),
            ord_tm=self._hhmmss(),
            ord_dt=self._today(),
            reserve_price=reserve,
        )

    def _validate_cancel(self, body: dict[str, str]) -> tuple[FakeOrder, FakeOrder]:
        self._require(body, "dmst_stex_tp", "orig_ord_no", "stk_cd", "cncl_qty")
        if self.env == "paper" and body["dmst_stex_tp"] != "KRX":
            raise _Refusal(codec.PAPER_UNSUPPORTED, f"모의투자는 KRX만 지원합니다 ({body['dmst_stex_tp']!r})")
        orig_no = body["orig_ord_no"]
        if not orig_no.isdigit():
            raise _biz(f"원주문번호 오류입니다 ({orig_no!r})")
        # Compared as numbers: whether the server accepts an ord_no without its zeros is UNCONFIRMED.
        orig = next((o for o in self.orders if o.kind == "new" and int(o.ord_no) == int(orig_no)), None)
        if orig is None:
            raise _biz(f"원주문번호가 존재하지 않습니다 ({orig_no})")
        if orig.code != body["stk_cd"]:
            raise _biz(f"원주문의 종목코드와 다릅니다 ({body['stk_cd']!r} != {orig.code})")
        if not orig.working:
            raise _biz(f"취소할 수량이 없습니다 ({orig.ord_no}: {orig.status})")
        qty_s = body["cncl_qty"]
        if not qty_s.isdigit():
            raise _biz(f"취소수량 오류입니다 ({qty_s!r})")
        qty = int(qty_s) or orig.remaining  # "0" cancels all that remains
        if qty > orig.remaining:
            raise _biz(f"취소가능수량을 초과했습니다 ({qty} > {orig.remaining})")
        record = FakeOrder(
            ord_no=self._new_ord_no(),
            kind="cancel",
            api_id="kt10003",
            code=orig.code,
            side=orig.side,
            qty=qty,
            price=orig.price,
            trde_tp=orig.trde_tp,
            dmst_stex_tp=orig.dmst_stex_tp,
            created_at=self.clock.time(),
            ord_tm=self._hhmmss(),
            ord_dt=self._today(),
            orig_ord_no=orig.ord_no,
            status="done",
        )
        orig.cancelled += qty
        if orig.remaining == 0:
            orig.status = "cancelled"
            self._unbook(orig)
        self.orders.append(record)
        return record, orig

    async def _answer(
        self,
        request: web.Request,
        rec: OrderRequest,
        body: dict[str, Any],
        api_id: str,
        accept: Callable[[], Awaitable[None]],
        order: FakeOrder | None,
    ) -> web.StreamResponse:
        """Answer an accepted order/cancel, ordering the REST answer and the 00 frames as injected."""
        rec.return_code = 0
        fault = self._order_faults.popleft() if self._order_faults else None
        if fault is not None and fault.kind == "reject":
            if order is not None:
                rec.injected = "reject"
                order.reject_on_accept = True
            fault = None  # a refusal of a cancel is not modelled: answered normally
        if fault is not None and fault.kind == "5xx":
            rec.injected, rec.status = f"{fault.status}_after_create", fault.status
            await accept()
            html = f"<html><body><h1>{fault.status}</h1></body></html>"
            return await self._write(
                request, web.Response(status=fault.status, text=html, content_type="text/html"), api_id, rec
            )
        if fault is not None and fault.kind in ("notice_first", "delay"):
            rec.injected = fault.kind
            await accept()
            if fault.kind == "delay":
                await self.sleep(fault.delay)
            return await self._write(request, self._json(body, api_id), api_id, rec)
        # Normal order of events: the REST answer is on the wire before any 00 frame.
        try:
            return await self._write(request, self._json(body, api_id), api_id, rec)
        finally:
            await accept()  # the order exists even if the client went away before the answer

    async def _write(
        self, request: web.Request, resp: web.Response, api_id: str, rec: OrderRequest
    ) -> web.Response:
        """Write the answer now (not after the handler returns) so the timeline is exact."""
        try:
            await resp.prepare(request)
            await resp.write_eof()
        finally:
            self.timeline.append(("rest", f"{api_id}:{rec.ord_no}:{resp.status}"))
        return resp

    # ------------------------------------------------------------------ 00 / 04 frames

    def _event(
        self, order: FakeOrder, status: str, *, fill: Fill | None = None, reason: str = "0"
    ) -> dict[str, str]:
        """FID values of a 00 주문체결 push (brokers.md 3.3 FID list and official example).
        911 is the cumulative filled quantity and 915 this fill's quantity (the 단위 fields exist
        for that split); 910/914 both this fill's price. Which of 911/915 is cumulative: UNCONFIRMED."""
        sym = self.tape.symbols[order.code]
        base = sym.base
        remaining = 0 if order.kind == "cancel" or status == "취소" else order.remaining
        trde_name = TRDE_TP_NAMES[order.trde_tp] if order.kind == "new" else "취소"
        return {
            "9201": self.account.acct_no, "9203": order.ord_no, "9001": order.code, "912": "JJ",
            "913": status,
            "302": name_of(order.code), "900": str(order.qty), "901": str(order.price), "902": str(remaining),
            "903": str(order.fill_amount), "904": order.orig_ord_no, "905": self._io_tp_nm(order),
            "906": trde_name, "907": "1" if order.side == "sell" else "2", "908": self._hhmmss(),
            "909": fill.cntr_no if fill else "", "910": str(fill.price) if fill else "",
            "911": str(order.filled) if fill else "", "10": codec.signed(sym.price, base),
            "27": codec.signed(sym.ask, base), "28": codec.signed(sym.bid, base),
            "914": str(fill.price) if fill else "", "915": str(fill.qty) if fill else "",
            "938": str(order.fees), "939": str(order.tax), "919": reason, "921": "0701002", "922": "00",
            "923": "00000000", "2134": "1", "2135": "KRX", "2136": "N",
        }  # fmt: skip

    async def _emit(self, values: dict[str, str]) -> None:
        self.events.append(values)
        self.timeline.append(("00", f"{values['9203']}:{values['913']}"))
        await self.hub.publish_account(ORDER_EVENTS, "주문체결", values["9001"], values, self.app_key)

    async def _emit_balance(self, code: str) -> None:
        """04 잔고 after a fill (930 보유수량, 931 매입단가, 933 주문가능수량 — brokers.md 3.3).
        Beyond those FIDs the layout is UNCONFIRMED."""
        pos = self.account.positions.get(code)
        if pos is None:
            return
        sym = self.tape.symbols[code]
        values = {
            "9201": self.account.acct_no,
            "9001": code,
            "302": pos.name,
            "10": codec.signed(sym.price, sym.base),
            "930": str(pos.qty),
            "931": str(round(pos.avg_price)),
            "932": str(pos.cost),
            "933": str(max(self.account.sellable(code, self.orders), 0)),
        }
        await self.hub.publish_account(BALANCE, "잔고", code, values, self.app_key)

    async def _accept_new(self, order: FakeOrder) -> None:
        await self._emit(self._event(order, "접수"))
        if order.reject_on_accept:
            order.rejected = order.remaining
            order.status = "rejected"
            # 919 거부사유: the code space is UNCONFIRMED; a readable text is sent.
            await self._emit(self._event(order, "거부", reason="주문거부(FakeKiwoom reject_next_orders)"))
            return
        if order.is_market:
            await self._fill_market(order)
        else:
            self._book.append(order)

    async def _fill_market(self, order: FakeOrder) -> None:
        """A market order fills at once, whole, at the touch (ask for buys, bid for sells); the
        print goes on the tape (0B) but does not also fill other working orders."""
        sym = self.tape.symbols[order.code]
        price = sym.ask if order.side == "buy" else sym.bid
        trade = Trade(code=order.code, price=price, qty=order.qty, side=order.side, at=self.now())
        sym.apply(trade)
        await self.hub.publish_tick(order.code, sym.tick_values(trade))
        await self._fill(order, trade.price, order.remaining)

    async def _fill(self, order: FakeOrder, price: int, qty: int) -> None:
        self._next_cntr_no += 1
        fill = Fill(cntr_no=str(self._next_cntr_no), qty=qty, price=price, hhmmss=self._hhmmss())
        self.account.apply_fill(order, fill, name_of(order.code))
        if order.remaining == 0:
            self._unbook(order)
        await self._emit(self._event(order, "체결", fill=fill))
        await self._emit_balance(order.code)

    async def _cancel_events(self, record: FakeOrder, orig: FakeOrder) -> None:
        """A cancel: 접수 and 확인 of the cancel order (9203 its own number, 904 the original),
        then 취소 of the original when nothing remains. Which of these the server sends, and in which
        order, is UNCONFIRMED beyond FID 913's value list (접수/체결/확인/취소/거부)."""
        await self._emit(self._event(record, "접수"))
        await self._emit(self._event(record, "확인"))
        if orig.remaining == 0:
            await self._emit(self._event(orig, "취소"))

    def _unbook(self, order: FakeOrder) -> None:
        if order in self._book:
            self._book.remove(order)

    # ------------------------------------------------------------------ tape & matching

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            if self._paused:
                continue
            try:
                await self._tick_once()
            except Exception:  # keep the market running; the log shows what broke
                log.exception("fakekiwoom tape step failed")

    async def _tick_once(self) -> None:
        wanted = {
            item.split("_")[0] for c in self.hub.connections for t, item in c.registrations if t == "0B"
        }
        wanted |= {o.code for o in self._book}
        for code in sorted(wanted & self.tape.symbols.keys()):
            await self._print(self.tape.symbols[code], self.tape.step(code, self.now()))

    async def _print(self, sym: SymbolTape, trade: Trade) -> None:
        sym.apply(trade)
        await self.hub.publish_tick(sym.code, sym.tick_values(trade))
        await self._match(trade)

    async def _match(self, trade: Trade) -> None:
        """Working orders of the symbol fill in time priority against this print's volume."""
        volume = trade.qty
        for order in [o for o in self._book if o.code == trade.code]:
            if volume <= 0:
                break
            if not order.working or not order.crosses(trade):
                continue
            qty = min(volume, order.remaining)
            volume -= qty
            await self._fill(order, trade.price, qty)
