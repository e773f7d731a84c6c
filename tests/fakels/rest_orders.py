"""Order TRs on POST /stock/order: CSPAT00601 (new), CSPAT00701 (modify), CSPAT00801 (cancel).

brokers.md 1.4 and the [LS-doc] 주문 page: the server assigns the order number (OutBlock2.OrdNo, a
JSON number); the InBlock has no client order id field, so there is none — a client that must not
order twice has to reconcile by t0425 / SC0 after an ambiguous answer. Prices are checked against
the KRX tick grid and the +-30% limits (krx.md) before anything is created.

Order of events (normal): the REST answer is on the wire first, then SC0 (accepted), then any
immediate fill (SC1). Fault hooks on FakeLS reorder or break this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests import fakekrx as krx
from tests.fakels import codes, fields
from tests.fakels.account import LIMIT, MARKET, Order
from tests.fakels.codes import Code
from tests.fakels.frames import XCT_CANCELLED, XCT_MODIFIED, XCT_REJECTED
from tests.fakels.rest import Refusal, RestCall, zeroed

if TYPE_CHECKING:
    from tests.fakels.server import FakeLS, OrderFault
    from tests.fakels.tape import Instrument


def _code_of(call: RestCall, isu_no: str) -> str:
    """The 6-character code of IsuNo: "A"+code or the bare code; paper requires "A"+code."""
    if isu_no.startswith("A") and len(isu_no) == 7:
        code = isu_no[1:]
    elif call.env == "paper":
        raise Refusal(codes.E_PAPER_A_PREFIX, repr(isu_no))
    else:
        code = isu_no
    if not krx.CODE_RE.match(code) or code not in call.fake.tape.instruments:
        # ELW "J"/ETN "Q" codes are out of the fake's scope (stocks only).
        raise Refusal(codes.E_SYMBOL, repr(isu_no))
    return code


def _int(value: Any, name: str, code: Code) -> int:
    # Numbers may arrive as 35000 or 35000.0 (OrdPrc is Number 13.2; the modify example sends 8350.0).
    if isinstance(value, float) and not value.is_integer():
        raise Refusal(code, f"{name}={value}")
    return int(value)


def _check_price(inst: Instrument, price: int) -> None:
    lower, upper = inst.limits
    if not krx.on_grid(price):
        down, up = krx.neighbours(price)
        raise Refusal(codes.E_TICK, f"{price}: 가능한 가격 {down} 또는 {up}")
    if price < lower:
        raise Refusal(codes.E_BELOW_LOWER, f"{price} < 하한가 {lower}")
    if price > upper:
        raise Refusal(codes.E_ABOVE_UPPER, f"{price} > 상한가 {upper}")


def _check_ptn(ptn: Any, cndi: Any, price: int) -> None:
    if ptn not in (LIMIT, MARKET):
        # LS has 05/06/07/12/61/81/82 too; the fake models limit and market only.
        raise Refusal(codes.E_UNSUPPORTED, f"OrdprcPtnCode {ptn!r} (fake: 00, 03)")
    if cndi != "0":
        raise Refusal(codes.E_UNSUPPORTED, f"OrdCndiTpCode {cndi!r} (fake: 0)")
    # Market orders carry OrdPrc 0 ([ebest-pkg] sample 14); how LS treats a price there is
    # UNCONFIRMED: refused rather than silently ignored.
    if ptn == MARKET and price != 0:
        raise Refusal(codes.E_UNSUPPORTED, f"시장가 주문의 OrdPrc는 0이어야 합니다 ({price})")


def _find_working(fake: FakeLS, ordno: int, code: str) -> Order:
    for order in fake.orders:
        if order.ordno == ordno and order.kind != "cancel":
            if order.code != code:
                raise Refusal(codes.E_NO_ORDER, f"{ordno}의 종목은 {order.code}")
            if order.status != "open" or order.remaining <= 0:
                raise Refusal(codes.E_NOTHING_LEFT, f"{ordno}: {order.status}")
            return order
    raise Refusal(codes.E_NO_ORDER, str(ordno))


def _new_record(call: RestCall, **kw: Any) -> Order:
    fake = call.fake
    return Order(
        ordno=fake.new_ordno(),
        env=call.env,
        created_at=fake.clock.time(),
        date=fake.today(),
        time=fake.hhmmssmmm(),
        **kw,
    )


async def _answer(
    call: RestCall,
    body: dict[str, Any],
    code: Code,
    accept: Callable[[], Awaitable[None]],
    fault: OrderFault | None,
) -> web.StreamResponse:
    """Answer a created order/modify/cancel, ordering the REST answer and the events as injected."""
    fake = call.fake
    if fault is not None and fault.kind == "after_create":
        call.rec.status, call.rec.injected = fault.status, f"{fault.status} after create"
        await accept()
        return web.Response(status=fault.status, text=f"{fault.status} injected by FakeLS after the order")
    if fault is not None and fault.kind in ("delay", "fill_before_answer"):
        call.rec.injected = fault.kind
        await accept()
        if fault.kind == "delay":
            await fake.sleep(fault.delay)
        return call.reply(body, code)
    resp = call.reply(body, code)
    try:
        await resp.prepare(call.request)
        await resp.write_eof()
    finally:
        await accept()  # the order exists even if the client went away before the answer
    return resp


def _refuse_order(call: RestCall, code: Code, out1: str, out2: str) -> web.Response:
    # The only official order error example (CSPAT00701, rsp_cd 03181) still carries both
    # OutBlocks, OutBlock1 echoing the input and OutBlock2 zeroed: refusals are answered the same way.
    return call.reply({out1: _out1(call, out1), out2: zeroed(getattr(fields, f"OUT_{out2}"), RecCnt=1)}, code)


def _out1(call: RestCall, name: str, **extra: Any) -> dict[str, Any]:
    spec = getattr(fields, f"OUT_{name}")
    names = {n for n, _ in spec}
    echo = {k: v for k, v in call.block.items() if k in names}
    if "OrdPrc" in echo:
        # The official example answers OrdPrc 35000 as the string "35000.00" although the table
        # says Number: echoed the same way.
        echo["OrdPrc"] = f"{float(echo['OrdPrc']):.2f}"
    values = {"RecCnt": 1, "AcntNo": call.fake.account.number, "InptPwd": "********"}
    values |= {k: v for k, v in extra.items() if k in names} | echo  # the input wins
    return zeroed(spec, **values)


async def new_order(call: RestCall) -> web.StreamResponse:
    fake, b = call.fake, call.block
    try:
        code = _code_of(call, b["IsuNo"])
        inst = fake.tape.instruments[code]
        qty = _int(b["OrdQty"], "OrdQty", codes.E_QTY)
        price = _int(b["OrdPrc"], "OrdPrc", codes.E_TICK)
        if qty <= 0:
            raise Refusal(codes.E_QTY, str(qty))
        if b["BnsTpCode"] not in ("1", "2"):
            raise Refusal(codes.E_UNSUPPORTED, f"BnsTpCode {b['BnsTpCode']!r} (1 매도, 2 매수)")
        if b["MgntrnCode"] != "000":
            raise Refusal(codes.E_UNSUPPORTED, f"MgntrnCode {b['MgntrnCode']!r} (fake: 000 보통)")
        _check_ptn(b["OrdprcPtnCode"], b["OrdCndiTpCode"], price)
        if b["OrdprcPtnCode"] == LIMIT:
            _check_price(inst, price)
        side = "buy" if b["BnsTpCode"] == "2" else "sell"
        # Market buys are margined at the upper limit, as Korean brokers do.
        reserve = inst.limits[1] if b["OrdprcPtnCode"] == MARKET else price
        if side == "buy":
            need, have = fake.account.buy_cost(reserve, qty), fake.account.orderable(fake.orders)
            if need > have:
                raise Refusal(codes.E_CASH, f"필요 {need}원, 가능 {have}원")
        elif qty > (can := fake.account.sellable(code, fake.orders)):
            raise Refusal(codes.E_SHARES, f"주문 {qty}주, 가능 {can}주")
    except Refusal as refusal:
        return _refuse_order(call, refusal.code, "CSPAT00601OutBlock1", "CSPAT00601OutBlock2")
    order = _new_record(
        call,
        kind="new",
        code=code,
        side=side,
        qty=qty,
        price=price,
        ptn=b["OrdprcPtnCode"],
        cndi=b["OrdCndiTpCode"],
        isu_no=b["IsuNo"],
        mbr_no=str(b.get("MbrNo", "")),
        reserve_price=reserve,
    )
    fake.orders.append(order)  # reserves cash/shares at once, before the answer or any event
    call.rec.ordno = order.ordno
    fault = fake.take_order_fault()
    reject = fault is not None and fault.kind == "reject"
    if reject:
        call.rec.injected, fault = "reject", None
    amount = price * qty
    out2 = zeroed(
        fields.OUT_CSPAT00601OutBlock2,
        RecCnt=1,
        OrdNo=order.ordno,
        OrdTime=order.time,
        OrdMktCode="10" if inst.market == "KOSPI" else "20",
        OrdPtnCode="02" if side == "buy" else "01",
        ShtnIsuNo=f"A{code}",
        MgempNo="999999106",
        OrdAmt=amount,
        SpareOrdNo=order.ordno,
        MnyOrdAmt=amount if side == "buy" else 0,
        AcntNm=fake.account.name,
        IsuNm=inst.name,
    )
    body = {
        "CSPAT00601OutBlock1": _out1(
            call,
            "CSPAT00601OutBlock1",
            MbrNo=b.get("MbrNo", ""),
            PrgmOrdprcPtnCode="00",
            StslAbleYn="0",
            StslOrdprcTpCode="0",
            CommdaCode="40",
            OpDrtnNo="0",
            LpYn="0",
            CvrgTpCode="0",
        ),
        "CSPAT00601OutBlock2": out2,
    }

    async def accept() -> None:
        await fake.publish_sc0(order)
        if reject:
            order.rejected, order.status = order.qty, "rejected"
            await fake.publish_exec("SC4", XCT_REJECTED, order)
            return
        fake.book(order)
        await fake.fill_if_marketable(order)

    return await _answer(call, body, codes.OK_BUY if side == "buy" else codes.OK_SELL, accept, fault)


async def cancel_order(call: RestCall) -> web.StreamResponse:
    fake, b = call.fake, call.block
    try:
        code = _code_of(call, b["IsuNo"])
        orig = _find_working(fake, _int(b["OrgOrdNo"], "OrgOrdNo", codes.E_NO_ORDER), code)
        qty = _int(b["OrdQty"], "OrdQty", codes.E_QTY)
        # Cancelling more than is left: refused (UNCONFIRMED; LS may cancel the rest instead).
        if not 0 < qty <= orig.remaining:
            raise Refusal(codes.E_QTY, f"취소가능수량 {orig.remaining}, 요청 {qty}")
    except Refusal as refusal:
        return _refuse_order(call, refusal.code, "CSPAT00801OutBlock1", "CSPAT00801OutBlock2")
    inst = fake.tape.instruments[code]
    record = _new_record(
        call,
        kind="cancel",
        code=code,
        side=orig.side,
        qty=qty,
        price=orig.price,
        ptn=orig.ptn,
        cndi=orig.cndi,
        isu_no=b["IsuNo"],
        orgordno=orig.ordno,
        status="done",
    )
    orig.cancelled += qty
    if orig.remaining == 0:
        orig.status = "cancelled"
        fake.unbook(orig)
    fake.orders.append(record)
    call.rec.ordno = record.ordno
    fault = fake.take_order_fault()
    if fault is not None and fault.kind == "reject":
        fault = None  # an exchange reject of a cancel is not modelled: answered normally
    out2 = zeroed(
        fields.OUT_CSPAT00801OutBlock2,
        RecCnt=1,
        OrdNo=record.ordno,
        PrntOrdNo=orig.ordno,
        OrdTime=record.time,
        OrdMktCode="10" if inst.market == "KOSPI" else "20",
        OrdPtnCode="02" if orig.side == "buy" else "01",
        ShtnIsuNo=f"A{code}",
        PrgmOrdprcPtnCode="00",
        StslOrdprcTpCode="0",
        StslAbleYn="0",
        MgntrnCode="000",
        LoanDt="00000000",
        CvrgOrdTp="0",
        LpYn="0",
        MgempNo="999999106",
        BnsTpCode="2" if orig.side == "buy" else "1",
        AcntNm=fake.account.name,
        IsuNm=inst.name,
    )
    body = {
        "CSPAT00801OutBlock1": _out1(call, "CSPAT00801OutBlock1", CommdaCode="40"),
        "CSPAT00801OutBlock2": out2,
    }

    async def accept() -> None:
        # SC0 (취소 접수, SONAT002 / ordchegb 03) then SC3 (취소확인, ordxctptncode 13).
        await fake.publish_sc0(record)
        await fake.publish_exec("SC3", XCT_CANCELLED, record, orig=orig)

    return await _answer(call, body, codes.OK_CANCEL, accept, fault)


async def modify_order(call: RestCall) -> web.StreamResponse:
    fake, b = call.fake, call.block
    try:
        code = _code_of(call, b["IsuNo"])
        inst = fake.tape.instruments[code]
        orig = _find_working(fake, _int(b["OrgOrdNo"], "OrgOrdNo", codes.E_NO_ORDER), code)
        qty = _int(b["OrdQty"], "OrdQty", codes.E_QTY)
        price = _int(b["OrdPrc"], "OrdPrc", codes.E_TICK)
        if not 0 < qty <= orig.remaining:
            raise Refusal(codes.E_QTY, f"정정가능수량 {orig.remaining}, 요청 {qty}")
        _check_ptn(b["OrdprcPtnCode"], b["OrdCndiTpCode"], price)
        if b["OrdprcPtnCode"] == LIMIT:
            _check_price(inst, price)
        reserve = inst.limits[1] if b["OrdprcPtnCode"] == MARKET else price
        if orig.side == "buy":
            extra = fake.account.buy_cost(reserve, qty) - fake.account.buy_cost(orig.reserve_price, qty)
            if extra > fake.account.orderable(fake.orders):
                raise Refusal(codes.E_CASH, "정정")
    except Refusal as refusal:
        return _refuse_order(call, refusal.code, "CSPAT00701OutBlock1", "CSPAT00701OutBlock2")
    record = _new_record(
        call,
        kind="modify",
        code=code,
        side=orig.side,
        qty=qty,
        price=price,
        ptn=b["OrdprcPtnCode"],
        cndi=b["OrdCndiTpCode"],
        isu_no=b["IsuNo"],
        orgordno=orig.ordno,
        reserve_price=reserve,
    )
    orig.replaced += qty
    if orig.remaining == 0:
        orig.status = "replaced"
        fake.unbook(orig)
    fake.orders.append(record)
    call.rec.ordno = record.ordno
    fault = fake.take_order_fault()
    if fault is not None and fault.kind == "reject":
        fault = None
    out2 = zeroed(
        fields.OUT_CSPAT00701OutBlock2,
        RecCnt=1,
        OrdNo=record.ordno,
        PrntOrdNo=orig.ordno,
        OrdTime=record.time,
        OrdMktCode="10" if inst.market == "KOSPI" else "20",
        OrdPtnCode="02" if orig.side == "buy" else "01",
        ShtnIsuNo=f"A{code}",
        MgntrnCode="000",
        OrdAmt=price * qty,
        BnsTpCode="2" if orig.side == "buy" else "1",
        SpareOrdNo=record.ordno,
        MnyOrdAmt=price * qty if orig.side == "buy" else 0,
        AcntNm=fake.account.name,
        IsuNm=inst.name,
    )
    body = {
        "CSPAT00701OutBlock1": _out1(call, "CSPAT00701OutBlock1", CommdaCode="40"),
        "CSPAT00701OutBlock2": out2,
    }

    async def accept() -> None:
        # SC0 (정정 접수, SONAT001 / ordchegb 02) then SC2 (정정확인, 12); the modify record then
        # works like a new order under its own number.
        await fake.publish_sc0(record)
        await fake.publish_exec("SC2", XCT_MODIFIED, record, orig=orig)
        fake.book(record)
        await fake.fill_if_marketable(record)

    return await _answer(call, body, codes.OK_MODIFY, accept, fault)
