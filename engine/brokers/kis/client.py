"""KisBroker: the Broker interface over the KIS Open API (paper or real).

KIS orders carry no client order id, so the adapter keeps the tie: the engine's client order id
maps to the broker's order number (ODNO) once KIS answers. When a send fails ambiguously (5xx,
time-out: the order may exist), the repeat first looks for an order of the same shape placed
since the first try and not yet claimed, and adopts it instead of sending a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Any

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
from engine.brokers.common.conditions import ConditionMembers, ConditionPoller
from engine.brokers.common.instruments import DailyInstruments
from engine.brokers.common.pacing import Priority
from engine.brokers.common.pending import PendingRequests
from engine.brokers.common.ties import ListedOrder, OrderTies
from engine.brokers.kis import codec
from engine.brokers.kis.config import KisConfig
from engine.brokers.kis.http import KisHttp
from engine.brokers.kis.websocket import KisStream
from engine.charts.model import Bar
from engine.clock import Clock, seoul_datetime
from engine.instruments import Instrument
from engine.krx.costs import CostModel, Market
from engine.krx.prices import daily_limits
from engine.krx.universe import BY_CODE
from engine.ordertypes import OrderStatus, Side, cumulative_fill_id

log = logging.getLogger(__name__)

REGISTRATION_CAP = 41  # per app key, the fill notice included
# KIS documents no limit for psearch polling; each watched condition costs a query per interval.
MAX_CONDITIONS = 10
ACK_TIMEOUT = 5.0
ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
CANCEL_PATH = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
BALANCE_PATH = "/uapi/domestic-stock/v1/trading/inquire-balance"
DAILY_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
DAILY_PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-daily-price"
MINUTE_BARS_PATH = "/uapi/domestic-stock/v1/quotations/inquire-time-itemchartprice"
PSEARCH_TITLE_PATH = "/uapi/domestic-stock/v1/quotations/psearch-title"
PSEARCH_RESULT_PATH = "/uapi/domestic-stock/v1/quotations/psearch-result"


class KisBroker(StreamingBroker):
    name = "kis"
    stream: KisStream

    def __init__(
        self, config: KisConfig, data_dir: Path, costs: CostModel | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.clock = clock or Clock()
        self.paper = config.paper
        self.capabilities = Capabilities(
            client_order_ids=False,
            lists_fills=False,
            lists_orders=True,
            condition_search=ConditionSearch.POLLED,
            max_conditions=MAX_CONDITIONS,
            conditions_on_paper=False,
            intraday_bars=True,
            max_symbols=REGISTRATION_CAP - 1,  # one slot is the fill notice
            environments=("paper", "real"),
        )
        self.http = KisHttp(config, data_dir / "kis_token.json", self.clock)
        self.endpoint = config.rest_url
        self.notice_tr = codec.NOTICE_TR[config.env]
        self.stream = KisStream(
            config.ws_url,
            self.http.approval_key,
            self._on_frame,
            self._on_connection,
            self._on_bad_frame,
            now_ns=self.clock.time_ns,
        )
        self.stream.registrations[(self.notice_tr, config.hts_id)] = None
        self.costs = costs or CostModel()
        self._pending: PendingRequests[tuple[str, str], codec.ControlAck] = PendingRequests(
            "KIS", ACK_TIMEOUT
        )
        self._members = ConditionMembers(self._deliver_condition, self.clock)
        self.poller = ConditionPoller(self._members, self._poll_condition, config.condition_poll_seconds)
        # Fills by content, for notices that carry no execution number: a repeat gets the id
        # the first one got; and each order's running total (status and filled_qty).
        self._fill_ids: dict[tuple[str, str, int, int], str] = {}
        self._filled: dict[str, int] = {}
        self._cipher: tuple[str, str] | None = None  # (key, iv) of the fill notice
        self._instruments = DailyInstruments(self.clock)
        self.ties = OrderTies(self.clock)  # client order id <-> ODNO
        self._branch: dict[str, str] = {}  # ODNO -> KRX_FWDG_ORD_ORGNO, needed to cancel

    # ---- lifecycle -----------------------------------------------------------------------

    async def _open(self) -> None:
        await self.http.open()
        await self.http.token()  # fail fast on bad credentials, before anything runs
        # Running totals of today's orders, so a fill notice after a restart says where its
        # order stands.
        for row in await self._today():
            self._filled[str(row.get("odno", ""))] = codec.whole(row.get("tot_ccld_qty"))

    async def _close(self) -> None:
        await self.http.close()

    def _workers(self) -> dict[str, Coroutine[Any, Any, None]]:
        return {"condition-poller": self.poller.run()}

    # ---- realtime ------------------------------------------------------------------------

    def _on_frame(self, frame: codec.Frame) -> None:
        sink = self._sink
        assert sink is not None
        if isinstance(frame, codec.TradeFrame):
            sink.on_ticks(frame.ticks)
        elif isinstance(frame, codec.ControlAck):
            if frame.tr_id == self.notice_tr and frame.ok and frame.key and frame.iv:
                self._cipher = (frame.key, frame.iv)
            if not self._pending.resolve((frame.tr_id, frame.tr_key), frame) and not frame.ok:
                log.warning("KIS refused %s %s: %s %s", frame.tr_id, frame.tr_key, frame.msg_cd, frame.msg1)
        elif isinstance(frame, codec.EncryptedFrame) and frame.tr_id == self.notice_tr:
            self._on_notice(frame)

    def _on_notice(self, frame: codec.EncryptedFrame) -> None:
        if self._cipher is None:
            self._on_bad_frame("fill notice before its key: the ack with key/iv never came")
            return
        try:
            notice = codec.parse_notice(codec.decrypt(frame.payload, *self._cipher))
        except codec.KisDecodeError as exc:
            self._on_bad_frame(str(exc))
            return
        assert self._sink is not None
        coid = self.ties.coid_of(notice.odno)
        if notice.is_fill:
            fill_id, filled = self._fill_identity(notice)
            amount = notice.qty * notice.price
            market = self._instruments.market(notice.symbol)
            # KIS notices carry no fees: the engine's fee model gives them.
            commission, tax = self.costs.fill_costs(
                notice.side == Side.SELL, amount, market, self.clock.today()
            )
            status = OrderStatus.FILLED if filled >= notice.order_qty > 0 else OrderStatus.PARTIALLY_FILLED
            update = OrderUpdate(
                "fill",
                notice.odno,
                coid,
                notice.symbol,
                notice.side,
                notice.order_qty,
                status,
                filled,
                fill_id=fill_id,
                fill_qty=notice.qty,
                fill_price=notice.price,
                commission=commission,
                tax=tax,
                ts_ns=self.clock.time_ns(),
            )
        elif notice.refused:
            update = OrderUpdate(
                "rejected",
                notice.odno,
                coid,
                notice.symbol,
                notice.side,
                notice.order_qty,
                OrderStatus.REJECTED,
                0,
                reason="refused",
                message="KIS refused the order",
            )
        elif notice.correction == "2" or notice.accept == "3":
            # A cancel confirmation names the original order in OODER_NO.
            target = notice.original_odno or notice.odno
            coid = self.ties.coid_of(target, coid)
            update = OrderUpdate(
                "cancelled",
                target,
                coid,
                notice.symbol,
                notice.side,
                notice.order_qty,
                OrderStatus.CANCELLED,
                0,
                message="cancelled at KIS",
            )
        else:
            update = OrderUpdate(
                "accepted",
                notice.odno,
                coid,
                notice.symbol,
                notice.side,
                notice.order_qty,
                OrderStatus.ACCEPTED,
                0,
            )
        self._sink.on_order_update(update)

    def _fill_identity(self, notice: codec.Notice) -> tuple[str, int]:
        """(fill id, the order's filled quantity after it). KIS notices carry no execution
        number, so a fill is known by its content: order number, time, quantity and price. The
        same content again is the same fill repeated, never booked twice; two real fills alike
        to the second would look like one, and the order listing's total (reconciliation)
        books the second. The id holds the cumulative quantity, as the journal and the order
        listing do, so reconciliation after a restart names the fill the same way."""
        key = (notice.odno, notice.time, notice.qty, notice.price)
        known = self._fill_ids.get(key)
        filled = self._filled.get(notice.odno, 0)
        if known is not None:
            return known, filled
        filled += notice.qty
        self._filled[notice.odno] = filled
        self._fill_ids[key] = fill_id = cumulative_fill_id(notice.odno, filled, self.clock.today())
        return fill_id, filled

    async def _register(self, tr_id: str, tr_key: str, register: bool) -> codec.ControlAck | None:
        """None when offline (replayed on reconnect) or unanswered."""
        return await self._pending.request(
            (tr_id, tr_key), lambda: self.stream.send_registration(tr_id, tr_key, register)
        )

    async def subscribe(self, symbol: str) -> None:
        key = (codec.TRADES_TR, symbol)
        if key in self.stream.registrations:
            return
        if len(self.stream.registrations) >= REGISTRATION_CAP:
            raise BrokerError(
                "registration_cap",
                f"KIS allows {REGISTRATION_CAP} realtime registrations per app key (the fill notice is one)",
            )
        self.stream.registrations[key] = None
        ack = await self._register(*key, register=True)
        if ack is not None and not ack.ok and ack.msg_cd != "OPSP0002":  # 0002: already there
            del self.stream.registrations[key]
            raise BrokerError(ack.msg_cd, f"KIS refused {symbol}: {ack.msg1}")

    async def unsubscribe(self, symbol: str) -> None:
        key = (codec.TRADES_TR, symbol)
        if self.stream.registrations.pop(key, 1) is None:
            await self._register(*key, register=False)

    # ---- condition search: psearch, polled (KIS pushes none) -----------------------------

    def _refuse_on_paper(self) -> None:
        refusal = self.capabilities.condition_refusal(self.name, self.paper)
        if refusal is not None:
            raise BrokerError("unsupported", refusal)

    async def conditions(self) -> list[ConditionInfo]:
        self._refuse_on_paper()
        data, _ = await self.http.request(
            "GET", PSEARCH_TITLE_PATH, codec.PSEARCH_TITLE_TR, params={"user_id": self.config.hts_id}
        )
        return codec.conditions(data)

    async def watch_condition(self, condition: ConditionInfo) -> None:
        self._refuse_on_paper()
        self._members.watch(condition.id)
        self.poller.poke()  # the current matches now, not one interval later

    async def unwatch_condition(self, condition_id: str) -> None:
        self._members.unwatch(condition_id)

    async def _poll_condition(self, condition_id: str) -> set[str]:
        try:
            data, _ = await self.http.request(
                "GET",
                PSEARCH_RESULT_PATH,
                codec.PSEARCH_RESULT_TR,
                params={"user_id": self.config.hts_id, "seq": condition_id},
            )
        except BrokerError as exc:
            if exc.code == codec.NO_MATCHES:
                return set()  # KIS answers "no symbol matches" with this error
            raise
        return codec.condition_matches(data)

    # ---- intraday bars -------------------------------------------------------------------

    async def minute_bars(self, symbol: str) -> list[Bar]:
        """Today's 1-minute bars: KIS gives 30 a call, newest first, ending at the hour asked;
        asked again from just before the oldest one until the open is reached."""
        now = self.clock.now()
        today = now.strftime("%Y%m%d")
        hour = min(now.strftime("%H%M%S"), "153000")
        bars: dict[int, Bar] = {}
        for _ in range(20):  # 30 a call: 20 calls cover 09:00-15:30 and then some
            data, _ = await self.http.request(
                "GET",
                MINUTE_BARS_PATH,
                codec.MINUTE_BARS_TR,
                params={
                    "FID_ETC_CLS_CODE": "",
                    "FID_COND_MRKT_DIV_CODE": "J",
                    "FID_INPUT_ISCD": symbol,
                    "FID_INPUT_HOUR_1": hour,
                    "FID_PW_DATA_INCU_YN": "N",
                },
            )
            page = codec.minute_bars(data, today)
            fresh = [b for b in page if b.start_ns not in bars]
            if not fresh:
                break
            bars.update((b.start_ns, b) for b in fresh)
            oldest = min(fresh, key=lambda b: b.start_ns)
            earlier = seoul_datetime(oldest.start_ns) - timedelta(minutes=1)
            if earlier.date() != now.date() or earlier.strftime("%H%M") < "0900":
                break
            hour = earlier.strftime("%H%M%S")
        return [bars[k] for k in sorted(bars)]

    # ---- instruments ---------------------------------------------------------------------

    async def instruments(self) -> dict[str, Instrument]:
        return self._instruments.today()  # filled on demand by instrument()

    async def instrument(self, code: str) -> Instrument:
        """Today's figures for one symbol: two quotation calls, kept for the day."""
        cached = self._instruments.get(code)
        if cached is not None:
            return cached
        params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code}
        price, _ = await self.http.request("GET", PRICE_PATH, "FHKST01010100", params=params)
        out = price.get("output") or {}
        base = codec.whole(out.get("stck_sdpr")) or codec.whole(out.get("stck_prpr"))
        if base <= 0:
            raise BrokerError("unknown_symbol", f"KIS has no price for {code}")
        daily, _ = await self.http.request(
            "GET",
            DAILY_PRICE_PATH,
            "FHKST01010400",
            params={**params, "FID_PERIOD_DIV_CODE": "D", "FID_ORG_ADJ_PRC": "1"},
        )
        rows = daily.get("output") or []
        today = self.clock.now().strftime("%Y%m%d")
        previous: dict[str, Any] = next((r for r in rows if r.get("stck_bsop_date") != today), {})
        limits = daily_limits(base)
        listing = BY_CODE.get(code)
        inst = Instrument(
            code=code,
            name=listing.name if listing else str(out.get("hts_kor_isnm", code)),
            market=listing.market if listing else Market.KOSPI,
            prev_close=base,
            prev_high=codec.whole(previous.get("stck_hgpr")) or base,
            prev_low=codec.whole(previous.get("stck_lwpr")) or base,
            open=codec.whole(out.get("stck_oprc")) or base,
            upper_limit=codec.whole(out.get("stck_mxpr")) or limits.upper,
            lower_limit=codec.whole(out.get("stck_llam")) or limits.lower,
        )
        return self._instruments.put(inst)

    # ---- orders --------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> BrokerOrder:
        async def send() -> str:
            body = codec.order_body(
                self.config.account, request.symbol, request.type, request.qty, request.price
            )
            data, _ = await self.http.request(
                "POST", ORDER_PATH, codec.ORDER_TR[request.side], body=body, priority=Priority.ORDER
            )
            out = data.get("output") or {}
            odno = str(out.get("ODNO", ""))
            self._branch[odno] = str(out.get("KRX_FWDG_ORD_ORGNO", ""))
            return odno

        return await self.ties.place(request, send, self._listing)

    async def _today(self, since: date | None = None) -> list[dict[str, Any]]:
        """Orders of Seoul's today (KIS keys its books by Seoul date, whatever the machine's
        zone says), from `since` when a lookup reaches back over midnight."""
        cano, product = codec.split_account(self.config.account)
        today = self.clock.today()
        start = min(since, today) if since is not None else today
        rows, _ = await self.http.pages(
            DAILY_PATH,
            codec.DAILY_ORDERS_TR,
            {
                "CANO": cano,
                "ACNT_PRDT_CD": product,
                "INQR_STRT_DT": start.strftime("%Y%m%d"),
                "INQR_END_DT": today.strftime("%Y%m%d"),
                "SLL_BUY_DVSN_CD": "00",
                "INQR_DVSN": "00",
                "PDNO": "",
                "CCLD_DVSN": "00",
                "ORD_GNO_BRNO": "",
                "ODNO": "",
                "INQR_DVSN_3": "00",
                "INQR_DVSN_1": "",
                "CTX_AREA_FK100": "",
                "CTX_AREA_NK100": "",
            },
        )
        for row in rows:
            if row.get("odno") and row.get("ord_gno_brno"):
                self._branch.setdefault(str(row["odno"]), str(row["ord_gno_brno"]))
        return rows

    @staticmethod
    def _row_order(row: dict[str, Any], coid: str) -> BrokerOrder:
        qty, filled = codec.whole(row.get("ord_qty")), codec.whole(row.get("tot_ccld_qty"))
        # The original order's row carries its cancelled quantity (cnc_cfrm_qty); cncl_yn
        # marks only the cancel request's own row. Either means nothing more will fill.
        cancelled = str(row.get("cncl_yn", "N")).upper() == "Y" or codec.whole(row.get("cnc_cfrm_qty")) > 0
        status = (
            OrderStatus.FILLED
            if filled >= qty > 0
            else OrderStatus.CANCELLED
            if cancelled
            else OrderStatus.REJECTED
            if codec.whole(row.get("rjct_qty"))
            else OrderStatus.PARTIALLY_FILLED
            if filled
            else OrderStatus.ACCEPTED
        )
        price = codec.whole(row.get("ord_unpr")) or None
        return BrokerOrder(
            str(row.get("odno", "")),
            coid,
            str(row.get("pdno", "")),
            Side.SELL if str(row.get("sll_buy_dvsn_cd")) == "01" else Side.BUY,
            qty,
            price,
            status,
            filled,
        )

    async def _listing(self, since: date) -> list[ListedOrder]:
        today = self.clock.now().strftime("%Y%m%d")
        return [
            ListedOrder(self._row_order(r, ""), str(r.get("ord_dt") or today) + str(r.get("ord_tmd", "")))
            for r in await self._today(since)
        ]

    async def find_order(
        self,
        request: OrderRequest,
        placed_after_ns: int,
        claimed: set[str],
        broker_order_id: str | None = None,
    ) -> BrokerOrder | None:
        return await self.ties.find(request, placed_after_ns, claimed, broker_order_id, self._listing)

    async def cancel_order(self, broker_order_id: str) -> BrokerOrder:
        if broker_order_id not in self._branch:
            await self._today()
        body = codec.cancel_body(self.config.account, self._branch.get(broker_order_id, ""), broker_order_id)
        await self.http.request("POST", CANCEL_PATH, codec.CANCEL_TR, body=body, priority=Priority.ORDER)
        return BrokerOrder(
            broker_order_id,
            self.ties.coid_of(broker_order_id),
            "",
            Side.BUY,
            0,
            None,
            OrderStatus.CANCELLED,
            0,
        )

    async def open_orders(self) -> list[BrokerOrder]:
        orders = [self._row_order(r, "") for r in await self._today()]
        return [o for o in orders if o.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)]

    async def order_states(self) -> list[tuple[BrokerOrder, float]]:
        """Today's orders with their average fill price, for reconciling missed fills."""
        return [
            (self._row_order(r, ""), float(str(r.get("avg_prvs") or 0) or 0)) for r in await self._today()
        ]

    async def account(self) -> AccountSnapshot:
        cano, product = codec.split_account(self.config.account)
        rows, summary = await self.http.pages(
            BALANCE_PATH,
            codec.BALANCE_TR,
            {
                "CANO": cano,
                "ACNT_PRDT_CD": product,
                "AFHR_FLPR_YN": "N",
                "OFL_YN": "",
                "INQR_DVSN": "02",
                "UNPR_DVSN": "01",
                "FUND_STTL_ICLD_YN": "N",
                "FNCG_AMT_AUTO_RDPT_YN": "N",
                "PRCS_DVSN": "00",
                "CTX_AREA_FK100": "",
                "CTX_AREA_NK100": "",
            },
        )
        first = summary[0] if isinstance(summary, list) and summary else summary
        totals: dict[str, Any] = first if isinstance(first, dict) else {}
        # dnca_tot_amt is settled cash (T+2); the D+2 figure includes today's trades.
        cash = codec.whole(totals.get("prvs_rcdl_excc_amt") or totals.get("dnca_tot_amt"))
        positions = {
            str(r["pdno"]): codec.whole(r.get("hldg_qty")) for r in rows if codec.whole(r.get("hldg_qty"))
        }
        return AccountSnapshot(cash=cash, positions=positions)
