"""Query TRs: balance and positions (t0424, CSPAQ12200), orders and fills (t0425), paper/real
probe (FOCCQ33600), instrument info (t1102), daily and minute charts (t8410, t8412).

Field names and types from the official tables (fields.py). Where an official example shows a
Number-typed decimal as a string ("janrt": "100.00", "sunikrt": "25.22", "diff": "000.22",
"rate": "0.00", "PnlRat": "0.000000"), the fake writes it the same way; integers are JSON numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests import fakekrx as krx
from tests.fakels import codes, fields
from tests.fakels.account import MARKET, Order, Position
from tests.fakels.rest import Refusal, RestCall, zeroed

if TYPE_CHECKING:
    from tests.fakels.server import FakeLS
    from tests.fakels.tape import Instrument


def _instrument(call: RestCall, shcode: str) -> Instrument:
    inst = call.fake.tape.instruments.get(shcode.strip())
    if inst is None:
        raise Refusal(codes.E_SYMBOL, repr(shcode))
    return inst


def _eval(fake: FakeLS, p: Position) -> int:
    inst = fake.tape.instruments.get(p.code)
    return (inst.price if inst else round(p.avg_price)) * p.qty


# ---------------------------------------------------------------------------- t0424 주식잔고2


async def t0424(call: RestCall) -> web.StreamResponse:
    fake, acct = call.fake, call.fake.account
    held = sorted((p for p in acct.positions.values() if p.qty > 0), key=lambda p: p.code)
    after = call.cursor(str(call.block["cts_expcode"]))
    page, nxt = call.page(held, lambda p: p.code, after, fake.page_sizes["t0424"])
    total_eval = sum(_eval(fake, p) for p in held)
    rows = []
    for i, p in enumerate(page, start=1):
        inst = fake.tape.instruments.get(p.code)
        appamt = _eval(fake, p)
        pnl = appamt - p.cost
        rows.append(
            zeroed(
                fields.OUT_t0424OutBlock1,
                expcode=p.code,
                janqty=p.qty,
                mdposqt=max(acct.sellable(p.code, fake.orders), 0),
                pamt=round(p.avg_price),
                mamt=p.cost,
                msat=p.today_buy_amt,
                mpms=round(p.today_buy_amt / p.today_buy_qty) if p.today_buy_qty else 0,
                mdat=p.today_sell_amt,
                mpmd=round(p.today_sell_amt / p.today_sell_qty) if p.today_sell_qty else 0,
                sysprocseq=i,
                hname=inst.name if inst else p.code,
                # jonggb: "3" for 삼성전자 in the example; its code table is not in the reference.
                jonggb="3" if inst is None or inst.market == "KOSPI" else "2",
                janrt=f"{appamt / total_eval * 100 if total_eval else 0:.2f}",
                price=inst.price if inst else 0,
                appamt=appamt,
                dtsunik=pnl,
                sunikrt=f"{pnl / p.cost * 100 if p.cost else 0:.2f}",
                fee=p.fees,
                tax=p.taxes,
            )
        )
    cost = sum(p.cost for p in held)
    out = zeroed(
        fields.OUT_t0424OutBlock,
        sunamt=acct.d2_cash + total_eval,
        dtsunik=acct.realized,
        mamt=cost,
        sunamt1=acct.d2_cash,
        cts_expcode=nxt,
        tappamt=total_eval,
        tdtsunik=total_eval - cost,
    )
    return call.reply(
        {"t0424OutBlock": out, "t0424OutBlock1": rows},
        codes.OK_QUERY,
        tr_cont="Y" if nxt else "N",
        tr_cont_key=nxt,
    )


# ---------------------------------------------------------------------------- t0425 체결/미체결


def _status(o: Order) -> str:
    # t0425 status strings beyond the example's "접수" are UNCONFIRMED.
    if o.kind == "cancel":
        return "취소확인"
    if o.status == "rejected":
        return "거부"
    if o.status == "filled":
        return "체결"
    if o.status == "cancelled":
        return "취소"
    if o.status == "replaced":
        return "정정"
    return "부분체결" if o.filled else "접수"


async def t0425(call: RestCall) -> web.StreamResponse:
    fake, b = call.fake, call.block
    expcode, chegb, medosu, sortgb = (str(b[k]).strip() for k in ("expcode", "chegb", "medosu", "sortgb"))
    code = expcode[1:] if expcode.startswith("A") and len(expcode) == 7 else expcode
    today = fake.today()
    orders = [o for o in fake.orders if o.date == today]  # LS books by the Seoul date
    if code:
        orders = [o for o in orders if o.code == code]
    if medosu in ("1", "2"):
        orders = [o for o in orders if (o.side == "sell") == (medosu == "1")]
    if chegb == "1":
        orders = [o for o in orders if o.filled]
    elif chegb == "2":
        orders = [o for o in orders if o.status == "open" and o.remaining > 0]
    orders.sort(key=lambda o: o.ordno, reverse=sortgb == "1")  # 1 주문번호 역순, 2 주문번호 순
    after = call.cursor(str(b["cts_ordno"]))
    page, nxt = call.page(orders, lambda o: str(o.ordno), after, fake.page_sizes["t0425"])
    rows = []
    for i, o in enumerate(page, start=1):
        inst = fake.tape.instruments[o.code]
        rows.append(
            zeroed(
                fields.OUT_t0425OutBlock1,
                ordno=o.ordno,
                expcode=o.code,
                medosu="매수" if o.side == "buy" else "매도",
                qty=o.qty,
                price=o.price,
                cheqty=o.filled,
                cheprice=round(o.avg_price),
                ordrem=o.remaining if o.status == "open" else 0,
                cfmqty=o.qty if o.kind == "cancel" else o.cancelled + o.replaced + o.rejected,
                status=_status(o),
                orgordno=o.orgordno,
                ordgb="시장가" if o.ptn == MARKET else "보통",
                ordtime=o.time[:8],
                ordermtd="OPEN API",
                sysprocseq=i,
                hogagb=o.ptn,
                price1=inst.price,
                orggb="02" if o.side == "buy" else "01",
                singb="00",
                exchname="KRX",
            )
        )
    new = [o for o in orders if o.kind != "cancel"]
    fees = sum(int(o.fill_amount * fake.account.commission_rate) for o in new)
    tax = sum(int(o.fill_amount * fake.account.sell_tax_rate) for o in new if o.side == "sell")
    out = zeroed(
        fields.OUT_t0425OutBlock,
        tqty=sum(o.qty for o in new),
        tcheqty=sum(o.filled for o in new),
        tordrem=sum(o.remaining for o in new if o.status == "open"),
        cmss=fees,
        tamt=sum(o.qty * o.price for o in new),
        tmdamt=sum(o.fill_amount for o in new if o.side == "sell"),
        tmsamt=sum(o.fill_amount for o in new if o.side == "buy"),
        tax=tax,
        cts_ordno=nxt,
    )
    return call.reply(
        {"t0425OutBlock": out, "t0425OutBlock1": rows},
        codes.OK_QUERY,
        tr_cont="Y" if nxt else "N",
        tr_cont_key=nxt,
    )


# ---------------------------------------------------------------------------- CSPAQ12200 예수금


async def cspaq12200(call: RestCall) -> web.StreamResponse:
    fake, acct = call.fake, call.fake.account
    held = [p for p in acct.positions.values() if p.qty > 0]
    evl = sum(_eval(fake, p) for p in held)
    cost = sum(p.cost for p in held)
    orderable = acct.orderable(fake.orders)
    out1 = zeroed(
        fields.OUT_CSPAQ12200OutBlock1,
        RecCnt=1,
        AcntNo=acct.number,
        Pwd="********",
        BalCreTp=str(call.block["BalCreTp"]),
    )
    # The example's 35%/50% amounts are the 100% amount / 0.3 and / 0.4: copied as such.
    out2 = zeroed(
        fields.OUT_CSPAQ12200OutBlock2,
        RecCnt=1,
        AcntNm=acct.name,
        MnyOrdAbleAmt=orderable,
        MnyoutAbleAmt=min(acct.cash, acct.d2_cash),
        BalEvalAmt=evl,
        DpsastTotamt=acct.d2_cash + evl,
        PnlRat=f"{(evl - cost) / cost * 100 if cost else 0:.6f}",
        InvstOrgAmt=cost,
        InvstPlAmt=evl - cost,
        Dps=acct.cash,
        D1Dps=acct.cash,
        D2Dps=acct.d2_cash,
        MgnRat100pctOrdAbleAmt=orderable,
        MgnRat35ordAbleAmt=round(orderable / 0.3),
        MgnRat50ordAbleAmt=round(orderable / 0.4),
        D1PrsmptWthdwAbleAmt=acct.d2_cash,
        D2PrsmptWthdwAbleAmt=acct.d2_cash,
        ChgAfPldgRat="0.000",
        D1OrdAbleAmt=orderable,
    )
    code = codes.OK_ACCOUNT_PAPER if call.env == "paper" else codes.OK_ACCOUNT
    return call.reply({"CSPAQ12200OutBlock1": out1, "CSPAQ12200OutBlock2": out2}, code)


# ---------------------------------------------------------------------------- FOCCQ33600


async def foccq33600(call: RestCall) -> web.StreamResponse:
    """[ebest-pkg] calls FOCCQ33600 after login and checks rsp_msg for "모의투자" (brokers.md 1.1):
    the fake's paper answer says so. Returns one OutBlock3 row for today only."""
    fake, acct, b = call.fake, call.fake.account, call.block
    evl = sum(_eval(fake, p) for p in acct.positions.values() if p.qty > 0)
    out1 = zeroed(
        fields.OUT_FOCCQ33600OutBlock1,
        RecCnt=1,
        AcntNo=acct.number,
        Pwd="********",
        QrySrtDt=b["QrySrtDt"],
        QryEndDt=b["QryEndDt"],
        TermTp=b["TermTp"],
    )
    out2 = zeroed(
        fields.OUT_FOCCQ33600OutBlock2,
        RecCnt=1,
        AcntNm=acct.name,
        InvstAvrbalPramt=acct.cash,
        InvstErnrat="0.00",
    )
    row = zeroed(
        fields.OUT_FOCCQ33600OutBlock3,
        BaseDt=fake.today(),
        FdEvalAmt=acct.cash,
        EotEvalAmt=acct.d2_cash + evl,
        InvstAvrbalPramt=acct.cash,
        TermErnrat="0.000",
        Idx="0.00",
    )
    code = codes.OK_ACCOUNT_PAPER if call.env == "paper" else codes.OK_ACCOUNT
    return call.reply(
        {"FOCCQ33600OutBlock1": out1, "FOCCQ33600OutBlock2": out2, "FOCCQ33600OutBlock3": [row]}, code
    )


# ---------------------------------------------------------------------------- t1102 현재가


def _svi(inst: Instrument) -> tuple[int, int]:
    # Static VI band +-10% of the reference price (krx.md), here the base price; LS's rounding
    # is UNCONFIRMED.
    return krx.round_up(-(-inst.base * 9 // 10)), krx.round_down(inst.base * 11 // 10)


async def t1102(call: RestCall) -> web.StreamResponse:
    inst = _instrument(call, str(call.block["shcode"]))
    lower, upper = inst.limits
    svi_lo, svi_hi = _svi(inst)
    traded = inst.trades > 0
    out = zeroed(
        fields.OUT_t1102OutBlock,
        hname=inst.name,
        price=inst.price,
        sign=inst.sign(),
        change=abs(inst.change),
        diff=f"{inst.rate():06.2f}",
        volume=inst.volume,
        recprice=inst.base,
        avg=round(inst.value / inst.volume) if inst.volume else inst.price,
        uplmtprice=upper,
        dnlmtprice=lower,
        jnilvolume=inst.prev_volume,
        volumediff=inst.volume - inst.prev_volume,
        open=inst.open if traded else 0,
        opentime=inst.opentime,
        high=inst.high if traded else 0,
        hightime=inst.hightime,
        low=inst.low if traded else 0,
        lowtime=inst.lowtime,
        memedan="00001",
        shcode=inst.code,
        value=inst.value // 1_000_000,
        tonghwa="KRW",
        spac_gubun="N",
        janginfo=inst.market,
        svi_uplmtprice=svi_hi,
        svi_dnlmtprice=svi_lo,
        low_lqdt_gu="0",
        abnormal_rise_gu="0",
        ex_shcode=inst.code,
    )
    return call.reply({"t1102OutBlock": out}, codes.OK_MARKET)


# ---------------------------------------------------------------------------- charts


def _prev_business_day(day: datetime) -> datetime:
    # Weekends only: the fake has no holiday calendar (the engine has one; not needed here).
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _chart_head(inst: Instrument) -> dict[str, Any]:
    lower, upper = inst.limits
    traded = inst.trades > 0
    return {
        "shcode": inst.code,
        "jisiga": inst.prev_open,
        "jihigh": inst.prev_high,
        "jilow": inst.prev_low,
        "jiclose": inst.base,
        "jivolume": inst.prev_volume,
        "disiga": inst.open if traded else 0,
        "dihigh": inst.high if traded else 0,
        "dilow": inst.low if traded else 0,
        "diclose": inst.price if traded else 0,
        "highend": upper,
        "lowend": lower,
        "s_time": "090000",
        "e_time": "153000",
        "dshmin": "10",
    }


async def t8410(call: RestCall) -> web.StreamResponse:
    """Daily bars: what the fake knows is yesterday (prev_*) and today's session so far."""
    fake, b = call.fake, call.block
    inst = _instrument(call, str(b["shcode"]))
    if b["gubun"] != "2":
        raise Refusal(codes.E_UNSUPPORTED, f"gubun {b['gubun']!r} (fake: 2 일)")
    today = fake.now()
    rows = [zeroed(fields.OUT_t8410OutBlock1, date=_prev_business_day(today).strftime("%Y%m%d"),
                   open=inst.prev_open, high=inst.prev_high, low=inst.prev_low, close=inst.base,
                   jdiff_vol=inst.prev_volume, rate="000.00", sign="3")]  # fmt: skip
    if inst.trades:
        rows.append(
            zeroed(
                fields.OUT_t8410OutBlock1,
                date=today.strftime("%Y%m%d"),
                open=inst.open,
                high=inst.high,
                low=inst.low,
                close=inst.price,
                jdiff_vol=inst.volume,
                value=inst.value // 1_000_000,
                rate="000.00",
                sign=inst.sign(),
            )
        )
    sdate, edate = str(b["sdate"]).strip(), str(b["edate"]).strip()
    rows = [r for r in rows if (not sdate or r["date"] >= sdate) and (not edate or r["date"] <= edate)]
    rows = rows[-max(int(b["qrycnt"]), 1) :]
    fake.pages_served["t8410"] += 1
    head = _chart_head(inst)
    svi_lo, svi_hi = _svi(inst)
    out = zeroed(
        fields.OUT_t8410OutBlock,
        **head,
        cts_date="",
        rec_count=len(rows),
        svi_uplmtprice=svi_hi,
        svi_dnlmtprice=svi_lo,
    )
    return call.reply({"t8410OutBlock": out, "t8410OutBlock1": rows}, codes.OK_MARKET)


def _minute_bars(fake: FakeLS, inst: Instrument, ncnt: int) -> list[dict[str, Any]]:
    """One-minute bars aggregated into `ncnt`-minute bars aligned on 09:00, oldest first.

    Labels: the bar's end time by default ("090100" is 09:00-09:01) — which end LS labels is
    UNCONFIRMED (bar_label="start" for the other); the forming bar is included."""
    groups: dict[tuple[str, int], list[Any]] = {}
    for key in sorted(inst.bars):
        bar = inst.bars[key]
        minute = int(bar.minute[:2]) * 60 + int(bar.minute[2:])
        groups.setdefault((bar.date, (minute - 540) // ncnt), []).append(bar)
    out = []
    for (date, idx), bars in sorted(groups.items()):
        start = 540 + idx * ncnt
        label = start + ncnt if fake.bar_label == "end" else start
        close = bars[-1].close
        out.append(
            zeroed(
                fields.OUT_t8412OutBlock1,
                date=date,
                time=f"{label // 60:02d}{label % 60:02d}00",
                open=bars[0].open,
                high=max(b.high for b in bars),
                low=min(b.low for b in bars),
                close=close,
                jdiff_vol=sum(b.volume for b in bars),
                value=sum(b.value for b in bars) // 1_000_000,
                rate="0.00",
                sign=inst.sign(close),
            )
        )
    return out


async def t8412(call: RestCall) -> web.StreamResponse:
    fake, b = call.fake, call.block
    inst = _instrument(call, str(b["shcode"]))
    ncnt, qrycnt = int(b["ncnt"]), int(b["qrycnt"])
    if ncnt <= 0:
        raise Refusal(codes.E_BODY, f"ncnt {ncnt}")
    # "요청건수(최대-압축:2000비압축:500)", and "OPENAPI에서는 압축 미제공": clamped to 500.
    size = min(max(qrycnt, 1), 500, fake.page_sizes["t8412"])
    bars = _minute_bars(fake, inst, ncnt)
    sdate, edate = str(b["sdate"]).strip(), str(b["edate"]).strip()
    if edate and edate != "99999999":
        bars = [r for r in bars if r["date"] <= edate]
    if sdate:
        bars = [r for r in bars if r["date"] >= sdate]
    cts_date, cts_time = str(b["cts_date"]).strip(), str(b["cts_time"]).strip()
    # The cursor is the (cts_date, cts_time) pair; as the header key the fake uses the two
    # concatenated (what LS puts in tr_cont_key for t8412 is UNCONFIRMED).
    after = call.cursor(cts_date + cts_time if cts_date or cts_time else "")
    if after:  # the cursor bar itself opens the next page
        bars = [r for r in bars if r["date"] + r["time"] <= after]
    # Newest `size` bars in ascending order; the cursor points at the bar just before the page,
    # as in the official example (rows from 111300, cts_time 111200).
    page = bars[-size:]
    older = bars[:-size] if len(bars) > size else []
    fake.pages_served["t8412"] += 1
    nxt_date, nxt_time = (older[-1]["date"], older[-1]["time"]) if older else ("", "")
    out = zeroed(
        fields.OUT_t8412OutBlock,
        **_chart_head(inst),
        cts_date=nxt_date,
        cts_time=nxt_time,
        rec_count=len(page),
    )
    return call.reply(
        {"t8412OutBlock": out, "t8412OutBlock1": page},
        codes.OK_MARKET,
        tr_cont="Y" if older else "N",
        tr_cont_key=nxt_date + nxt_time,
    )
