"""LsBroker: the Broker interface over the LS증권 (ex-eBest) OPEN API, paper or real.

Orders (CSPAT00601) carry no client order id, so the engine's id is tied to LS's order number
in the journal (common/ties.py): a send that failed ambiguously is looked up among today's
orders (t0425) before it is ever sent again. Account events come from SC0-SC4, ticks from S3_
(KOSPI) or K3_ (KOSDAQ, told apart by t1102's janginfo), condition changes from AFR after
t1860 has started the server-side search; t1859 gives the current matches, on watching and
after every reconnect, because AFR is not documented to replay them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from engine.brokers.base import (
    AccountSnapshot,
    BrokerError,
    BrokerOrder,
    Capabilities,
    ConditionInfo,
    ConditionSearch,
    OrderRequest,
    OrderUpdate,
)
from engine.brokers.common.adapter import StreamingBroker
from engine.brokers.common.conditions import ConditionMembers
from engine.brokers.common.instruments import DailyInstruments
from engine.brokers.common.pacing import Priority
from engine.brokers.common.pending import PendingRequests
from engine.brokers.common.ties import ListedOrder, OrderTies
from engine.brokers.ls import codec
from engine.brokers.ls.config import LsConfig
from engine.brokers.ls.http import LsHttp
from engine.brokers.ls.websocket import LsStream
from engine.charts.model import Bar
from engine.clock import Clock
from engine.files import write_private
from engine.instruments import Instrument
from engine.krx.costs import CostModel, Market
from engine.krx.prices import daily_limits
from engine.ordertypes import OrderStatus, Side, cumulative_fill_id

log = logging.getLogger(__name__)

# Realtime registrations per connection: no official figure (brokers.md 1.6); one wrapper caps
# symbols at 100. Taken as 100 registrations in all, of which the five account feeds and the
# two condition feeds are ours: 93 symbols (UNCONFIRMED).
REGISTRATION_CAP = 100
MAX_CONDITIONS = 2  # xingAPI's note says 2 realtime conditions by default (UNCONFIRMED here)
MAX_SYMBOLS = REGISTRATION_CAP - len(codec.ACCOUNT_TRS) - MAX_CONDITIONS
ACK_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0  # for stopping the server-side searches at shutdown
MAX_BAR_PAGES = 5  # a session is 390 one-minute bars; a page holds 500


@dataclass(slots=True)
class _Known:
    """What the adapter knows of one order of today."""

    symbol: str
    side: Side
    qty: int
    filled: int = 0
    cancel_qty: int = 0  # what Tradecord last asked LS to cancel (all that was left)


@dataclass(slots=True)
class _Watch:
    alert: str  # t1860's sAlertNum: the AFR key
    name: str
    held: list[tuple[str, bool]] | None = None  # pushes kept while t1859 is in flight
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class LsBroker(StreamingBroker):
    name = "ls"
    stream: LsStream

    def __init__(
        self, config: LsConfig, data_dir: Path, costs: CostModel | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.clock = clock or Clock()
        self.paper = config.paper
        self.capabilities = Capabilities(
            client_order_ids=False,
            lists_fills=False,
            lists_orders=True,
            condition_search=ConditionSearch.PUSHED,
            max_conditions=MAX_CONDITIONS,
            conditions_on_paper=False,
            intraday_bars=True,
            max_symbols=MAX_SYMBOLS,
            environments=("paper", "real"),
        )
        self.http = LsHttp(config, data_dir / "ls_token.json", self.clock)
        self.endpoint = config.rest_url
        self.stream = LsStream(
            config.ws_url,
            self.http.token,
            self._on_frame,
            self._on_connection,
            self._on_bad_frame,
            now_ns=self.clock.time_ns,
        )
        for tr_cd in codec.ACCOUNT_TRS:
            self.stream.registrations[(tr_cd, "")] = None
        self.costs = costs or CostModel()
        self._pending: PendingRequests[tuple[str, str], codec.Ack] = PendingRequests("LS", ACK_TIMEOUT)
        self._members = ConditionMembers(self._deliver_condition, self.clock)
        self._watches: dict[str, _Watch] = {}  # condition id (query_index) -> its search
        self._alerts_path = data_dir / "ls_conditions.json"
        self._alerts_lock = asyncio.Lock()  # one read-modify-write of the file at a time
        self._renewing: set[str] = set()
        self._instruments = DailyInstruments(self.clock)
        self._quotes: dict[str, codec.Quote] = {}
        self.ties = OrderTies(self.clock)  # client order id <-> LS order number
        self._orders: dict[str, _Known] = {}
        self._token_reconnect = False

    # ---- lifecycle -----------------------------------------------------------------------

    async def _open(self) -> None:
        await self.http.open()
        await self.http.token()  # fail fast on bad credentials, before anything runs
        await self._check_environment()
        for row in await self._rows():
            if not row.cancel_record:
                self._remember(row)
        if not self.paper:
            await self._stop_stale_searches()

    async def _close(self) -> None:
        self._pending.cancel_all()
        try:
            # Searches left running count against LS's small limit: stop them, and keep the
            # keys on disk for the next start if LS does not answer.
            async with asyncio.timeout(STOP_TIMEOUT):
                for condition_id in list(self._watches):
                    watch = self._watches.pop(condition_id)
                    await self._stop_search(condition_id, watch.alert)
        except (BrokerError, TimeoutError) as exc:
            log.warning(
                "LS condition searches not all stopped (%s); stopped at the next start",
                getattr(exc, "message", "no answer in time"),
            )
        await self.http.close()

    async def revoke(self) -> bool:
        return await self.http.revoke()

    async def _check_environment(self) -> None:
        """LS_ENV names the account the user means; the app key decides which one it is. The
        paper server says 모의투자 in its answers, so a real key used as paper (orders with real
        money and no LIVE_TRADING=yes) is refused before anything is sent."""
        answer = await self.http.request(codec.CASH_TR, codec.CASH_FIELDS)
        says_paper = codec.says_paper(answer.message)
        if self.paper and not says_paper:
            raise BrokerError(
                "environment",
                "LS_ENV=paper, but LS answers this app key as a real "
                "account (its reply does not say 모의투자): use the paper app key, "
                "or LS_ENV=real with LIVE_TRADING=yes",
            )
        if not self.paper and says_paper:
            raise BrokerError(
                "environment",
                "LS_ENV=real, but this app key is a paper (모의투자) "
                "one: set LS_ENV=paper, or use the real account's app key",
            )

    # ---- realtime ------------------------------------------------------------------------

    def _on_connection(self, connected: bool, detail: str) -> None:
        super()._on_connection(connected, detail)
        if connected:
            self._token_reconnect = False
            if self._watches:
                # Changes missed while down: the current matches again, diffed.
                self._tasks.spawn(self._seed_all(), "condition-seed")

    def _on_bad_frame(self, detail: str) -> None:
        super()._on_bad_frame(self._clean(detail))

    def _clean(self, text: str) -> str:
        return codec.scrub(text, (*self.config.secrets, self.http.tokens.current or ""))

    def _on_frame(self, frame: codec.Frame) -> None:
        sink = self._sink
        assert sink is not None
        if isinstance(frame, codec.Trades):
            sink.on_ticks(frame.ticks)
        elif isinstance(frame, codec.AccountEvent):
            self._on_account(frame)
        elif isinstance(frame, codec.ConditionPush):
            self._on_push(frame)
        else:
            self._on_ack(frame)

    def _on_ack(self, ack: codec.Ack) -> None:
        if ack.code in codec.TOKEN_REFUSED and not self._token_reconnect:
            # Everything is registered again on a new connection, with a new token.
            self._token_reconnect = True
            log.info("LS refused the access token on the websocket; reconnecting with a new one")
            self.http.forget_token()
            self._tasks.spawn(self.stream.reconnect("LS refused the access token"), "reconnect")
        if self._pending.resolve((ack.tr_cd, ack.tr_key), ack) or ack.ok:
            return
        if ack.code in codec.TOKEN_REFUSED:
            return
        said = self._clean(codec.describe(ack.code, ack.message))
        log.warning("LS refused the realtime registration %s %s: %s", ack.tr_cd, ack.tr_key, said)
        if ack.tr_cd == codec.CONDITION_TR:
            condition_id = self._condition_of(ack.tr_key)
            if condition_id is not None:
                self._tasks.spawn(self._renew(condition_id), f"renew-{condition_id}")

    async def _register(self, tr_cd: str, tr_key: str, register: bool) -> codec.Ack | None:
        """The ack; None when offline, unanswered or refused for the token: the registration
        is replayed by the next connection."""
        ack = await self._pending.request(
            (tr_cd, tr_key), lambda: self.stream.send_registration(tr_cd, tr_key, register)
        )
        return None if ack is not None and ack.code in codec.TOKEN_REFUSED else ack

    def _tick_keys(self) -> list[tuple[str, str]]:
        return [
            k for k in self.stream.registrations if isinstance(k, tuple) and k[0] in codec.TICK_TRS.values()
        ]

    async def subscribe(self, symbol: str) -> None:
        market = (await self._quote(symbol)).market
        tr_cd = codec.TICK_TRS.get(market)
        if tr_cd is None:
            raise BrokerError(
                "unsupported",
                f"{symbol} trades on {market}: LS realtime trades "
                "are followed for KOSPI (S3_) and KOSDAQ (K3_) symbols only",
            )
        key = (tr_cd, symbol)
        if key in self.stream.registrations:
            return
        if len(self._tick_keys()) >= MAX_SYMBOLS:
            raise BrokerError(
                "registration_cap",
                f"LS realtime trades are followed for at most "
                f"{MAX_SYMBOLS} symbols at once here (one connection's "
                "registrations, with the account and condition feeds)",
            )
        self.stream.registrations[key] = None
        ack = await self._register(tr_cd, symbol, True)
        if ack is not None and not ack.ok:
            self.stream.registrations.pop(key, None)
            raise BrokerError(
                ack.code,
                f"LS refused realtime trades for {symbol}: "
                + self._clean(codec.describe(ack.code, ack.message)),
            )

    async def unsubscribe(self, symbol: str) -> None:
        for key in [k for k in self._tick_keys() if k[1] == symbol]:
            self.stream.registrations.pop(key, None)
            await self._register(key[0], symbol, False)

    # ---- account events ------------------------------------------------------------------

    def _know(self, number: str, symbol: str, side: Side, qty: int) -> _Known:
        known = self._orders.get(number)
        if known is None:
            known = self._orders[number] = _Known(symbol, side, qty)
        return known

    def _remember(self, row: codec.OrderRow) -> None:
        known = self._know(row.order_no, row.symbol, row.side, row.qty)
        known.filled = max(known.filled, row.filled)

    def _on_account(self, e: codec.AccountEvent) -> None:
        assert self._sink is not None
        coid = self.ties.coid_of(e.order_no)
        if e.kind == "accepted":
            known = self._know(e.order_no, e.symbol, e.side, e.order_qty)
            update = OrderUpdate(
                "accepted",
                e.order_no,
                coid,
                e.symbol,
                e.side,
                e.order_qty,
                OrderStatus.ACCEPTED,
                known.filled,
                ts_ns=e.ts_ns,
            )
        elif e.kind == "fill":
            update = self._fill(e, coid)
        elif e.kind == "cancelled":
            cancelled = self._cancelled(e)
            if cancelled is None:
                return
            update = cancelled
        elif e.kind == "rejected" and not e.original:
            known = self._know(e.order_no, e.symbol, e.side, e.order_qty)
            update = OrderUpdate(
                "rejected",
                e.order_no,
                coid,
                e.symbol,
                e.side,
                e.order_qty,
                OrderStatus.REJECTED,
                known.filled,
                reason="rejected",
                message="LS (the exchange) refused the order",
                ts_ns=e.ts_ns,
            )
        elif e.kind == "rejected":
            log.warning("LS refused the cancel or modify (%s) of order %s", e.order_no, e.original)
            return
        elif e.kind == "modified":
            # Tradecord never modifies: someone did it in the HTS. Its remainder now works
            # under the new number, which the engine adopts as an external order if it fills.
            log.warning("order %s was modified at LS outside Tradecord into %s", e.original, e.order_no)
            return
        else:
            log.debug(
                "LS %s %s (%s) for order %s: nothing for the engine", e.tr_cd, e.kind, e.detail, e.order_no
            )
            return
        self._sink.on_order_update(update)

    def _fill(self, e: codec.AccountEvent, coid: str) -> OrderUpdate:
        """A fill, named by the date, its order and the order's filled quantity after it (as
        the engine names fills it books from t0425's totals): SC1 says what is left working
        (unercqty), so a repeated notice, or a fill reconciliation booked already, gets the
        same name."""
        known = self._know(e.order_no, e.symbol, e.side, e.order_qty)
        reported = e.order_qty - e.unfilled
        after = reported if e.order_qty > 0 and reported >= e.exec_qty else known.filled + e.exec_qty
        known.filled = max(known.filled, after)
        amount = e.exec_qty * e.exec_price
        # LS's notice carries no fees: the engine's fee model gives them.
        commission, tax = self.costs.fill_costs(
            e.side == Side.SELL, amount, self._market_of(e.symbol), self.clock.today()
        )
        qty = known.qty or e.order_qty
        status = OrderStatus.FILLED if after >= qty > 0 else OrderStatus.PARTIALLY_FILLED
        return OrderUpdate(
            "fill",
            e.order_no,
            coid,
            e.symbol,
            e.side,
            qty,
            status,
            after,
            fill_id=cumulative_fill_id(e.order_no, after, self.clock.today()),
            fill_qty=e.exec_qty,
            fill_price=e.exec_price,
            commission=commission,
            tax=tax,
            ts_ns=e.ts_ns,
        )

    def _cancelled(self, e: codec.AccountEvent) -> OrderUpdate | None:
        """SC3 names the cancel request (ordno) and the order it cancelled (orgordno)."""
        target = e.original or e.order_no
        known = self._orders.get(target)
        ours = known is not None and 0 < known.cancel_qty <= e.confirmed
        if known is not None and not ours and 0 < e.confirmed < known.qty - known.filled:
            # Part of it only (from the HTS: Tradecord cancels what is left): it still works.
            log.warning("LS cancelled %d of order %s; the rest still works", e.confirmed, target)
            return None
        coid = self.ties.coid_of(target)
        qty = known.qty if known is not None else e.order_qty
        filled = known.filled if known is not None else 0
        return OrderUpdate(
            "cancelled",
            target,
            coid,
            e.symbol,
            e.side,
            qty,
            OrderStatus.CANCELLED,
            filled,
            message="cancelled at LS",
            ts_ns=e.ts_ns,
        )

    def _market_of(self, symbol: str) -> Market:
        quote = self._quotes.get(symbol)
        return quote.market if quote is not None else Market.KOSPI

    # ---- condition search: t1866 / t1859 / t1860 + AFR (real accounts only) -------------

    def _refuse_on_paper(self) -> None:
        refusal = self.capabilities.condition_refusal(self.name, self.paper)
        if refusal is not None:
            raise BrokerError("unsupported", refusal)

    async def conditions(self) -> list[ConditionInfo]:
        self._refuse_on_paper()
        user_id = self._user_id()
        found: list[ConditionInfo] = []
        key, header_key = "", ""
        for _ in range(100):
            answer = await self.http.request(
                codec.CONDITIONS_TR,
                codec.conditions_fields(user_id, key),
                cont=bool(key),
                cont_key=header_key,
            )
            found += codec.conditions(answer.body)
            key = codec.conditions_cursor(answer.body)
            if not key:
                return found
            header_key = answer.cont_key or key
        raise BrokerError("paging", "LS kept announcing more saved conditions; stopped at 100 pages")

    def _user_id(self) -> str:
        if not self.config.user_id:
            raise BrokerError(
                "settings", "LS_USER_ID is not set: LS lists saved conditions (t1866) by your HTS login id"
            )
        return self.config.user_id

    async def watch_condition(self, condition: ConditionInfo) -> None:
        self._refuse_on_paper()
        if condition.id in self._watches:
            return
        alert = await self._start_search(condition.id)
        watch = self._watches[condition.id] = _Watch(alert, condition.name)
        self._members.watch(condition.id)
        try:
            key = (codec.CONDITION_TR, alert)
            self.stream.registrations[key] = None
            ack = await self._register(*key, register=True)
            if ack is not None and not ack.ok:
                raise BrokerError(
                    ack.code,
                    "LS refused the realtime feed (AFR) of the condition: "
                    + self._clean(codec.describe(ack.code, ack.message)),
                )
            await self._seed(condition.id, watch)
        except BrokerError:
            with contextlib.suppress(BrokerError):  # a search not stopped is stopped at next start
                await self._forget_watch(condition.id)
            raise

    async def unwatch_condition(self, condition_id: str) -> None:
        await self._forget_watch(condition_id)

    async def _forget_watch(self, condition_id: str) -> None:
        self._members.unwatch(condition_id)
        watch = self._watches.pop(condition_id, None)
        if watch is None:
            return
        if self.stream.registrations.pop((codec.CONDITION_TR, watch.alert), 1) is None:
            await self._register(codec.CONDITION_TR, watch.alert, False)
        await self._stop_search(condition_id, watch.alert)

    def _condition_of(self, alert: str) -> str | None:
        for condition_id, watch in self._watches.items():
            if watch.alert == alert:
                return condition_id
        # The AFR page's header table lists only tr_cd: with one search running, a push
        # without the key can only be its.
        if not alert and len(self._watches) == 1:
            return next(iter(self._watches))
        return None

    def _on_push(self, push: codec.ConditionPush) -> None:
        condition_id = self._condition_of(push.alert)
        watch = self._watches.get(condition_id) if condition_id is not None else None
        if condition_id is None or watch is None:
            log.info(
                "AFR push for %s on a search no longer followed (%s): ignored",
                push.symbol,
                push.alert or "no key",
            )
            return
        if watch.held is not None:
            watch.held.append((push.symbol, push.entered))
        else:
            self._members.change(condition_id, push.symbol, push.entered)

    async def _seed(self, condition_id: str, watch: _Watch) -> None:
        """The current matches (t1859) as enters and leaves against what is known. Pushes that
        arrive meanwhile are held and applied after it: they are at least as new."""
        async with watch.lock:
            watch.held = []
            symbols: set[str] | None = None
            error: BrokerError | None = None
            try:
                answer = await self.http.request(codec.MATCHES_TR, {"query_index": condition_id})
                symbols = codec.matches(answer.body)
            except codec.LsDecodeError as exc:
                error = BrokerError(
                    "bad_answer", f"LS's t1859 answer could not be read: {exc}", retryable=True
                )
            except BrokerError as exc:
                error = exc
            finally:
                held, watch.held = watch.held or [], None
            if self._watches.get(condition_id) is watch:
                if symbols is not None:
                    self._members.snapshot(condition_id, symbols)
                for symbol, entered in held:  # kept even when t1859 failed
                    self._members.change(condition_id, symbol, entered)
            if error is not None:
                raise error

    async def _seed_all(self) -> None:
        for condition_id, watch in list(self._watches.items()):
            try:
                await self._seed(condition_id, watch)
            except BrokerError as exc:
                # No leave is invented from a missing answer; the pushes go on.
                log.warning(
                    "condition %s: current matches not read after the reconnect: %s", watch.name, exc.message
                )

    async def _start_search(self, condition_id: str) -> str:
        answer = await self.http.request(
            codec.REALTIME_CONDITION_TR, codec.realtime_condition_fields(True, condition_id)
        )
        try:
            alert = codec.alert_number(answer.body)
        except codec.LsDecodeError as exc:
            raise BrokerError(
                "condition_refused", f"LS did not start the realtime search (t1860): {exc}"
            ) from None
        await self._save_alert(alert, condition_id)
        return alert

    async def _stop_search(self, condition_id: str, alert: str) -> None:
        answer = await self.http.request(
            codec.REALTIME_CONDITION_TR, codec.realtime_condition_fields(False, condition_id, alert)
        )
        if not codec.stopped(answer.body):
            log.info("LS did not confirm stopping search %s of %s (already stopped?)", alert, condition_id)
        await self._save_alert(alert, None)

    async def _renew(self, condition_id: str) -> None:
        """AFR refused a key on a new connection (the search ended at LS: a new day, a new
        token?): start a new search for the condition and follow it instead."""
        watch = self._watches.get(condition_id)
        if watch is None or condition_id in self._renewing:
            return
        self._renewing.add(condition_id)
        try:
            self.stream.registrations.pop((codec.CONDITION_TR, watch.alert), None)
            try:
                await self._stop_search(condition_id, watch.alert)
            except BrokerError as exc:
                log.info("old search %s not stopped: %s", watch.alert, exc.message)
            alert = await self._start_search(condition_id)
            if self._watches.get(condition_id) is not watch:
                await self._stop_search(condition_id, alert)  # unwatched meanwhile
                return
            watch.alert = alert
            key = (codec.CONDITION_TR, alert)
            self.stream.registrations[key] = None
            ack = await self._register(*key, register=True)
            if ack is not None and not ack.ok:
                log.error(
                    "condition %s: LS refused its realtime feed again (%s); not followed "
                    "until the next reconnect",
                    watch.name,
                    self._clean(codec.describe(ack.code, ack.message)),
                )
                return
            await self._seed(condition_id, watch)
        except BrokerError as exc:
            log.error("condition %s could not be followed again: %s", watch.name, exc.message)
        finally:
            self._renewing.discard(condition_id)

    # Keys of running searches, on disk: a search a crash left running is stopped at the next
    # start, not left to use up LS's few slots.

    def _load_alerts(self) -> dict[str, str]:
        try:
            data = json.loads(self._alerts_path.read_text())
        except (OSError, ValueError):
            return {}
        alerts = data.get("alerts") if isinstance(data, dict) else None
        return {str(k): str(v) for k, v in alerts.items()} if isinstance(alerts, dict) else {}

    async def _save_alert(self, alert: str, condition_id: str | None) -> None:
        def save() -> None:
            alerts = self._load_alerts()
            if condition_id is None:
                alerts.pop(alert, None)
            else:
                alerts[alert] = condition_id
            write_private(self._alerts_path, json.dumps({"alerts": alerts}))

        async with self._alerts_lock:
            await asyncio.to_thread(save)

    async def _stop_stale_searches(self) -> None:
        for alert, condition_id in (await asyncio.to_thread(self._load_alerts)).items():
            try:
                await self._stop_search(condition_id, alert)
            except BrokerError as exc:
                log.info("stale search %s not stopped (%s); forgotten", alert, exc.message)
                await self._save_alert(alert, None)

    # ---- instruments and bars ------------------------------------------------------------

    async def _quote(self, code: str) -> codec.Quote:
        cached = self._quotes.get(code)
        if cached is not None:
            return cached
        answer = await self.http.request(codec.QUOTE_TR, codec.quote_fields(code))
        try:
            quote = codec.quote(answer.body, code)
        except codec.LsDecodeError as exc:
            raise BrokerError("unknown_symbol", f"LS has no quote for {code}: {exc}") from None
        self._quotes[code] = quote
        return quote

    async def instruments(self) -> dict[str, Instrument]:
        return self._instruments.today()  # filled on demand by instrument()

    async def instrument(self, code: str) -> Instrument:
        """Today's figures: base price, limits and open from t1102, yesterday's high and low
        from t8410's head (t1102 has no such field). Kept for the day."""
        cached = self._instruments.get(code)
        if cached is not None:
            return cached
        quote = await self._quote(code)
        daily = await self.http.request(codec.DAILY_TR, codec.daily_fields(code, self.clock.today()))
        high, low = codec.previous_day(daily.body)
        limits = daily_limits(quote.base)
        inst = Instrument(
            code=code,
            name=quote.name,
            market=quote.market,
            prev_close=quote.base,
            prev_high=high or quote.base,
            prev_low=low or quote.base,
            open=quote.open or quote.base,
            upper_limit=quote.upper or limits.upper,
            lower_limit=quote.lower or limits.lower,
        )
        return self._instruments.put(inst)

    async def minute_bars(self, symbol: str) -> list[Bar]:
        """Today's one-minute bars from the open (t8412 pages newest first, rows oldest
        first), oldest first."""
        today = self.clock.today()
        bars: dict[int, Bar] = {}
        cont, key, cursor = False, "", {"cts_date": "", "cts_time": ""}
        for _ in range(MAX_BAR_PAGES):
            answer = await self.http.request(
                codec.MINUTE_TR, codec.minute_fields(symbol, today, **cursor), cont=cont, cont_key=key
            )
            page = codec.minute_bars(answer.body, today)
            fresh = [b for b in page if b.start_ns not in bars]
            bars.update((b.start_ns, b) for b in fresh)
            cursor = codec.minute_cursor(answer.body)
            if (
                not answer.more
                or not fresh
                or not cursor["cts_date"]
                or cursor["cts_date"] < today.strftime("%Y%m%d")
            ):
                break
            cont, key = True, answer.cont_key or cursor["cts_date"] + cursor["cts_time"]
        return [bars[k] for k in sorted(bars)]

    # ---- orders --------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        if request.type == "limit" and not request.price:
            raise BrokerError("bad_request", "a limit order needs a price")

        async def send() -> str:
            answer = await self.http.request(
                codec.ORDER_TR,
                codec.order_fields(request.symbol, request.side, request.type, request.qty, request.price),
                priority=Priority.ORDER,
            )
            number = codec.order_number(answer.body)
            if not number:
                # Accepted without a number: it may exist, so it is looked up before any retry.
                raise BrokerError(
                    "no_order_number", "LS accepted the order but gave no order number", retryable=True
                )
            self._know(number, request.symbol, request.side, request.qty)
            return number

        return await self.ties.place(request, send, self._listing)

    async def _rows(self, priority: Priority = Priority.QUERY) -> list[codec.OrderRow]:
        """Today's orders (t0425 lists Seoul's today only), every page."""
        bodies = await self.http.pages(
            codec.ORDERS_TR,
            {**codec.ORDERS_FIELDS, "cts_ordno": ""},
            lambda body: {"cts_ordno": codec.out_block(body, "t0425OutBlock").get("cts_ordno", "")},
            priority,
        )
        try:
            return [row for body in bodies for row in codec.order_rows(body)]
        except codec.LsDecodeError as exc:
            raise BrokerError(
                "bad_answer", f"LS's order listing (t0425) could not be read: {exc}", retryable=True
            ) from None

    def _order(self, row: codec.OrderRow) -> BrokerOrder:
        return BrokerOrder(
            row.order_no,
            self.ties.coid_of(row.order_no),
            row.symbol,
            row.side,
            row.qty,
            row.price,
            row.status,
            row.filled,
        )

    async def _orders_today(self, priority: Priority = Priority.QUERY) -> list[codec.OrderRow]:
        return [row for row in await self._rows(priority) if not row.cancel_record]

    async def _listing(self, since: date) -> list[ListedOrder]:
        # t0425 has no date input: it lists today's orders, so a lookup cannot reach back over
        # midnight (KRX does not trade then).
        day = self.clock.today().strftime("%Y%m%d")
        return [
            ListedOrder(self._order(row), day + row.placed.ljust(6, "0"))
            for row in await self._orders_today(Priority.ORDER)
        ]

    async def find_order(
        self,
        request: OrderRequest,
        placed_after_ns: int,
        claimed: set[str],
        broker_order_id: str | None = None,
    ) -> BrokerOrder | None:
        return await self.ties.find(request, placed_after_ns, claimed, broker_order_id, self._listing)

    async def _row(self, number: str) -> codec.OrderRow | None:
        return next((r for r in await self._orders_today(Priority.ORDER) if r.order_no == number), None)

    async def cancel_order(self, broker_order_id: str) -> BrokerOrder:
        """Cancels what is left: CSPAT00801 needs the symbol and a quantity, read from t0425
        (what LS does with more than is left is UNCONFIRMED, so never more is asked)."""
        row = await self._row(broker_order_id)
        if row is None:
            raise BrokerError("unknown_order", f"LS lists no order {broker_order_id} today")
        for attempt in range(2):
            if row.remaining <= 0:
                raise BrokerError(
                    "not_cancellable",
                    f"order {broker_order_id} has nothing left "
                    f"to cancel at LS: it is {row.status.words} "
                    f"({row.filled:,} of {row.qty:,} filled)",
                )
            # Before the send: SC3 may come before the answer.
            self._know(broker_order_id, row.symbol, row.side, row.qty).cancel_qty = row.remaining
            try:
                await self.http.request(
                    codec.CANCEL_TR,
                    codec.cancel_fields(broker_order_id, row.symbol, row.remaining),
                    priority=Priority.ORDER,
                )
                break
            except BrokerError as exc:
                if exc.retryable or attempt:
                    raise
                # Refused: if a fill changed what is left meanwhile, once more with that.
                fresh = await self._row(broker_order_id)
                if fresh is None or fresh.remaining == row.remaining:
                    raise
                row = fresh
        return BrokerOrder(
            broker_order_id,
            self.ties.coid_of(broker_order_id),
            row.symbol,
            row.side,
            row.qty,
            row.price,
            OrderStatus.CANCELLED,
            row.filled,
        )

    async def open_orders(self) -> list[BrokerOrder]:
        return [
            self._order(r)
            for r in await self._orders_today()
            if r.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        ]

    async def order_states(self) -> list[tuple[BrokerOrder, float]]:
        return [(self._order(r), r.avg_price) for r in await self._orders_today()]

    async def account(self) -> AccountSnapshot:
        bodies = await self.http.pages(
            codec.BALANCE_TR,
            {**codec.BALANCE_FIELDS, "cts_expcode": ""},
            lambda body: {"cts_expcode": codec.out_block(body, "t0424OutBlock").get("cts_expcode", "")},
        )
        cash = await self.http.request(codec.CASH_TR, codec.CASH_FIELDS)
        try:
            held: dict[str, int] = {}
            for body in bodies:
                for code, qty in codec.positions(body).items():
                    held[code] = held.get(code, 0) + qty
            return AccountSnapshot(cash=codec.cash(cash.body), positions=held)
        except codec.LsDecodeError as exc:
            raise BrokerError(
                "bad_answer", f"LS's balance could not be read: {exc}", retryable=True
            ) from None
