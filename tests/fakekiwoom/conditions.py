"""Condition search on the socket: CNSRLST (ka10171), CNSRREQ (ka10172/ka10173), CNSRCLR (ka10174).

Rules from condition-search.md section 2:
- CNSRREQ only works after CNSRLST on the same connection; before it the server gives no answer at
  all (only PINGs keep coming) — 2.1, [KW-ex] B/C comments, corroborated by a third-party report.
- search_type "0" answers FID-keyed rows with 9-digit zero-padded signed numbers, paged in the
  body by cont_yn/next_key (2.3); search_type "1" answers a snapshot of {"jmcode": "A......"} and
  registers the condition for REAL type 02 pushes (FID 843 I/D) on that connection (2.4).
- At most `max_realtime` realtime conditions per login: 10 is UNCONFIRMED (one 3p lineage, 2.7).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakekiwoom import codec

Send = Callable[[str], Awaitable[int]]
QuoteRow = Callable[[str], dict[str, str] | None]

DEFAULT_CONDITIONS: list[tuple[str, str]] = [("0", "조건1"), ("1", "조건2"), ("2", "조건3")]


@dataclass(slots=True)
class ConnConditions:
    """The condition state of one websocket connection."""

    listed: bool = False  # CNSRLST seen on this connection
    realtime: set[str] = field(default_factory=set)  # seqs registered with search_type "1"
    unanswered: list[dict[str, Any]] = field(default_factory=list)  # requests left without reply


@dataclass(slots=True)
class ConditionSettings:
    row_form: codec.RowForm = "array"  # the spec example's form; "object" is the field table's
    pad_seq: bool = False  # echo seq left-justified to 3 ("2  ") as the ka10172 example does
    max_realtime: int = 10
    page_size: int = 100  # ka10172 rows per page: UNCONFIRMED
    empty_snapshot: Literal["list", "null"] = "list"  # a 3p mock answers data None: UNCONFIRMED
    with_907: bool = True
    value_9081: str | None = None  # the newer spec adds "9081": "통합"


class Conditions:
    """Saved conditions (as if from 영웅문4), their current members, and the socket protocol."""

    def __init__(self, settings: ConditionSettings) -> None:
        self.settings = settings
        self.rows: list[tuple[str, str]] = list(DEFAULT_CONDITIONS)
        self.members: dict[str, list[str]] = {}
        self.requests: list[dict[str, Any]] = []  # every condition request received, for tests

    def names(self) -> dict[str, str]:
        return dict(self.rows)

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        self.rows = [(str(s), n) for s, n in rows]

    def set_members(self, seq: str, codes: list[str]) -> None:
        self.members[seq] = list(codes)

    def enter(self, seq: str, code: str) -> bool:
        members = self.members.setdefault(seq, [])
        if code in members:
            return False
        members.append(code)
        return True

    def leave(self, seq: str, code: str) -> bool:
        members = self.members.setdefault(seq, [])
        if code not in members:
            return False
        members.remove(code)
        return True

    async def handle(self, state: ConnConditions, msg: dict[str, Any], send: Send, quote: QuoteRow) -> None:
        self.requests.append(msg)
        trnm = msg.get("trnm")
        if trnm == "CNSRLST":
            state.listed = True
            await send(codec.cnsrlst(self.rows, self.settings.row_form, self.settings.pad_seq))
        elif trnm == "CNSRREQ":
            if not state.listed:
                # "CNSRREQ 단독 호출 시 응답 없이 PING만 올 수 있으므로" — no reply at all.
                state.unanswered.append(msg)
                return
            await self._request(state, msg, send, quote)
        elif trnm == "CNSRCLR":
            await self._clear(state, msg, send)

    def _seq(self, msg: dict[str, Any]) -> str:
        # The spec example echoes "2  ": a client may send it padded too, so match stripped.
        return str(msg.get("seq", "")).strip()

    async def _request(self, state: ConnConditions, msg: dict[str, Any], send: Send, quote: QuoteRow) -> None:
        seq = self._seq(msg)
        echo = codec.pad_seq(seq, self.settings.pad_seq)
        if seq not in self.names():
            # Reply for an unknown seq is UNCONFIRMED.
            await send(codec.cnsrreq_error(echo, 1, f"조건검색식이 존재하지 않습니다 (seq {seq!r})"))
            return
        stype = str(msg.get("search_type", ""))
        stex = str(msg.get("stex_tp", ""))
        if stex not in ("K", "N", "A"):
            await send(codec.cnsrreq_error(echo, codec.INPUT_ERROR, f"stex_tp 오류 ({stex!r}; K, N, A)"))
            return
        codes = list(self.members.get(seq, []))
        if stype == "0":
            await send(self._search_page(seq, echo, codes, msg, quote))
        elif stype == "1":
            if seq not in state.realtime and len(state.realtime) >= self.settings.max_realtime:
                await send(codec.cnsrreq_error(echo, codec.CONDITION_LIMIT, codec.CONDITION_LIMIT_MSG))
                return
            state.realtime.add(seq)
            data: list[dict[str, str]] | None = [{"jmcode": f"A{c}"} for c in codes]
            if not codes and self.settings.empty_snapshot == "null":
                data = None
            await send(
                codec.dumps(
                    {"trnm": "CNSRREQ", "seq": echo, "return_code": 0, "return_msg": "", "data": data}
                )
            )
        else:
            await send(codec.cnsrreq_error(echo, codec.INPUT_ERROR, f"search_type 오류 ({stype!r}; 0, 1)"))

    def _search_page(
        self, seq: str, echo: str, codes: list[str], msg: dict[str, Any], quote: QuoteRow
    ) -> str:
        start = 0
        if str(msg.get("cont_yn", "N")) == "Y":
            key = str(msg.get("next_key", ""))
            if not key.isdigit():
                return codec.cnsrreq_error(echo, codec.CONT_KEY_ERROR, f"연속조회키 오류 ({key!r})")
            start = int(key)
        rows = [row for c in codes if (row := quote(c)) is not None]
        page = rows[start : start + self.settings.page_size]
        more = start + self.settings.page_size < len(rows)
        # next_key is opaque (length 20); an offset is the fake's choice.
        return codec.dumps(
            {
                "trnm": "CNSRREQ",
                "seq": echo,
                "cont_yn": "Y" if more else "N",
                "next_key": str(start + self.settings.page_size) if more else "",
                "return_code": 0,
                "return_msg": "",
                "data": page,
            }
        )

    async def _clear(self, state: ConnConditions, msg: dict[str, Any], send: Send) -> None:
        seq = self._seq(msg)
        echo = codec.pad_seq(seq, self.settings.pad_seq)
        if seq not in state.realtime:
            # "CNSRCLR는 ... 실시간 조건검색 등록 후 해제해야 성공 응답을 받습니다." The failure's shape
            # is UNCONFIRMED: the same four fields with return_code 1.
            await send(
                codec.dumps(
                    {
                        "trnm": "CNSRCLR",
                        "seq": echo,
                        "return_code": 1,
                        "return_msg": "등록되지 않은 실시간 조건검색입니다",
                    }
                )
            )
            return
        state.realtime.discard(seq)
        await send(codec.dumps({"trnm": "CNSRCLR", "seq": echo, "return_code": 0, "return_msg": ""}))
