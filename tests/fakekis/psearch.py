"""HTS-saved conditions for 종목조건검색 (psearch-title HHKST03900300, psearch-result HHKST03900400).

condition-search.md section 4: KIS has no realtime condition push; a client polls psearch-result
and diffs. Tests decide who matches a condition through the server's hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

TITLE_TR = "HHKST03900300"
RESULT_TR = "HHKST03900400"
MAX_RESULTS = 100  # "조건검색 결과의 경우 조건당 100건으로 제한" ([KIS-off] docstrings)

# (group, name) in seq order. Korean like what HTS [0110] saves; "임시그룹" is HTS's default group.
DEFAULT_CONDITIONS: tuple[tuple[str, str], ...] = (
    ("임시그룹", "급등주"),
    ("임시그룹", "거래량급증"),
    ("돌파전략", "신고가"),
)

OK = ("MCA00000", "정상처리 되었습니다.")
# Zero matches is an error reply, verbatim from the official psearch_result docstring (S3).
NO_MATCHES = ("MCA05918", "종목코드 오류입니다.")
# Paper: the portal says only "모의투자 미지원"; the reply the paper server gives is UNCONFIRMED.
# 90000000 with this msg1 is what two third-party KIS clients record from paper for other
# unsupported TRs (one fixture, one production log); a third saw OPSQ0001 with the same text.
PAPER_UNSUPPORTED = ("90000000", "모의투자에서는 해당업무가 제공되지 않습니다.")
# An HTS ID with no server-saved conditions, or a seq it never saved: UNCONFIRMED. The official
# docstrings tie "'조회가 계속 됩니다. (다음을 누르십시오.)' 오류" to conditions not saved to the
# server, which is what an unknown ID or seq looks like from the server; the code is the one KIS
# uses for that text on inquiries (itself unconfirmed), sent here with rt_cd "1".
NOT_SAVED = ("KIOK0460", "조회가 계속 됩니다. (다음을 누르십시오.)")


@dataclass(slots=True)
class Condition:
    seq: str
    group: str
    name: str
    members: list[str] = field(default_factory=list)  # insertion order; answered in code order


def numbered(conditions: Iterable[tuple[str, str]]) -> dict[str, Condition]:
    """seq "0", "1", ... in the given order ("0번부터 시작")."""
    return {str(i): Condition(str(i), group, name) for i, (group, name) in enumerate(conditions)}


def fixed16(value: float, *, zero_pad: bool = False) -> str:
    """The portal example's number format: 16 characters, 4 decimals, some fields zero-padded
    ("00000138600.0000"), the rest space-padded ("          0.0000")."""
    return f"{value:016.4f}" if zero_pad else f"{value:16.4f}"
