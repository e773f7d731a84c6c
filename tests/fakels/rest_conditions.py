"""Condition search TRs on POST /stock/item-search (condition-search.md 3.2-3.4):
t1866 list saved conditions (needs the login user id), t1859 one-shot result, t1860 register
("E" -> sAlertNum for AFR) / stop ("D").

Paper keys: refused (condition-search.md 3.1: real-account only, corroborated not official); the
refusal code is UNCONFIRMED ("01900" "모의투자..." is what one third party expects). Set
FakeLS(paper_condition_search="allow") to serve paper keys too.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakels import codes, fields
from tests.fakels.rest import Refusal, RestCall, zeroed


def _paper_check(call: RestCall) -> None:
    if call.env == "paper" and call.fake.paper_condition_search == "refuse":
        raise Refusal(codes.E_PAPER_UNSUPPORTED, call.tr_cd)


async def t1866(call: RestCall) -> web.StreamResponse:
    _paper_check(call)
    fake, b = call.fake, call.block
    saved = list(fake.conditions.saved.values())
    if str(b["user_id"]).strip() != fake.user_id:
        # What LS does with another user's id is UNCONFIRMED: refused by default so a client that
        # sends the wrong id notices; unknown_user="empty" answers an empty list instead.
        if fake.unknown_user == "refuse":
            raise Refusal(codes.E_USER_ID, repr(b["user_id"]))
        saved = []
    gb = str(b["gb"])
    if gb == "1":
        # 그룹리스트조회: one row per group, query fields blank (the row layout is UNCONFIRMED).
        groups = list(dict.fromkeys(c.group_name for c in saved))
        rows = [{"query_index": "", "group_name": g, "query_name": ""} for g in groups]
    elif gb in ("0", "2"):
        wanted = str(b["group_name"]).strip()
        rows = [{"query_index": c.query_index, "group_name": c.group_name, "query_name": c.query_name}
                for c in saved if gb == "0" or c.group_name == wanted]  # fmt: skip
    else:
        raise Refusal(codes.E_BODY, f"gb {gb!r} (0, 1, 2)")
    # In-body continuation: cont "1" + cont_key (the last query_index of the previous page). The
    # first call may send cont "" (official example) or "0" (teranum sample 10): both accepted.
    after = call.cursor(str(b["cont_key"]) if str(b["cont"]).strip() == "1" else "")
    page, nxt = call.page(
        rows, lambda r: r["query_index"] or r["group_name"], after, fake.page_sizes["t1866"]
    )
    # The table names the response key cont_key, the official example contkey (condition-search.md
    # 3.2): the example is followed by default (t1866_cont_key_name).
    out = {"result_count": len(page), "cont": "1" if nxt else "", fake.t1866_cont_key_name: nxt}
    return call.reply(
        {"t1866OutBlock": out, "t1866OutBlock1": page},
        codes.OK_T1866,
        tr_cont="Y" if nxt else "N",
        tr_cont_key=nxt,
    )


async def t1859(call: RestCall) -> web.StreamResponse:
    _paper_check(call)
    fake = call.fake
    qi = str(call.block["query_index"]).strip()
    cond = fake.conditions.saved.get(qi)
    if cond is None:
        raise Refusal(codes.E_QUERY_INDEX, repr(qi))
    rows = []
    for code in cond.members:
        inst = fake.tape.instruments[code]
        # diff is typed Number but the example writes "1.79" (condition-search.md 3.3): a string.
        rows.append(zeroed(fields.OUT_t1859OutBlock1, shcode=code, hname=inst.name, price=inst.price,
                           sign=inst.sign(), change=abs(inst.change), diff=f"{inst.rate():.2f}",
                           volume=inst.volume))  # fmt: skip
    fake.pages_served["t1859"] += 1
    out = {"result_count": len(rows), "result_time": fake.hhmmss(), "text": cond.text}
    return call.reply({"t1859OutBlock": out, "t1859OutBlock1": rows}, codes.OK_T1859)


async def t1860(call: RestCall) -> web.StreamResponse:
    _paper_check(call)
    fake, b = call.fake, call.block
    if b["sSysUserFlag"] != "U":
        raise Refusal(codes.E_BODY, f"sSysUserFlag {b['sSysUserFlag']!r} ('U' 고정)")
    now, hhmmss = fake.clock.time(), fake.hhmmss()
    flag = b["sFlag"]
    qi = str(b["query_index"]).strip()
    if flag == "E":
        if qi not in fake.conditions.saved:
            raise Refusal(codes.E_QUERY_INDEX, repr(qi))
        reg = fake.conditions.register(qi, call.env, now, hhmmss)
        if reg is None:
            # Over the concurrent cap (default 2, the xingAPI t1857 note; the OPEN API figure is
            # UNCONFIRMED): answered like a failed registration — sResultFlag not "S" and an empty
            # sAlertNum, which both styles of client check (condition-search.md 3.4).
            out = {"sSysUserFlag": "U", "sFlag": "E", "sResultFlag": "F", "sTime": hhmmss, "sAlertNum": "",
                   "Msg": "실시간검색 등록 가능 건수를 초과하였습니다."}  # fmt: skip
        else:
            out = {"sSysUserFlag": "U", "sFlag": "E", "sResultFlag": "S", "sTime": hhmmss,
                   "sAlertNum": reg.alert_num, "Msg": "정상처리 되었습니다."}  # fmt: skip
    elif flag == "D":
        alert = str(b["sAlertNum"]).strip()
        reg = fake.conditions.registrations.get(alert)
        # The "D" reply is UNCONFIRMED (condition-search.md 3.4): the same OutBlock, sFlag "D".
        ok = reg is not None and reg.active and reg.query_index == qi
        if ok:
            fake.conditions.stop(alert, now)
        out = {
            "sSysUserFlag": "U",
            "sFlag": "D",
            "sResultFlag": "S" if ok else "F",
            "sTime": hhmmss,
            "sAlertNum": alert,
            "Msg": "정상처리 되었습니다." if ok else "등록되지 않은 실시간키입니다.",
        }
    else:
        raise Refusal(codes.E_BODY, f"sFlag {flag!r} ('E' 등록, 'D' 중지)")
    fake.pages_served["t1860"] += 1
    return call.reply({"t1860OutBlock": out}, codes.OK_T1860)
