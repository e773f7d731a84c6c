"""The REST envelope shared by every TR handler: refusals, the call record, continuation.

LS REST (brokers.md 1.2): POST with headers tr_cd / tr_cont / tr_cont_key, a body
{"<TR>InBlock[1]": {...}}, an answer {"<TR>OutBlock...": ..., "rsp_cd": "00000", "rsp_msg": "..."}
whose headers echo tr_cd / tr_cont / tr_cont_key. More data: response tr_cont "Y" plus a key; the
client asks again with request tr_cont "Y", that tr_cont_key, and the TR's own cursor field
(cts_expcode, cts_ordno, cts_date/cts_time, cont_key) copied from the previous OutBlock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aiohttp import web

from tests.fakels import codes
from tests.fakels.codes import Code

if TYPE_CHECKING:
    from tests.fakels.server import FakeLS, TokenRecord

Env = Literal["real", "paper"]
T = TypeVar("T")


class Refusal(Exception):
    """A business refusal: HTTP 200 with a non-success rsp_cd."""

    def __init__(self, code: Code, detail: str = "") -> None:
        super().__init__(f"{code[0]} {code[1]} {detail}".strip())
        self.code: Code = (code[0], f"{code[1]} ({detail})" if detail else code[1])


class GatewayError(Exception):
    """Refused before the TR ran (token, rate, malformed input): HTTP `status`."""

    def __init__(self, status: int, code: Code, detail: str = "") -> None:
        super().__init__(f"{status} {code[0]} {code[1]} {detail}".strip())
        self.status = status
        self.code: Code = (code[0], f"{code[1]} ({detail})" if detail else code[1])


@dataclass
class RestRecord:
    """Every REST call to a TR path, refused ones included (inspection)."""

    path: str
    tr_cd: str
    tr_cont: str | None
    tr_cont_key: str | None
    body: Any  # the parsed JSON, or the raw text when it did not parse
    at: float
    env: str = ""
    status: int = 0
    rsp_cd: str = ""
    rsp_msg: str = ""
    ordno: int = 0  # the number an order TR created (order, modify or cancel record)
    injected: str = ""


@dataclass
class RestCall:
    """One call that passed the gateway, as the TR handlers see it."""

    fake: FakeLS
    request: web.Request
    tr_cd: str
    token: TokenRecord
    block: dict[str, Any]
    rec: RestRecord

    @property
    def env(self) -> Env:
        return self.token.env

    @property
    def tr_cont(self) -> str:
        return self.request.headers.get("tr_cont", "")

    @property
    def tr_cont_key(self) -> str:
        return self.request.headers.get("tr_cont_key", "")

    def reply(
        self,
        body: dict[str, Any],
        code: Code,
        *,
        tr_cont: str = "N",
        tr_cont_key: str = "",
        status: int = 200,
    ) -> web.Response:
        body = body | {"rsp_cd": code[0], "rsp_msg": code[1]}
        self.rec.status, self.rec.rsp_cd, self.rec.rsp_msg = status, code[0], code[1]
        return self.fake.json_response(
            body, tr_cd=self.tr_cd, tr_cont=tr_cont, tr_cont_key=tr_cont_key, status=status
        )

    def cursor(self, body_value: str) -> str:
        """The continuation cursor of this request ("" on a first page).

        strict (default): a continuation must carry request tr_cont "Y", tr_cont_key and the body
        cursor field, key and cursor equal — what the docs describe, so a client doing this works
        whichever of the two the live server actually reads (UNCONFIRMED which). lenient: either
        is enough."""
        body_value = body_value.strip()
        header_cont = self.tr_cont == "Y"
        header_key = self.tr_cont_key.strip()
        if self.fake.continuation == "lenient":
            return body_value or (header_key if header_cont else "")
        if not body_value and not header_cont:
            return ""
        if not body_value or not header_cont or header_key != body_value:
            raise Refusal(
                codes.E_CONTINUATION,
                f"tr_cont={self.tr_cont!r} tr_cont_key={header_key!r} body={body_value!r}",
            )
        return body_value

    def page(self, rows: Sequence[T], key: Callable[[T], str], after: str, size: int) -> tuple[list[T], str]:
        """One page of `rows` (in answer order) starting after the row whose key is `after`;
        returns (page, next cursor or "")."""
        start = 0
        if after:
            keys = [key(r) for r in rows]
            if after not in keys:
                raise Refusal(codes.E_BODY, f"알 수 없는 연속키 {after!r}")
            start = keys.index(after) + 1
        chunk = list(rows[start : start + size])
        more = start + size < len(rows)
        self.fake.pages_served[self.tr_cd] += 1
        return chunk, key(chunk[-1]) if more and chunk else ""


def zeroed(spec: Sequence[tuple[str, str]], **values: Any) -> dict[str, Any]:
    """An OutBlock with every field of `spec` (numbers 0, strings ""), overridden by `values`."""
    out: dict[str, Any] = {name: (0 if kind == "N" else "") for name, kind in spec}
    unknown = set(values) - set(out)
    if unknown:
        raise KeyError(f"not in the field table: {sorted(unknown)}")
    out.update(values)
    return out
