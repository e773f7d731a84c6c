"""Server-saved conditions (서버저장조건) and their realtime registrations (t1860 / AFR).

condition-search.md section 3: conditions are made in the HTS and only listed (t1866), searched
once (t1859) or watched (t1860 "E" -> sAlertNum -> AFR pushes with gsJobFlag N/R/O) through the
API. The fake keeps, per saved condition, its current members; hooks move symbols in and out and
the server pushes AFR frames to every websocket subscribed to a registration of that condition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The official t1866 example's five rows (condition-search.md L1), the fake's default saved set.
DEFAULT_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("0000", "나의전략", "테스트1"),
    ("0002", "나의전략", "테스트2"),
    ("0003", "나의전략", "거래량 급증(1분봉)"),
    ("0004", "나의전략", "테스트3"),
    ("0005", "나의전략", "기관외국인상위100"),
)


@dataclass(slots=True)
class SavedCondition:
    query_index: str
    group_name: str
    query_name: str
    text: str = ""  # t1859OutBlock.text 전략설명
    members: list[str] = field(default_factory=list)  # codes currently matching, in entry order
    left: set[str] = field(default_factory=set)  # codes that matched earlier today and left


@dataclass(slots=True)
class Registration:
    """One t1860 "E": a server-side realtime search, alive until t1860 "D"."""

    alert_num: str
    query_index: str
    env: str
    registered_at: float
    stopped_at: float | None = None

    @property
    def active(self) -> bool:
        return self.stopped_at is None


@dataclass
class Conditions:
    user_id: str
    max_realtime: int | None
    saved: dict[str, SavedCondition] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)  # alert_num -> registration
    _seq: int = 200  # so the first key ends "0200A" like both official examples (1722490200A)

    def set_saved(self, rows: list[tuple[str, str, str]]) -> None:
        """Replace the saved conditions: (query_index, group_name, query_name) rows."""
        old = self.saved
        self.saved = {}
        for qi, group, name in rows:
            cond = SavedCondition(qi, group, name)
            if qi in old:
                cond.members, cond.left = old[qi].members, old[qi].left
            self.saved[qi] = cond

    def active(self) -> list[Registration]:
        return [r for r in self.registrations.values() if r.active]

    def register(self, query_index: str, env: str, now: float, hhmmss: str) -> Registration | None:
        """A new registration, or None when the concurrent cap is reached."""
        if self.max_realtime is not None and len(self.active()) >= self.max_realtime:
            return None
        # The two official keys are the 6-digit time + "0200A" (condition-search.md 3.4):
        # observation only, the key is opaque; the fake keeps 11 characters and makes it unique.
        alert = f"{hhmmss}{self._seq:04d}A"
        self._seq += 1
        reg = Registration(alert_num=alert, query_index=query_index, env=env, registered_at=now)
        self.registrations[alert] = reg
        return reg

    def stop(self, alert_num: str, now: float) -> Registration | None:
        reg = self.registrations.get(alert_num)
        if reg is None or not reg.active:
            return None
        reg.stopped_at = now
        return reg

    def enter(self, query_index: str, code: str) -> str | None:
        """Move `code` into the condition: "N" (진입) or "R" (재진입, it left earlier); None if it
        already matches (no duplicate push)."""
        cond = self.saved[query_index]
        if code in cond.members:
            return None
        cond.members.append(code)
        return "R" if code in cond.left else "N"

    def leave(self, query_index: str, code: str) -> bool:
        cond = self.saved[query_index]
        if code not in cond.members:
            return False
        cond.members.remove(code)
        cond.left.add(code)
        return True
