"""Realtime condition search (조건검색): conditions that symbols enter and leave.

Pure: fed the tape's trades and injected events, it returns the Condition events to publish.
Each condition has an id (what a broker's API wants) and a name (what a user sees in the HTS);
the two never collide, so either finds it.

    id  name        enters                                    leaves
    0   momentum    up >= threshold from the previous close   below threshold - 0.5 points
                    on rising volume
    1   급등주      up >= riser threshold from the day's open  below riser threshold - 1 point
    2   거래량급증  the last surge_s/4 traded >= surge_ratio   below half of surge_ratio
                    x the shares/s of the 1.5 x surge_s before
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from engine.sim.protocol import Condition, ConditionEventIn, ConditionInfo, TickRow

MOMENTUM = "momentum"
RISERS = "급등주"
VOLUME_SURGE = "거래량급증"
MOMENTUM_ID = "0"
RISERS_ID = "1"
VOLUME_SURGE_ID = "2"
# A symbol leaves only this many points below the entry threshold, so one print back and
# forth across the threshold does not produce an enter/leave pair each time.
HYSTERESIS_PCT = 0.5
# "Rising volume": the last window traded more shares than the window before it.
VOLUME_WINDOW_S = 3.0
# 급등주's band: a whole point, so a symbol that hovers around the threshold stays in.
RISER_HYSTERESIS_PCT = 1.0
# 거래량급증 compares the shares per second of a short recent window with a longer baseline
# just before it, both in proportion to how long the tape's surges last.
SURGE_RECENT_FACTOR = 0.25
SURGE_BASELINE_FACTOR = 1.5
# A surging symbol stays in until its volume is back under half the entry ratio, so the
# noise of a few prints around the ratio does not make it flap.
SURGE_LEAVE_FRACTION = 0.5


class UnknownCondition(KeyError):
    def __init__(self, problem: str, known: Iterable[ConditionInfo]) -> None:
        super().__init__(problem)
        valid = ", ".join(f"{info.id} {info.name}" for info in known)
        self.message = f"{problem}: valid ids and names are {valid}"

    def __str__(self) -> str:
        return self.message


@dataclass(slots=True)
class _VolumeFlow:
    """Shares traded in the last `recent_s` and in the `older_s` before that, in O(1) per
    trade. Trades at the same instant (one tape step) share an entry, so the windows hold one
    entry per step rather than one per trade."""

    recent_s: float
    older_s: float
    recent: deque[list[float]] = field(default_factory=deque)
    older: deque[list[float]] = field(default_factory=deque)
    recent_qty: float = 0.0
    older_qty: float = 0.0

    def add(self, now: float, qty: int) -> None:
        recent = self.recent
        if recent and recent[-1][0] == now:
            recent[-1][1] += qty
        else:
            recent.append([now, qty])
        self.recent_qty += qty
        self.roll(now)

    def roll(self, now: float) -> None:
        recent, older = self.recent, self.older
        edge = now - self.recent_s
        while recent and recent[0][0] <= edge:
            item = recent.popleft()
            self.recent_qty -= item[1]
            older.append(item)
            self.older_qty += item[1]
        edge -= self.older_s
        while older and older[0][0] <= edge:
            self.older_qty -= older.popleft()[1]

    @property
    def rising(self) -> bool:
        return self.recent_qty > self.older_qty


@dataclass(slots=True)
class _Symbol:
    prev_close: int
    flow: _VolumeFlow
    surge: _VolumeFlow
    # Prices at which the symbol enters and leaves 급등주.
    riser_enter: float
    riser_leave: float
    # Monotonic time of the first trade seen: 거래량급증 waits for a full baseline.
    first_seen: float | None = None


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
        info = self.info
        ev = Condition(name=info.name, symbol=symbol, event=event, seq=self.seq, ts_ns=ts_ns, id=info.id)
        if event == "enter":
            self.members[symbol] = ev
        else:
            self.members.pop(symbol, None)
        return ev


class ConditionSearch:
    def __init__(
        self,
        prev_close: Mapping[str, int],
        threshold_pct: float,
        *,
        opens: Mapping[str, int] | None = None,
        riser_pct: float = 2.0,
        surge_ratio: float = 3.0,
        surge_s: float = 40.0,
    ) -> None:
        """`opens`: each symbol's open today (the previous close when not given)."""
        self._enter_pct = threshold_pct
        self._leave_pct = threshold_pct - HYSTERESIS_PCT
        riser_leave_pct = riser_pct - RISER_HYSTERESIS_PCT
        self._surge_recent_s = SURGE_RECENT_FACTOR * surge_s
        self._surge_baseline_s = SURGE_BASELINE_FACTOR * surge_s
        # Shares in the windows compared as rates without a division per trade.
        self._surge_scale = self._surge_baseline_s / self._surge_recent_s
        self._surge_enter = surge_ratio
        self._surge_leave = surge_ratio * SURGE_LEAVE_FRACTION
        self._symbols: dict[str, _Symbol] = {}
        for code, prev in prev_close.items():
            open_ = (opens or prev_close)[code]
            self._symbols[code] = _Symbol(
                prev_close=prev,
                flow=_VolumeFlow(VOLUME_WINDOW_S, VOLUME_WINDOW_S),
                surge=_VolumeFlow(self._surge_recent_s, self._surge_baseline_s),
                riser_enter=open_ * (1.0 + riser_pct / 100.0),
                riser_leave=open_ * (1.0 + riser_leave_pct / 100.0),
            )
        manual = "A symbol set through /admin/condition_events stays under manual control."
        warmup = self._surge_recent_s + self._surge_baseline_s
        infos = [
            ConditionInfo(
                id=MOMENTUM_ID,
                name=MOMENTUM,
                description=(
                    f"up >= {threshold_pct:g}% from the previous close on rising volume (the last "
                    f"{VOLUME_WINDOW_S:g} s traded more shares than the {VOLUME_WINDOW_S:g} s before); "
                    f"leaves below {self._leave_pct:g}%. {manual}"
                ),
            ),
            ConditionInfo(
                id=RISERS_ID,
                name=RISERS,
                description=(
                    f"fast risers: up >= {riser_pct:g}% from today's open (the open GET /symbols "
                    f"reports); leaves below {riser_leave_pct:g}%. {manual}"
                ),
            ),
            ConditionInfo(
                id=VOLUME_SURGE_ID,
                name=VOLUME_SURGE,
                description=(
                    f"volume surge: the last {self._surge_recent_s:g} s traded at least "
                    f"{surge_ratio:g} times the shares per second of the {self._surge_baseline_s:g} s "
                    f"before (judged from {warmup:g} s after a symbol's first trade); leaves below "
                    f"{self._surge_leave:g} times. {manual}"
                ),
            ),
        ]
        self._conditions: dict[str, _ConditionState] = {i.name: _ConditionState(i) for i in infos}
        self._ids: dict[str, str] = {i.id: i.name for i in infos}

    def infos(self) -> list[ConditionInfo]:
        return [c.info for c in self._conditions.values()]

    def __contains__(self, key: object) -> bool:
        return key in self._conditions or key in self._ids

    def resolve(self, name: str | None = None, id: str | None = None) -> ConditionInfo:
        """The condition a request names by `name`, by `id`, or by both (which must agree).
        Raises UnknownCondition, or ValueError when neither is given."""
        by_name = by_id = None
        if name is not None:
            if name not in self._conditions:
                raise UnknownCondition(f"unknown condition {name!r}", self.infos())
            by_name = self._conditions[name].info
        if id is not None:
            if id not in self._ids:
                raise UnknownCondition(f"unknown condition id {id!r}", self.infos())
            by_id = self._conditions[self._ids[id]].info
        if by_name is not None and by_id is not None and by_name is not by_id:
            raise UnknownCondition(f"name {name!r} and id {id!r} are different conditions", self.infos())
        info = by_name or by_id
        if info is None:
            raise ValueError("name a condition by its name or its id")
        return info

    def _get(self, key: str) -> _ConditionState:
        """By name or by id."""
        cond = self._conditions.get(key) or self._conditions.get(self._ids.get(key, ""))
        if cond is None:
            raise UnknownCondition(f"unknown condition {key!r}", self.infos())
        return cond

    def members(self, key: str) -> set[str]:
        return set(self._get(key).members)

    def last_seq(self, key: str) -> int:
        return self._get(key).seq

    def snapshot(self, key: str) -> list[Condition]:
        """The enter events still in force, with their original seq and time, oldest first."""
        return sorted(self._get(key).members.values(), key=lambda ev: ev.seq)

    def on_ticks(self, rows: Iterable[TickRow], now: float) -> list[Condition]:
        """Feed trades that happened at monotonic time `now` (seconds); returns transitions."""
        momentum = self._conditions[MOMENTUM]
        risers = self._conditions[RISERS]
        surge = self._conditions[VOLUME_SURGE]
        warmup = self._surge_recent_s + self._surge_baseline_s
        scale = self._surge_scale
        out: list[Condition] = []
        for row in rows:
            code = row.symbol
            sym = self._symbols.get(code)
            if sym is None:
                continue
            price = row.price
            flow = sym.flow
            flow.add(now, row.qty)
            sym.surge.add(now, row.qty)
            first_seen = sym.first_seen
            if first_seen is None:
                first_seen = sym.first_seen = now

            if code not in momentum.manual:
                change = (price / sym.prev_close - 1.0) * 100.0
                if code in momentum.members:
                    if change < self._leave_pct:
                        out.append(momentum.emit(code, "leave", row.ts_ns))
                elif change >= self._enter_pct and flow.rising:
                    out.append(momentum.emit(code, "enter", row.ts_ns))

            if code not in risers.manual:
                if code in risers.members:
                    if price < sym.riser_leave:
                        out.append(risers.emit(code, "leave", row.ts_ns))
                elif price >= sym.riser_enter:
                    out.append(risers.emit(code, "enter", row.ts_ns))

            if code not in surge.manual:
                recent = sym.surge.recent_qty * scale
                older = sym.surge.older_qty
                if code in surge.members:
                    if recent < self._surge_leave * older:
                        out.append(surge.emit(code, "leave", row.ts_ns))
                elif older > 0 and recent >= self._surge_enter * older and now - first_seen >= warmup:
                    out.append(surge.emit(code, "enter", row.ts_ns))
        return out

    def inject(self, key: str, events: Iterable[ConditionEventIn], ts_ns: int) -> list[Condition]:
        """Publish events exactly as given, in order, each with the next seq."""
        cond = self._get(key)
        out: list[Condition] = []
        for ev in events:
            cond.manual.add(ev.symbol)
            out.append(cond.emit(ev.symbol, ev.event, ts_ns))
        return out
