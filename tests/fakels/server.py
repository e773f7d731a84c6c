"""A protocol-faithful fake of the LS증권 OPEN API (ex-eBest): REST and websocket on one port.

Built from /work/shared/reference/brokers.md section 1 (and 4, 5), condition-search.md sections 3
and 6, src/condition/ls_*, krx.md and the official LS portal pages those cite (field tables in
tests/fakels/fields.py) — not from any adapter, so it can cross-check one. Usage::

    fake = FakeLS(clock=clock, rates=None)        # rates=None: no pacing
    await fake.start()
    ... REST at fake.url (POST /oauth2/token, /stock/order, ...), websocket at fake.ws_url
        (+ "/websocket" or "/websocket/stock") ...
    await fake.stop()

Paper vs real is decided by the app key (one host, brokers.md 1.1): REAL_APP_KEY and PAPER_APP_KEY
are both accepted by default; every token remembers its key's mode. One account serves both modes.

Test hooks
- tokens: `expire_tokens()`, `revoke_all_tokens()`
- faults: `fail_next(target, status)` (bare HTTP status for the next request of a TR code or path),
  `rate_error_next(tr_cd)`, `fail_next_order_after_create(status)` (5xx after the order exists),
  `fill_next_order_before_answer()` (SC0/SC1 on the socket before the REST answer),
  `delay_next_order_answer(seconds)`, `reject_next_order()` (accepted, then SC4),
  `drop_websockets()`
- market: `pause_tape()`, `resume_tape()`, `push_trade(code, price, qty, side)`,
  `add_listing(...)`, `add_bar(...)`, `seed_history(code, minutes)`, `set_price(code, price)`
- account: `set_cash(amount)`, `set_position(code, qty, avg_price)`
- conditions: `set_conditions(rows)`, `set_condition_members(query_index, codes)`,
  `condition_enter(query_index, code)`, `condition_leave(query_index, code)`
- sockets: `send_raw(frame)`

Inspection: `tokens` / `tokens_issued`, `requests`, `order_requests`, `orders`, `order(ordno)`,
`connections` / `all_connections` (each with `.path`, `.subscriptions`, `.received`, `.sent`),
`ws_paths_used`, `condition_registrations`, `pages_served`.

Where the reference is silent or says UNCONFIRMED the choice is commented at the spot (grep
"UNCONFIRMED") and, where a client could care, configurable. tests/fakels/README.md lists them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from aiohttp import web

from engine.clock import Clock
from tests import fakekrx as krx
from tests.fakels import codes, fields, rest_conditions, rest_orders, rest_queries
from tests.fakels.account import Account, Execution, Order, Position
from tests.fakels.codes import Code
from tests.fakels.conditions import DEFAULT_CONDITIONS, Conditions, Registration
from tests.fakels.frames import XCT_FILL, AccountInfo, Frame, sc0_body, sc_exec_body
from tests.fakels.rest import GatewayError, Refusal, RestCall, RestRecord
from tests.fakels.tape import DEFAULT_LISTINGS, Bar, Instrument, Listing, Market, Tape, Trade
from tests.fakels.websocket import WsConn, WsHub
from tests.fakeserver import FakeServer
from tests.faketape import Side

log = logging.getLogger(__name__)

Env = Literal["real", "paper"]

# App keys and secrets are 36 characters (REST접근토큰_발급: appkey/appsecretkey Length 36).
REAL_APP_KEY = "PSfakeLSreal0123456789abcdefghijklmn"
REAL_APP_SECRET = "fakeLSrealSecret0123456789abcdefghij"
PAPER_APP_KEY = "PSfakeLSpaper123456789abcdefghijklmn"
PAPER_APP_SECRET = "fakeLSpaperSecret123456789abcdefghij"

TOKEN_LIFETIME = 86_400  # the token example's expires_in
# Page sizes of the paged TRs: LS's are not in the reference (UNCONFIRMED). t8412 pages by the
# request's qrycnt (max 500 uncompressed, field table) and then by this cap.
DEFAULT_PAGE_SIZES: dict[str, int] = {"t0424": 50, "t0425": 50, "t1866": 100, "t8412": 500}

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class TokenRecord:
    token: str
    appkey: str
    env: Env
    issued_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class _Fail:
    target: str
    status: int
    n: int
    body: str


@dataclass
class OrderFault:
    kind: Literal["after_create", "delay", "fill_before_answer", "reject"]
    status: int = 500
    delay: float = 0.0


class FakeLS(FakeServer):
    tape_name = "fakels-tape"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        app_keys: dict[str, tuple[str, Env]] | None = None,
        user_id: str = "testID",
        account: str = "20011132702",
        account_name: str = "테스트계좌",
        cash: int = 10_000_000,
        listings: dict[str, Listing] | None = None,
        seed: int = 1,
        tick_interval: float = 0.05,
        rates: dict[str, float] | Literal["default"] | None = "default",
        page_sizes: dict[str, int] | None = None,
        max_realtime_conditions: int | None = 2,
        paper_condition_search: Literal["refuse", "allow"] = "refuse",
        ws_paths: Iterable[str] = ("/websocket", "/websocket/stock"),
        ws_bad_token: Literal["ack", "close"] = "ack",
        max_ws_registrations: int | None = None,
        strict_types: bool = True,
        require_cont_headers: bool = True,
        continuation: Literal["strict", "lenient"] = "strict",
        rate_error_status: int = 500,
        auth_error_status: int = 500,
        input_error_status: int = 500,
        token_lifetime: int = TOKEN_LIFETIME,
        commission_rate: float = 0.00015,
        sell_tax_rate: float = 0.0020,
        account_frame_tr_key: bool = False,
        afr_replay_on_subscribe: bool = False,
        unknown_user: Literal["refuse", "empty"] = "refuse",
        t1866_cont_key_name: Literal["contkey", "cont_key"] = "contkey",
        bar_label: Literal["end", "start"] = "end",
        conditions: list[tuple[str, str, str]] | None = None,
    ) -> None:
        super().__init__()
        if len(user_id) > 8:
            raise ValueError("t1866InBlock.user_id is at most 8 characters")
        self.clock = clock or Clock()
        self.app_keys: dict[str, tuple[str, Env]] = app_keys or {
            REAL_APP_KEY: (REAL_APP_SECRET, "real"),
            PAPER_APP_KEY: (PAPER_APP_SECRET, "paper"),
        }
        self.user_id = user_id
        self.account = Account(
            number=account,
            name=account_name,
            cash=cash,
            commission_rate=commission_rate,
            sell_tax_rate=sell_tax_rate,
        )
        self.tape = Tape(dict(listings) if listings is not None else dict(DEFAULT_LISTINGS), seed)
        self.tick_interval = tick_interval
        self.rates: dict[str, float] = (
            {} if rates is None else dict(codes.DEFAULT_RATES if rates == "default" else rates)
        )
        self.page_sizes = DEFAULT_PAGE_SIZES | (page_sizes or {})
        # Condition search on paper keys: "실시간검색은 실서버에서만 가능" (teranum sample 12) and two
        # community reports for t1866/t1860/AFR (condition-search.md 3.1): corroborated, not official.
        # The refusal's wording is UNCONFIRMED; t1859 is refused with them (also UNCONFIRMED).
        self.paper_condition_search = paper_condition_search
        self.ws_paths = tuple(ws_paths)
        self.ws_bad_token = ws_bad_token
        # Per-connection registration cap: [pg] says there is one but no figure is official
        # (brokers.md 1.6): off unless set.
        self.max_ws_registrations = max_ws_registrations
        self.strict_types = strict_types
        self.require_cont_headers = require_cont_headers
        self.continuation = continuation
        self.rate_error_status = rate_error_status
        self.auth_error_status = auth_error_status
        self.input_error_status = input_error_status
        self.token_lifetime = token_lifetime
        self.account_frame_tr_key = account_frame_tr_key
        self.afr_replay_on_subscribe = afr_replay_on_subscribe
        self.unknown_user = unknown_user
        self.t1866_cont_key_name = t1866_cont_key_name
        self.bar_label = bar_label
        self.conditions = Conditions(user_id=user_id, max_realtime=max_realtime_conditions)
        self.conditions.set_saved(
            conditions
            if conditions is not None
            else [(f"{user_id}{n}", g, q) for n, g, q in DEFAULT_CONDITIONS]
        )

        # Inspection.
        self.tokens: list[TokenRecord] = []
        self.requests: list[RestRecord] = []
        self.orders: list[Order] = []
        self.pages_served: Counter[str] = Counter()
        self.ws_paths_used: list[str] = []

        self.ws = WsHub(self)
        self._book: list[Order] = []  # resting orders in time priority
        self._next_ordno = 10_000
        self._execno = 0
        self._event_seq = 0
        self._fails: list[_Fail] = []
        self._rate_next: list[list[Any]] = []  # [tr_cd or None, n]
        self._order_faults: deque[OrderFault] = deque()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._paused = False

    # ------------------------------------------------------------------ lifecycle

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/oauth2/token", self._token)
        router.add_post("/oauth2/revoke", self._revoke)
        for path in sorted(set(codes.TR_PATHS.values())):
            router.add_post(path, self._rest)
        for path in self.ws_paths:
            router.add_get(path, self.ws.handle)

    async def close_sockets(self) -> None:
        await self.ws.close_all()

    # ------------------------------------------------------------------ time

    def now(self) -> datetime:
        """Seoul now, from the injected clock (never the machine's local time)."""
        return self.clock.now()

    def hhmmss(self) -> str:
        return self.now().strftime("%H%M%S")

    def hhmmssmmm(self) -> str:
        now = self.now()
        return now.strftime("%H%M%S") + f"{now.microsecond // 1000:03d}"

    def today(self) -> str:
        return self.now().strftime("%Y%m%d")

    # ------------------------------------------------------------------ hooks: tokens & faults

    def expire_tokens(self) -> None:
        """Every token issued so far is expired (REST answers the token error; WS messages carrying
        one are refused). New tokens can be issued as usual."""
        past = self.clock.time() - 1
        for tok in self.tokens:
            tok.expires_at = min(tok.expires_at, past)

    def revoke_all_tokens(self) -> None:
        for tok in self.tokens:
            tok.revoked = True

    def fail_next(self, target: str, status: int = 500, n: int = 1, body: str = "") -> None:
        """The next `n` requests whose tr_cd header or path equals `target` (e.g. "t0424",
        "/oauth2/token") get a bare HTTP `status`; nothing is processed."""
        self._fails.append(_Fail(target, status, n, body or f"{status} injected by FakeLS"))

    def rate_error_next(self, tr_cd: str | None = None, n: int = 1) -> None:
        """The next `n` requests (of `tr_cd`, or of any TR) get the rate error, whatever the pacing."""
        self._rate_next.append([tr_cd, n])

    def fail_next_order_after_create(self, status: int = 500, n: int = 1) -> None:
        """The next `n` order requests (CSPAT00601/00701/00801) are processed — the order exists,
        SC0/SC1 go out — but are answered with a bare `status`."""
        self._order_faults.extend(OrderFault("after_create", status=status) for _ in range(n))

    def fill_next_order_before_answer(self, n: int = 1) -> None:
        """The next `n` order requests publish SC0 and any immediate fill (SC1) before the REST
        answer is written (use a market order to get a fill)."""
        self._order_faults.extend(OrderFault("fill_before_answer") for _ in range(n))

    def delay_next_order_answer(self, seconds: float, n: int = 1) -> None:
        """The next `n` order requests are processed at once (SC0/SC1 go out) and answered only
        `seconds` later."""
        self._order_faults.extend(OrderFault("delay", delay=seconds) for _ in range(n))

    def reject_next_order(self, n: int = 1) -> None:
        """The next `n` new orders are accepted by REST (00039/00040), then refused by the
        exchange: SC0 then SC4 (rejected)."""
        self._order_faults.extend(OrderFault("reject") for _ in range(n))

    async def drop_websockets(self) -> int:
        """Abort every websocket's TCP connection without a close frame."""
        return await self.ws.drop_all()

    async def send_raw(self, frame: Frame | str, conn_id: int | None = None) -> int:
        return await self.ws.send_raw(frame, conn_id)

    def take_order_fault(self) -> OrderFault | None:
        return self._order_faults.popleft() if self._order_faults else None

    # ------------------------------------------------------------------ hooks: market & account

    def add_listing(self, code: str, name: str, market: Market, base: int) -> Instrument:
        return self.tape.add(code, Listing(name, market, base))

    def instrument(self, code: str) -> Instrument:
        return self.tape.instruments[code]

    def pause_tape(self) -> None:
        self._paused = True

    def resume_tape(self) -> None:
        self._paused = False

    def set_price(self, code: str, price: int) -> None:
        """Move the last price without a print (no tick, no matching): to make an order marketable
        or not. Use push_trade for a print."""
        self._check_price_on_tape(code, price)
        self.tape.instruments[code].price = price

    async def push_trade(
        self, code: str, price: int | None = None, qty: int = 100, side: Side = "buy"
    ) -> None:
        """Print one trade now: published on S3_/K3_ and matched against resting orders."""
        inst = self.tape.instruments[code]
        price = inst.price if price is None else price
        self._check_price_on_tape(code, price)
        await self._print(Trade(code=code, price=price, qty=qty, side=side, at=self.now()))

    def _check_price_on_tape(self, code: str, price: int) -> None:
        lower, upper = self.tape.instruments[code].limits
        if not krx.on_grid(price) or not lower <= price <= upper:
            raise ValueError(f"{price} is off the tick grid or outside {lower}..{upper} for {code}")

    def add_bar(self, code: str, date: str, hhmm: str, o: int, h: int, low: int, c: int, volume: int) -> None:
        """A one-minute bar starting at `hhmm` on `date` (what t8412 aggregates)."""
        self.tape.instruments[code].bars[f"{date}{hhmm}"] = Bar(date, hhmm, o, h, low, c, volume, c * volume)

    def seed_history(self, code: str, minutes: int) -> None:
        """`minutes` one-minute bars ending before the current minute, a seeded walk to the
        current price (so t8412 has a morning to page through)."""
        inst = self.tape.instruments[code]
        start = self.now().replace(second=0, microsecond=0) - timedelta(minutes=minutes)
        price = inst.price
        rng = self.tape.rng
        closes = [price]
        for _ in range(minutes - 1):  # walk backwards from the current price
            step = rng.choice((-1, 0, 1))
            lower, upper = inst.limits
            price = min(max(price + step * krx.tick_size(price), lower), upper)
            closes.append(price)
        closes.reverse()
        prev = closes[0]
        for i, close in enumerate(closes):
            at = start + timedelta(minutes=i)
            o, c = prev, close
            h = max(o, c) + krx.tick_size(max(o, c)) * rng.randint(0, 1)
            lo = min(o, c) - krx.tick_below(min(o, c)) * rng.randint(0, 1)
            lower, upper = inst.limits
            self.add_bar(
                code,
                at.strftime("%Y%m%d"),
                at.strftime("%H%M"),
                o,
                min(h, upper),
                max(lo, lower),
                c,
                rng.randint(100, 5_000),
            )
            prev = close

    def set_cash(self, amount: int) -> None:
        self.account.set_cash(amount)

    def set_position(self, code: str, qty: int, avg_price: int) -> None:
        """Hold `qty` shares bought before today at `avg_price` (0 removes the position)."""
        if qty == 0:
            self.account.positions.pop(code, None)
            return
        self.account.positions[code] = Position(code=code, qty=qty, cost=qty * avg_price, prior_qty=qty)

    # ------------------------------------------------------------------ hooks: conditions

    def set_conditions(self, rows: list[tuple[str, str, str]]) -> None:
        """The saved conditions t1866 lists: (query_index, group_name, query_name) rows."""
        self.conditions.set_saved(rows)

    def set_condition_members(self, query_index: str, codes_: Iterable[str]) -> None:
        """What the condition matches now (t1859), without any AFR push (the state before a client
        looks)."""
        members = list(codes_)
        for code in members:
            self._listed(code)
        self.conditions.saved[query_index].members = members

    def _listed(self, code: str) -> Instrument:
        if code not in self.tape.instruments:
            raise KeyError(f"{code} is not listed on the fake's tape: add_listing() it first")
        return self.tape.instruments[code]

    async def condition_enter(self, query_index: str, code: str) -> str | None:
        """`code` starts matching: AFR gsJobFlag "N" (or "R" if it left earlier) to every socket
        subscribed to an active registration of the condition. Returns the flag (None if it
        already matched)."""
        self._listed(code)
        flag = self.conditions.enter(query_index, code)
        if flag is not None:
            await self._push_condition(query_index, code, flag)
        return flag

    async def condition_leave(self, query_index: str, code: str) -> bool:
        """`code` stops matching: AFR gsJobFlag "O"."""
        left = self.conditions.leave(query_index, code)
        if left:
            await self._push_condition(query_index, code, "O")
        return left

    async def _push_condition(self, query_index: str, code: str, flag: str) -> None:
        inst = self.tape.instruments[code]
        for reg in self.conditions.active():
            if reg.query_index == query_index:
                await self.ws.publish_afr(reg, inst, flag)

    # ------------------------------------------------------------------ inspection

    @property
    def tokens_issued(self) -> int:
        return len(self.tokens)

    @property
    def order_requests(self) -> list[RestRecord]:
        return [r for r in self.requests if r.tr_cd in codes.ORDER_TRS]

    @property
    def connections(self) -> list[WsConn]:
        return self.ws.open_connections

    @property
    def all_connections(self) -> list[WsConn]:
        return list(self.ws.conns)

    @property
    def condition_registrations(self) -> dict[str, Registration]:
        return dict(self.conditions.registrations)

    @property
    def working_orders(self) -> list[Order]:
        return list(self._book)

    def order(self, ordno: int) -> Order:
        for o in self.orders:
            if o.ordno == ordno:
                return o
        raise KeyError(ordno)

    # ------------------------------------------------------------------ HTTP plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        tr_cd = request.headers.get("tr_cd", "")
        for fail in self._fails:
            if fail.n > 0 and fail.target in (tr_cd, request.path):
                fail.n -= 1
                if request.path in set(codes.TR_PATHS.values()):
                    self.requests.append(RestRecord(request.path, tr_cd, request.headers.get("tr_cont"),
                                                    request.headers.get("tr_cont_key"), await request.text(),
                                                    self.clock.time(), status=fail.status,
                                                    injected=f"fail_next {fail.status}"))  # fmt: skip
                return web.Response(status=fail.status, text=fail.body)
        return await handler(request)

    def json_response(
        self,
        body: dict[str, Any],
        *,
        tr_cd: str = "",
        tr_cont: str = "N",
        tr_cont_key: str = "",
        status: int = 200,
    ) -> web.Response:
        # Response headers echo tr_cd/tr_cont/tr_cont_key on every TR answer ([ebest-pkg] reads
        # both continuation headers unconditionally, brokers.md 1.2).
        headers = {"tr_cd": tr_cd, "tr_cont": tr_cont, "tr_cont_key": tr_cont_key} if tr_cd else {}
        return web.json_response(
            body, status=status, headers=headers, dumps=partial(json.dumps, ensure_ascii=False)
        )

    def _token_of(self, request: web.Request) -> TokenRecord | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.valid_token(token.strip())

    def valid_token(self, token: str) -> TokenRecord | None:
        for tok in self.tokens:
            if tok.token == token:
                if tok.revoked or tok.expires_at <= self.clock.time():
                    return None
                return tok
        return None

    def _rate_limited(self, appkey: str, tr_cd: str) -> bool:
        for entry in self._rate_next:
            if entry[1] > 0 and entry[0] in (None, tr_cd):
                entry[1] -= 1
                return True
        rate = self.rates.get(tr_cd)
        if rate is None:
            return False
        # Wall time, not the fake's clock: pacing is about real request spacing and a frozen test
        # clock must not freeze the window.
        now = time.monotonic()
        window = self._windows.setdefault((appkey, tr_cd), deque())
        span = 1.0 if rate >= 1 else 1.0 / rate
        limit = max(1, int(rate))
        while window and now - window[0] >= span:
            window.popleft()
        if len(window) >= limit:
            return True  # a refused request does not use up the window
        window.append(now)
        return False

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        handlers: dict[str, Callable[[RestCall], Awaitable[web.StreamResponse]]] = {
            "CSPAT00601": rest_orders.new_order, "CSPAT00701": rest_orders.modify_order,
            "CSPAT00801": rest_orders.cancel_order, "t0424": rest_queries.t0424, "t0425": rest_queries.t0425,
            "CSPAQ12200": rest_queries.cspaq12200, "FOCCQ33600": rest_queries.foccq33600,
            "t1102": rest_queries.t1102, "t8410": rest_queries.t8410, "t8412": rest_queries.t8412,
            "t1866": rest_conditions.t1866, "t1859": rest_conditions.t1859, "t1860": rest_conditions.t1860,
        }  # fmt: skip
        tr_cd = request.headers.get("tr_cd", "")
        raw = await request.text()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw
        rec = RestRecord(
            path=request.path,
            tr_cd=tr_cd,
            tr_cont=request.headers.get("tr_cont"),
            tr_cont_key=request.headers.get("tr_cont_key"),
            body=parsed,
            at=self.clock.time(),
        )
        self.requests.append(rec)
        try:
            token = self._gate(request, tr_cd, rec)
            block = self._in_block(tr_cd, parsed)
        except GatewayError as err:
            rec.status, rec.rsp_cd, rec.rsp_msg = err.status, *err.code
            return self.json_response(
                {"rsp_cd": err.code[0], "rsp_msg": err.code[1]}, tr_cd=tr_cd, status=err.status
            )
        call = RestCall(fake=self, request=request, tr_cd=tr_cd, token=token, block=block, rec=rec)
        try:
            return await handlers[tr_cd](call)
        except Refusal as refusal:
            return call.reply({}, refusal.code)

    def _gate(self, request: web.Request, tr_cd: str, rec: RestRecord) -> TokenRecord:
        """Gateway checks in order: token, TR code and path, headers, pacing."""
        token = self._token_of(request)
        if token is None:
            # One code for unknown, revoked and expired tokens: the reference has none at all.
            raise GatewayError(self.auth_error_status, codes.E_TOKEN)
        rec.env = token.env
        if tr_cd not in codes.TR_PATHS:
            raise GatewayError(self.input_error_status, codes.E_NO_TR, repr(tr_cd))
        if codes.TR_PATHS[tr_cd] != request.path:
            raise GatewayError(self.input_error_status, codes.E_PATH, f"{tr_cd} -> {codes.TR_PATHS[tr_cd]}")
        # tr_cont/tr_cont_key are "Required Y" on every TR page; whether LS refuses a request
        # without them is UNCONFIRMED (require_cont_headers=False accepts it).
        if self.require_cont_headers and (
            "tr_cont" not in request.headers or "tr_cont_key" not in request.headers
        ):
            raise GatewayError(self.input_error_status, codes.E_HEADER, "tr_cont, tr_cont_key")
        if self._rate_limited(token.appkey, tr_cd):
            rec.injected = rec.injected or "rate"
            raise GatewayError(self.rate_error_status, codes.E_RATE, tr_cd)
        return token

    def _in_block(self, tr_cd: str, parsed: Any) -> dict[str, Any]:
        """The request's InBlock, checked against the TR's field table: every field present
        (except the optional ones) and typed as documented — numbers as JSON numbers."""
        # CSPAT/CSPAQ/FOCCQ TRs name their block ...InBlock1, the t-TRs ...InBlock (field tables).
        name = f"{tr_cd}InBlock1" if tr_cd[0].isupper() else f"{tr_cd}InBlock"
        spec: tuple[tuple[str, str], ...] = getattr(fields, f"IN_{name}")
        if not isinstance(parsed, dict) or not isinstance(parsed.get(name), dict):
            raise GatewayError(self.input_error_status, codes.E_BODY, f"{name} 객체가 없습니다")
        block: dict[str, Any] = parsed[name]
        optional = _OPTIONAL.get(tr_cd, frozenset())
        missing = [f for f, _ in spec if f not in block and f not in optional]
        if missing:
            raise GatewayError(self.input_error_status, codes.E_BODY, f"필수 항목 누락 {missing}")
        if self.strict_types:
            for f, kind in spec:
                if f not in block:
                    continue
                value = block[f]
                is_number = isinstance(value, int | float) and not isinstance(value, bool)
                if kind == "N" and not is_number:
                    raise GatewayError(self.input_error_status, codes.E_DATATYPE, f"{f}: Number")
                if kind == "S" and not isinstance(value, str):
                    raise GatewayError(self.input_error_status, codes.E_DATATYPE, f"{f}: String")
        return block

    # ------------------------------------------------------------------ OAuth

    async def _token(self, request: web.Request) -> web.Response:
        # Form-encoded (REST접근토큰_발급: application/x-www-form-urlencoded). Error shapes and codes
        # are not documented: UNCONFIRMED ({"rsp_cd","rsp_msg"} with 401).
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            return self._oauth_error(codes.E_GRANT, "application/x-www-form-urlencoded 로 보내야 합니다")
        form = await request.post()
        if form.get("grant_type") != "client_credentials" or form.get("scope") != "oob":
            return self._oauth_error(codes.E_GRANT)
        appkey = str(form.get("appkey", ""))
        if appkey not in self.app_keys:
            return self._oauth_error(codes.E_APPKEY)
        secret, env = self.app_keys[appkey]
        if form.get("appsecretkey") != secret:
            return self._oauth_error(codes.E_APPSECRET)
        now = self.clock.time()
        # A new token per call, earlier ones staying valid: whether LS re-issues the same token
        # within the day is UNCONFIRMED (brokers.md 1.2).
        tok = TokenRecord(
            token=self._make_token(appkey, now),
            appkey=appkey,
            env=env,
            issued_at=now,
            expires_at=now + self.token_lifetime,
        )
        self.tokens.append(tok)
        # The field table says expire_in, the example expires_in: the example is followed.
        return self.json_response({"access_token": tok.token, "scope": "oob", "token_type": "Bearer",
                                   "expires_in": self.token_lifetime})  # fmt: skip

    def _oauth_error(self, code: Code, detail: str = "") -> web.Response:
        msg = f"{code[1]} ({detail})" if detail else code[1]
        return self.json_response({"rsp_cd": code[0], "rsp_msg": msg}, status=401)

    def _make_token(self, appkey: str, now: float) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

        # Shaped like the example's JWT (typ JWT, alg HS512, iss unogw, jti = the app key).
        head = b64(json.dumps({"typ": "JWT", "alg": "HS512"}).encode())
        claims = {
            "sub": "token",
            "aud": str(uuid.uuid4()),
            "nbf": int(now),
            "grant_type": "Client",
            "iss": "unogw",
            "exp": int(now) + self.token_lifetime,
            "iat": int(now),
            "jti": appkey,
        }
        return f"{head}.{b64(json.dumps(claims).encode())}.{b64(secrets.token_bytes(64))}"

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        appkey = str(form.get("appkey", ""))
        if appkey not in self.app_keys or form.get("appsecretkey") != self.app_keys[appkey][0]:
            return self._oauth_error(codes.E_APPKEY)
        token = str(form.get("token", ""))
        for tok in self.tokens:
            if tok.token == token and tok.appkey == appkey:
                tok.revoked = True
        # The example answers {"code": 200, ...} although the field table types code as String.
        return self.json_response({"code": 200, "message": codes.OK_REVOKE_MESSAGE})

    # ------------------------------------------------------------------ orders: shared engine

    def new_ordno(self) -> int:
        self._next_ordno += 1
        return self._next_ordno

    def account_info(self) -> AccountInfo:
        self._event_seq += 1
        return AccountInfo(
            accno=self.account.number,
            user_id=self.user_id,
            acnt_name=self.account.name,
            deposit=self.account.cash,
            orderable=self.account.orderable(self.orders),
            seq=self._event_seq,
        )

    async def publish_sc0(self, order: Order) -> None:
        body = sc0_body(self.account_info(), order, self.tape.instruments[order.code])
        await self.ws.publish_account("SC0", body, order.env)

    async def publish_exec(
        self,
        tr_cd: str,
        xct: str,
        order: Order,
        *,
        execution: Execution | None = None,
        orig: Order | None = None,
    ) -> None:
        body = sc_exec_body(
            self.account_info(),
            order,
            self.tape.instruments[order.code],
            xct,
            time=execution.time if execution else self.hhmmssmmm(),
            execution=execution,
            orig=orig,
        )
        await self.ws.publish_account(tr_cd, body, order.env)

    def book(self, order: Order) -> None:
        if order.status == "open" and order.remaining > 0 and order not in self._book:
            self._book.append(order)

    def unbook(self, order: Order) -> None:
        if order in self._book:
            self._book.remove(order)

    async def fill(self, order: Order, price: int, qty: int) -> None:
        self._execno += 1
        ex = self.account.apply_fill(order, price, qty, self._execno, self.hhmmssmmm())
        if order.remaining == 0:
            self.unbook(order)
        await self.publish_exec("SC1", XCT_FILL, order, execution=ex)

    async def fill_if_marketable(self, order: Order) -> None:
        """Market orders and marketable limit orders fill in full at once at the last price."""
        inst = self.tape.instruments[order.code]
        if order.status == "open" and order.remaining > 0 and order.crosses(inst.price):
            await self.fill(order, inst.price, order.remaining)

    # ------------------------------------------------------------------ tape & matching

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            if self._paused:
                continue
            try:
                wanted = self.ws.tick_codes() | {o.code for o in self._book}
                for code in sorted(wanted & self.tape.instruments.keys()):
                    await self._print(self.tape.next_trade(code, self.now()))
            except Exception:  # keep the market running; the log shows what broke
                log.exception("fakels tape step failed")

    async def _print(self, trade: Trade) -> None:
        inst = self.tape.instruments[trade.code]
        inst.apply(trade)
        await self.ws.publish_tick(inst, trade, self._jnil_volume(inst))
        volume = trade.qty
        for order in [o for o in self._book if o.code == trade.code]:
            if volume <= 0:
                break
            if order.status != "open" or order.remaining <= 0 or not order.crosses(trade.price):
                continue
            qty = min(volume, order.remaining)
            volume -= qty
            # A resting order trades at its own price (a market order never rests).
            await self.fill(order, order.price or trade.price, qty)

    def _jnil_volume(self, inst: Instrument) -> int:
        # 전일동시간대거래량: yesterday's volume by this time of day, as the share of the 390-minute
        # session elapsed (a stand-in; the fake has no intraday history of yesterday).
        now = self.now()
        minutes = (now.hour * 60 + now.minute) - 9 * 60
        return inst.prev_volume * min(max(minutes, 0), 390) // 390


# Fields a client may leave out although the tables say "Required Y": MbrNo (KRX/NXT routing,
# added for NXT; "blank or other -> KRX") and t1102's exchgubun (absent from the official t1102
# request example; "other -> KRX"). Whether LS refuses their absence is UNCONFIRMED.
_OPTIONAL: dict[str, frozenset[str]] = {
    "CSPAT00601": frozenset({"MbrNo"}),
    "t1102": frozenset({"exchgubun"}),
}
