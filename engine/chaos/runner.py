"""Rounds of the agent killed at random moments, a final clean run, and the invariant check.

Reproducibility: each round's plan (commands, gaps, kill mode and moment, broker disruption) is
drawn from its own RNG seeded by (seed, round), so a round's plan does not depend on how earlier
rounds went. What the plan meets (prices, which order ids exist) depends on timing, so a seed
reproduces the script, not every byte of the outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.chaos.agent import Agent, Command
from engine.chaos.brokers import BrokerProcess, BrokerUnavailable, SimBroker, make_broker
from engine.chaos.invariants import HaltCommand, Report, Violation, check
from engine.chaos.state import BrokerState, JournalState, dump_broker, load_journal
from engine.krx.prices import round_down, round_up

# Not resolved: a checkout reached through a symlink runs its own agent, not the link's target.
REPO = Path(__file__).absolute().parents[2]

# Settings the runner owns; inherited values would change what the agent does.
_STRIP_PREFIXES = ("SIM_", "DISCORD_", "RISK_", "TRADING_", "SESSION_", "KIS_", "KRX_", "AUTO_")
_STRIP_NAMES = (
    "BROKER",
    "DATA_DIR",
    "LIVE_TRADING",
    "JOURNAL_SYNC",
    "ORDER_BUDGET",
    "DEFAULT_STRATEGY",
    "STRATEGY_PARAMS",
    "MAX_SUBSCRIPTIONS",
    "COMMISSION_RATE",
    "PRE_OPEN_MINUTES",
    "BEFORE_CLOSE_MINUTES",
    "EQUITY_SAMPLE_SECONDS",
)

# Command kinds and their weights in a round's plan.
_KINDS: dict[str, int] = {
    "buy": 22,
    "buy_limit": 10,
    "sell": 14,
    "sell_limit": 5,
    "cancelorder": 8,
    "halt": 5,
    "resume": 5,
    "positions": 4,
    "orders": 4,
    "status": 3,
    "subscribe": 5,
    "unsubscribe": 3,
    "auto": 3,
    "wait": 3,
}
_SUBSCRIPTIONS = ("breakout {qty} k=0.05 tp=0.6 sl=0.6 trail=0.4", "exits tp=0.5 sl=0.5 trail=0.3", "watch")


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    rounds: int = 10
    seed: int = 1
    broker: str = "sim"
    workdir: Path | None = None
    max_round_s: float = 3.0
    broker_fault_rate: float = 0.2
    ready_timeout: float = 120.0
    stop_timeout: float = 30.0
    cash: int = 50_000_000
    python: str = sys.executable
    repo: Path = REPO


@dataclass(frozen=True, slots=True)
class Step:
    kind: str
    symbol: str
    qty: int
    frac: float  # a limit price's distance from the last price, and other fractional picks
    gap_s: float  # pause after writing it
    settle_first: bool  # wait until the console is idle before writing it


@dataclass(frozen=True, slots=True)
class RoundPlan:
    mode: str  # "after_buy": killed just after a /buy; "random": at a random moment;
    # "startup": during start-up, before the banner
    steps: tuple[Step, ...]
    kill_delay_s: float
    disrupt_at_s: float | None  # when the broker is disrupted, from the banner
    wait_for_broker: bool  # the next start waits for a restarting broker (else starts in its outage)
    resume_first: bool  # open with /resume when the journal is halted (else a halt lasts rounds)


@dataclass(slots=True)
class Stats:
    kills: int = 0
    kill_modes: Counter[str] = field(default_factory=Counter)
    after_buy: Counter[str] = field(default_factory=Counter)
    unsettled_at_kill: list[str] = field(default_factory=list)  # client order ids
    starts_during_outage: int = 0
    startup_s: list[float] = field(default_factory=list)
    commands: int = 0
    acked: int = 0


def agent_env(base: dict[str, str], repo: Path, data_dir: Path, broker: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith(_STRIP_PREFIXES) and k not in _STRIP_NAMES}
    env.update(
        {
            "PYTHONPATH": str(repo),
            "PYTHONUNBUFFERED": "1",
            "DATA_DIR": str(data_dir),
            "TRADING_HOURS": "always",
            "DISCORD_TOKEN": "",
            # Limits out of the way: the point is orders reaching the broker, not risk refusals.
            "RISK_MAX_ORDER_VALUE": "1000000000",
            "RISK_MAX_POSITION_VALUE": "1000000000",
            "RISK_MAX_OPEN_POSITIONS": "50",
            "RISK_DAILY_LOSS_LIMIT": "1000000000",
            "ORDER_BUDGET": "300000",
        }
    )
    env.update(broker)
    return env


class Runner:
    def __init__(self, config: ChaosConfig) -> None:
        self.cfg = config
        self.workdir = config.workdir or Path(tempfile.mkdtemp(prefix=f"tradecord-chaos-{config.broker}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs = self.workdir / "logs"
        self.data_dir = self.workdir / "data"
        self.broker: BrokerProcess = make_broker(
            config.broker, self.workdir, config.repo, config.python, config.seed, config.cash
        )
        self.stats = Stats()
        self.process_violations: list[Violation] = []
        self.halts: list[HaltCommand] = []
        self.order_ids: list[str] = []
        self._counter = [0]
        self._t0 = time.monotonic()
        self._timeline = (self.workdir / "timeline.jsonl").open("a", encoding="utf-8")
        self._agent: Agent | None = None
        self._halted = False  # as the journal said after the last kill

    def command_line(self) -> str:
        """The command that replays this run's plan."""
        c = self.cfg
        return (
            f"python -m engine.chaos --rounds {c.rounds} --seed {c.seed} --broker {c.broker} "
            f"--max-round-seconds {c.max_round_s:g} --broker-fault-rate {c.broker_fault_rate:g}"
        )

    # ---- bookkeeping -------------------------------------------------------------------------

    def _event(self, where: str, what: str, **detail: Any) -> None:
        row = {"t": round(time.monotonic() - self._t0, 3), "where": where, "event": what, **detail}
        self._timeline.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._timeline.flush()

    def _say(self, text: str) -> None:
        print(f"chaos: {text}", file=sys.stderr, flush=True)

    def _violation(self, invariant: str, detail: str) -> None:
        self.process_violations.append(Violation(invariant, detail))
        self._event("check", "violation", invariant=invariant, detail=detail)

    # ---- the plan ------------------------------------------------------------------------------

    def plan(self, round_no: int) -> RoundPlan:
        rng = random.Random(self.cfg.seed * 1_000_003 + round_no)
        mode = rng.choices(("after_buy", "random", "startup"), (40, 48, 12))[0]
        kinds = {k: w for k, w in _KINDS.items() if k != "auto" or self.broker.supports_auto}
        names, weights = list(kinds), list(kinds.values())
        duration = rng.uniform(0.3, self.cfg.max_round_s)
        steps: list[Step] = []
        elapsed = 0.0
        while elapsed < duration:
            gap = min(rng.expovariate(1 / 0.25), 1.5)
            steps.append(
                Step(
                    rng.choices(names, weights)[0],
                    rng.choice(self.broker.symbols),
                    rng.randint(1, 3),
                    rng.random(),
                    gap,
                    rng.random() < 0.3,
                )
            )
            elapsed += gap
        if mode == "after_buy":
            # A halt left by an earlier step would refuse the order the kill is aimed at.
            steps.append(Step("resume", "", 0, 0.0, 0.0, False))
            steps.append(
                Step(
                    rng.choice(("buy", "buy", "buy_limit")),
                    rng.choice(self.broker.symbols),
                    rng.randint(1, 3),
                    rng.random(),
                    0.0,
                    True,
                )
            )
        # The window between journaling an intent and the broker's answer is a few ms on the sim
        # and up to a paced request (0.5 s) on KIS: kill delays are drawn to land in and around it.
        if self.cfg.broker == "kis":
            kill_delay = rng.uniform(0.0, 0.8)
        else:
            # Measured on the sim: the intent is committed ~0.5-1 ms after the line is written and
            # answered ~1-3 ms after it; most kills aim there, the rest anywhere after.
            kill_delay = rng.choice(
                (
                    rng.uniform(0.0005, 0.003),
                    rng.uniform(0.0005, 0.003),
                    rng.uniform(0.0, 0.01),
                    rng.uniform(0.0, 0.05),
                )
            )
        if mode == "startup":
            kill_delay = rng.uniform(0.05, 2.0)
        disrupt = rng.uniform(0.0, duration) if rng.random() < self.cfg.broker_fault_rate else None
        return RoundPlan(mode, tuple(steps), kill_delay, disrupt, rng.random() < 0.6, rng.random() < 0.75)

    def _line(self, step: Step, where: str, agent: Agent) -> str:
        sym, qty = step.symbol, step.qty
        if step.kind in ("buy_limit", "sell_limit"):
            quote = self.broker.quote(sym)
            if quote is None:
                return f"/{step.kind.split('_')[0]} {sym} {qty}"
            if step.kind == "buy_limit":
                # Below the market: it rests, to be cancelled, halted away or filled later.
                price = max(round_down(int(quote.last * (1 - 0.005 - 0.03 * step.frac))), quote.lower)
                return f"/buy {sym} {qty} {price}"
            price = min(round_up(int(quote.last * (1 + 0.005 + 0.03 * step.frac))), quote.upper)
            return f"/sell {sym} {qty} {price}"
        if step.kind == "cancelorder":
            known = self.order_ids + agent.order_ids
            if not known:
                return "/orders"
            return f"/cancelorder {known[int(step.frac * len(known))]}"
        if step.kind == "halt":
            return f"/halt chaos {where}"
        if step.kind == "subscribe":
            how = _SUBSCRIPTIONS[int(step.frac * len(_SUBSCRIPTIONS))].format(qty=qty)
            return f"/subscribe {sym} {how}"
        if step.kind == "unsubscribe":
            return f"/cancel {sym}"
        if step.kind == "auto":
            return "/auto on momentum" if step.frac < 0.6 else "/auto off"
        if step.kind == "wait":
            return "wait 1"
        if step.kind in ("buy", "sell"):
            return f"/{step.kind} {sym} {qty}"
        return f"/{step.kind}"

    # ---- processes ---------------------------------------------------------------------------

    def _start_agent(self, label: str) -> Agent:
        env = agent_env(dict(os.environ), self.cfg.repo, self.data_dir, self.broker.agent_env())
        agent = Agent(
            label,
            [self.cfg.python, "-m", "bot"],
            repo=self.cfg.repo,
            env=env,
            log_dir=self.logs,
            counter=self._counter,
        )
        with (self.logs / f"{label}.env").open("w", encoding="utf-8") as out:
            for key in sorted(
                k for k in env if k.startswith(("SIM_", "KIS_", "BROKER", "DATA_DIR", "RISK_", "TRADING_"))
            ):
                out.write(f"{key}={'(hidden)' if 'SECRET' in key else env[key]}\n")
        agent.start()
        self._agent = agent
        return agent

    def _disrupt(self, where: str) -> None:
        try:
            what = self.broker.disrupt(random.Random(f"{self.cfg.seed}:{where}"))
        except BrokerUnavailable as exc:
            what = f"could not disrupt: {exc}"
        self._event(where, "broker", detail=what)

    def _collect(self, agent: Agent, where: str, banner_expected: bool) -> None:
        """What one agent process showed: its start, its problems, its halts, its order ids."""
        if banner_expected and not agent.banner:
            self._violation(
                "clean_starts",
                f"{where}: start-up never printed the banner "
                f"(exit {agent.proc.returncode}); {agent.proc.stderr_path}",
            )
        for problem in agent.problems():
            invariant = "clean_starts" if "Traceback" in problem else "no_internal_error"
            self._violation(invariant, f"{where}: {problem}")
        for cmd in agent.commands:
            self.stats.commands += 1
            self.stats.acked += cmd.acked
            words = cmd.line.split()
            if words[0] not in ("/halt", "/resume"):
                continue
            reply = cmd.reply_text
            if not cmd.acked:
                outcome = "none"
            elif reply.startswith(("HALTED:", "trading resumed")):
                outcome = "ok"
            elif reply.startswith("error: trading is not halted"):
                outcome = "ok"  # refused because already so: acknowledges "not halted"
            else:
                outcome = "error"
            self.halts.append(
                HaltCommand(f"{where} command {cmd.seq}", words[0] == "/halt", outcome, reply[:200])
            )
        self.order_ids.extend(agent.order_ids)
        self._event(
            where,
            "commands",
            sent=len(agent.commands),
            acked=sum(c.acked for c in agent.commands),
            lines=[f"{c.seq}{'' if c.acked else '*'} {c.line}" for c in agent.commands],
        )

    def _after_kill(self, where: str, plan: RoundPlan, last: Command | None) -> None:
        journal = load_journal(self.data_dir / "journal.db")
        unsettled = journal.unsettled
        self.stats.unsettled_at_kill += [
            o.client_order_id for o in unsettled if o.client_order_id not in self.stats.unsettled_at_kill
        ]
        outcome = ""
        self._halted = journal.halted
        if plan.mode == "after_buy" and last is not None:
            mine = [
                o
                for o in journal.orders
                if o.created_ns >= last.written_ns and o.origin.startswith("manual:")
            ]
            if not last.line.startswith(("/buy", "/sell")):
                outcome = "no order line"
            elif last.acked and last.reply_text.startswith("error:"):
                outcome = "refused"
            elif not mine:
                outcome = "before the journal"
            elif mine[0].status in ("pending", "unknown"):
                outcome = "journaled, unanswered"
            else:
                outcome = f"answered ({mine[0].status})"
            self.stats.after_buy[outcome] += 1
        self._event(
            where,
            "journal after kill",
            orders=len(journal.orders),
            fills=len(journal.fills),
            unsettled=[o.describe() for o in unsettled],
            after_buy=outcome,
            halted=journal.halted,
        )

    # ---- rounds ----------------------------------------------------------------------------------

    def _round(self, round_no: int) -> None:
        where = f"round {round_no}"
        plan = self.plan(round_no)
        self._event(
            where,
            "plan",
            mode=plan.mode,
            steps=len(plan.steps),
            kill_delay_s=round(plan.kill_delay_s, 4),
            disrupt_at_s=plan.disrupt_at_s,
        )
        restarting = isinstance(self.broker, SimBroker) and self.broker.restarting
        if restarting and plan.wait_for_broker:
            self.broker.settle()
        elif restarting:
            self.stats.starts_during_outage += 1
            self._event(where, "starting while the broker restarts")
        agent = self._start_agent(f"round-{round_no:03d}")
        last = None
        disrupted = plan.disrupt_at_s is None
        if plan.mode == "startup":
            # A disruption planned for this round lands during the start-up (and reconciliation).
            first = plan.kill_delay_s if disrupted else min(plan.disrupt_at_s or 0.0, plan.kill_delay_s)
            time.sleep(first)
            if not disrupted:
                self._disrupt(where)
                disrupted = True
            time.sleep(plan.kill_delay_s - first)
        elif not agent.wait_ready(self.cfg.ready_timeout):
            self._violation(
                "clean_starts",
                f"{where}: not ready within {self.cfg.ready_timeout:.0f}s (exit "
                f"{agent.proc.returncode}); stderr tail: {agent.proc.stderr_tail(5)!r}",
            )
        else:
            if agent.ready_after_s is not None:
                self.stats.startup_s.append(agent.ready_after_s)
            start = time.monotonic()
            if plan.resume_first and self._halted:
                agent.send("/resume", where)
            for i, step in enumerate(plan.steps):
                if not disrupted and time.monotonic() - start >= (plan.disrupt_at_s or 0.0):
                    self._disrupt(where)
                    disrupted = True
                if not agent.running:
                    break  # died by itself: its output says why (checked in _collect)
                if step.settle_first:
                    agent.wait_idle(10.0)
                last = agent.send(self._line(step, f"r{round_no}s{i}", agent), where)
                if plan.mode == "after_buy" and i == len(plan.steps) - 1:
                    time.sleep(plan.kill_delay_s)
                else:
                    time.sleep(step.gap_s)
            if not disrupted:
                self._disrupt(where)
                disrupted = True
        code = agent.proc.returncode
        agent.kill()
        self.stats.kills += 1
        self.stats.kill_modes[plan.mode] += 1
        self._event(where, "SIGKILL agent", mode=plan.mode, exited_before=code)
        if code is not None:
            self._violation(
                "clean_starts",
                f"{where}: the agent exited by itself with {code} before the kill; {agent.proc.stderr_path}",
            )
        self._collect(agent, where, banner_expected=plan.mode != "startup")
        self._after_kill(where, plan, last)
        acked = sum(c.acked for c in agent.commands)
        self._say(
            f"round {round_no}/{self.cfg.rounds}: {plan.mode} kill, {len(agent.commands)} "
            f"commands ({acked} answered)"
            + (", broker disrupted" if plan.disrupt_at_s is not None and disrupted else "")
        )

    # ---- the final, clean run --------------------------------------------------------------------

    def _final(self) -> None:
        where = "final run"
        self.broker.settle()
        agent = self._start_agent("final")
        if not agent.wait_ready(self.cfg.ready_timeout):
            self._violation(
                "clean_starts",
                f"{where}: not ready within {self.cfg.ready_timeout:.0f}s (exit "
                f"{agent.proc.returncode}); stderr tail: {agent.proc.stderr_tail(5)!r}",
            )
            agent.kill()
            self._collect(agent, where, banner_expected=True)
            return
        # Settle: no strategy may send while the books are compared, and nothing may rest at the
        # broker (it could fill after the agent stops and look like a lost fill).
        if self.broker.supports_auto:
            agent.send("/auto off", where)
            agent.wait_idle(60.0)
        for _ in range(3):  # auto mode may have added one while it was being turned off
            subscribed = load_journal(self.data_dir / "journal.db").subscriptions
            if not subscribed:
                break
            for symbol in subscribed:
                agent.send(f"/cancel {symbol}", where)
            agent.wait_idle(60.0)
        for _ in range(8):
            try:
                open_ids = self.broker.open_order_ids()
            except BrokerUnavailable as exc:
                self._event(where, "open orders unavailable", detail=str(exc))
                time.sleep(1.0)
                continue
            if not open_ids:
                break
            for order_id in open_ids:
                agent.send(f"/cancelorder {order_id}", where)
            agent.wait_idle(60.0)
            time.sleep(1.0)
        time.sleep(1.5)  # notices of the last fills and cancels
        for line in ("/orders", "/positions", "/status"):
            agent.send(line, where)
        if not agent.wait_idle(60.0):
            self._violation("clean_stop", f"{where}: the console did not answer within 60 s")
        code = agent.terminate(self.cfg.stop_timeout)
        self._event(where, "SIGTERM agent", exit=code)
        if code != 0:
            shown = "did not exit" if code is None else f"exited with {code}"
            self._violation(
                "clean_stop",
                f"{where}: on SIGTERM the agent {shown} "
                f"(within {self.cfg.stop_timeout:.0f}s); {agent.proc.stderr_path}",
            )
        self._collect(agent, where, banner_expected=True)

    # ---- everything ----------------------------------------------------------------------------

    def _snapshot(self) -> BrokerState:
        for attempt in range(10):
            try:
                return self.broker.snapshot()
            except BrokerUnavailable:
                if attempt == 9:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def run(self) -> dict[str, Any]:
        self._say(f"work dir {self.workdir} (round logs in {self.logs}, timeline.jsonl)")
        report: Report | None = None
        error = ""
        broker_state: BrokerState | None = None
        journal: JournalState | None = None
        try:
            self.broker.start()
            self._event("setup", "broker started", broker=self.broker.name, env=self.broker.agent_env())
            for round_no in range(1, self.cfg.rounds + 1):
                self._round(round_no)
            self._final()
            broker_state = self._snapshot()
            dump_broker(broker_state, self.workdir / "broker.json")
            journal = load_journal(self.data_dir / "journal.db")
            report = check(journal, broker_state, self.halts, self.process_violations)
        except BrokerUnavailable as exc:
            error = f"broker unavailable: {exc}"
        finally:
            if self._agent is not None and self._agent.running:
                self._agent.kill()
            if isinstance(self.broker, SimBroker):
                with contextlib.suppress(BrokerUnavailable):
                    self.broker.settle()  # a restart still under way would outlive the run
            self.broker.stop()
        return self._summary(report, broker_state, journal, error)

    @staticmethod
    def _became(coids: list[str], journal: JournalState | None, broker: BrokerState | None) -> dict[str, int]:
        """How the orders a kill left pending or unknown were settled: the interrupted-send path."""
        if journal is None or broker is None:
            return {}
        at_broker = {o.client_order_id for o in broker.orders if o.client_order_id}
        numbers = {o.order_id for o in broker.orders}
        final = {o.client_order_id: o for o in journal.orders}
        became: Counter[str] = Counter()
        for coid in coids:
            rec = final.get(coid)
            if rec is None:
                became["missing from the journal"] += 1
                continue
            there = coid in at_broker or (rec.broker_order_id or "") in numbers
            became[f"{rec.status} ({'at' if there else 'not at'} the broker)"] += 1
        return dict(became)

    def _summary(
        self, report: Report | None, broker: BrokerState | None, journal: JournalState | None, error: str
    ) -> dict[str, Any]:
        s = self.stats
        startup = sorted(s.startup_s)
        summary: dict[str, Any] = {
            "rounds": self.cfg.rounds,
            "broker": self.cfg.broker,
            "seed": self.cfg.seed,
            "orders": len(broker.orders) if broker else None,
            "fills": len(broker.fills) if broker else None,
            "journal_orders": len(journal.orders) if journal else None,
            "journal_fills": len(journal.fills) if journal else None,
            "kills": s.kills,
            "kill_modes": dict(s.kill_modes),
            "after_buy_kills": dict(s.after_buy),
            "unsettled_at_kill": len(s.unsettled_at_kill),
            "unsettled_at_kill_became": self._became(s.unsettled_at_kill, journal, broker),
            "broker_restarts": self.broker.restarts,
            "broker_faults": self.broker.faults,
            "starts_during_outage": s.starts_during_outage,
            "commands": s.commands,
            "commands_answered": s.acked,
            "startup_s_median": round(startup[len(startup) // 2], 2) if startup else None,
            "startup_s_max": round(startup[-1], 2) if startup else None,
            "violations": [v.as_dict() for v in report.violations]
            if report
            else [v.as_dict() for v in self.process_violations],
            "invariants": report.passed if report else {},
            "ok": bool(report and report.ok and not error),
            "elapsed_s": round(time.monotonic() - self._t0, 1),
            "workdir": str(self.workdir),
            "command": self.command_line(),
        }
        if error:
            summary["error"] = error
        for v in summary["violations"]:
            self._say(f"VIOLATION {v['invariant']}: {v['detail']}")
        self._say(f"{'ok' if summary['ok'] else 'FAILED'}; logs and timeline in {self.workdir}")
        (self.workdir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
        self._timeline.close()
        return summary
