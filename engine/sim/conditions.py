"""Realtime condition search (조건검색): named conditions that symbols enter and leave.

Pure: fed the tape's trades and injected events, it returns the Condition events to publish.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from engine.sim.protocol import Condition, ConditionEventIn, ConditionInfo, TickRow

MOMENTUM = "momentum"
# A symbol leaves only this many points below the entry threshold, so one print back and
# forth across the threshold does not produce an enter/leave pair each time.
HYSTERESIS_PCT = 0.5
# "Rising volume": the last window traded more shares than the window before it.
VOLUME_WINDOW_S = 3.0


class UnknownCondition(KeyError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(name)
        self.message = f"unknown condition {name!r}: valid names are {', '.join(sorted(known))}"

    def __str__(self) -> str:
        return self.message


@dataclass(slots=True)
class _VolumeFlow:
    """Shares traded in the last window and in the window before it, updated in O(1)."""

    recent: deque[tuple[float, int]] = field(default_factory=deque)
    older: deque[tuple[float, int]] = field(default_factory=deque)
    recent_qty: int = 0
    older_qty: int = 0

    def add(self, now: float, qty: int) -> None:
        self.recent.append((now, qty))
        self.recent_qty += qty
        self.roll(now)

    def roll(self, now: float) -> None:
        while self.recent and self.recent[0][0] <= now - VOLUME_WINDOW_S:
            item = self.recent.popleft()
            self.recent_qty -= item[1]
            self.older.append(item)
            self.older_qty += item[1]
        while self.older and self.older[0][0] <= now - 2 * VOLUME_WINDOW_S:
            self.older_qty -= self.older.popleft()[1]

    @property
    def rising(self) -> bool:
        return self.recent_qty > self.older_qty


@dataclass(slots=True)
class _ConditionState:
    info: ConditionInfo
    seq: int = 0
    # symbol -> the enter event that made it a member (replayed as the snapshot).
    members: dict[str, Condition] = field(default_factory=dict)
    # Symbols set through injected events: the automatic rule leaves them alone afterwards,
    # so a test or demo that injected an enter does not see the tape undo it a moment later.
    manual: set[str] = field(default_factory=set)

    def emit(self, symbol: str, event: Literal["enter", "leave"], ts_ns: int) -> Condition:
        self.seq += 1
        ev = Condition(name=self.info.name, symbol=symbol, event=event, seq=self.seq, ts_ns=ts_ns)
        if event == "enter":
            self.members[symbol] = ev
        else:
            self.members.pop(symbol, None)
        return ev


class ConditionSearch:
    def __init__(self, prev_close: Mapping[str, int], threshold_pct: float) -> None:
        self._prev_close = dict(prev_close)
        self._enter_pct = threshold_pct
        self._leave_pct = threshold_pct - HYSTERESIS_PCT
        self._flows: dict[str, _VolumeFlow] = {code: _VolumeFlow() for code in prev_close}
        description = (
            f"up >= {threshold_pct:g}% from the previous close on rising volume (the last "
            f"{VOLUME_WINDOW_S:g} s traded more shares than the {VOLUME_WINDOW_S:g} s before); "
            f"leaves below {self._leave_pct:g}%. A symbol set through "
            f"/admin/condition_events stays under manual control."
        )
        self._conditions: dict[str, _ConditionState] = {
            MOMENTUM: _ConditionState(ConditionInfo(name=MOMENTUM, description=description)),
        }

    def infos(self) -> list[ConditionInfo]:
        return [c.info for c in self._conditions.values()]

    def __contains__(self, name: object) -> bool:
        return name in self._conditions

    def _get(self, name: str) -> _ConditionState:
        try:
            return self._conditions[name]
        except KeyError:
            raise UnknownCondition(name, self._conditions) from None

    def members(self, name: str) -> set[str]:
        return set(self._get(name).members)

    def last_seq(self, name: str) -> int:
        return self._get(name).seq

    def snapshot(self, name: str) -> list[Condition]:
        """The enter events still in force, with their original seq and time, oldest first."""
        return sorted(self._get(name).members.values(), key=lambda ev: ev.seq)

    def on_ticks(self, rows: Iterable[TickRow], now: float) -> list[Condition]:
        """Feed trades that happened at monotonic time `now` (seconds); returns transitions."""
        momentum = self._conditions[MOMENTUM]
        out: list[Condition] = []
        for row in rows:
            flow = self._flows.get(row.symbol)
            if flow is None:
                continue
            flow.add(now, row.qty)
            if row.symbol in momentum.manual:
                continue
            change = (row.price / self._prev_close[row.symbol] - 1.0) * 100.0
            if row.symbol in momentum.members:
                if change < self._leave_pct:
                    out.append(momentum.emit(row.symbol, "leave", row.ts_ns))
            elif change >= self._enter_pct and flow.rising:
                out.append(momentum.emit(row.symbol, "enter", row.ts_ns))
        return out

    def inject(self, name: str, events: Iterable[ConditionEventIn], ts_ns: int) -> list[Condition]:
        """Publish events exactly as given, in order, each with the next seq."""
        cond = self._get(name)
        out: list[Condition] = []
        for ev in events:
            cond.manual.add(ev.symbol)
            out.append(cond.emit(ev.symbol, ev.event, ts_ns))
        return out
