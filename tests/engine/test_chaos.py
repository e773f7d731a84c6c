"""The fault-injection runner: short seeded runs on both brokers, and the invariant checker fed
deliberately broken states (it must name what broke)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine.chaos.invariants import INVARIANTS, HaltCommand, Report, allowed_halt_states, check
from engine.chaos.state import (
    CANCELLED,
    FILLED,
    OPEN,
    BrokerFill,
    BrokerOrder,
    BrokerState,
    JournalFill,
    JournalOrder,
    JournalState,
    load_broker,
    load_journal,
)
from tests.conftest import PYTHON, ROOT, subprocess_env

SUMMARY_FIELDS = (
    "rounds",
    "broker",
    "seed",
    "orders",
    "fills",
    "kills",
    "broker_restarts",
    "broker_faults",
    "violations",
    "invariants",
    "ok",
    "elapsed_s",
    "workdir",
)


def run_chaos(workdir: Path, *args: str, timeout: float = 120.0) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [PYTHON, "-m", "engine.chaos", "--workdir", str(workdir), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env=subprocess_env(workdir / "unused"),
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"one JSON line expected on stdout, got {proc.stdout!r}\n{proc.stderr}"
    return proc.returncode, json.loads(lines[0]), proc.stderr


def assert_clean(code: int, summary: dict[str, Any], stderr: str) -> None:
    for name in SUMMARY_FIELDS:
        assert name in summary, f"summary lacks {name}: {summary}"
    assert set(summary["invariants"]) == set(INVARIANTS)
    assert summary["violations"] == [], json.dumps(summary["violations"], indent=1)
    assert all(summary["invariants"].values()), summary["invariants"]
    assert summary["ok"] is True and code == 0, stderr[-2000:]


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str, Path]:
    workdir = tmp_path_factory.mktemp("chaos-sim") / "run"
    code, summary, stderr = run_chaos(
        workdir,
        "--rounds",
        "3",
        "--seed",
        "12",
        "--broker",
        "sim",
        "--broker-fault-rate",
        "0.5",
        "--max-round-seconds",
        "2.5",
    )
    return code, summary, stderr, workdir


def test_sim_rounds_keep_every_invariant(sim_run: tuple[int, dict[str, Any], str, Path]) -> None:
    code, summary, stderr, workdir = sim_run
    assert_clean(code, summary, stderr)
    assert summary["broker"] == "sim" and summary["rounds"] == 3 and summary["seed"] == 12
    assert summary["kills"] == 3
    assert summary["commands"] > 0 and summary["elapsed_s"] < 60
    assert (workdir / "broker.json").exists() and (workdir / "timeline.jsonl").exists()
    assert (workdir / "logs" / "final.stdout").exists()
    assert str(workdir) in stderr  # where to look is said up front


def test_kis_rounds_keep_every_invariant(tmp_path: Path) -> None:
    code, summary, stderr = run_chaos(
        tmp_path / "run",
        "--rounds",
        "2",
        "--seed",
        "5",
        "--broker",
        "kis",
        "--broker-fault-rate",
        "0.5",
        "--max-round-seconds",
        "2",
    )
    assert_clean(code, summary, stderr)
    assert summary["broker"] == "kis" and summary["kills"] == 2
    assert summary["broker_restarts"] == 0  # the fake keeps its account in memory: faults instead


def test_a_duplicated_fill_in_a_copy_of_a_real_journal_is_reported(
    sim_run: tuple[int, dict[str, Any], str, Path], tmp_path: Path
) -> None:
    _, _, _, workdir = sim_run
    broker = load_broker(workdir / "broker.json")
    journal_path = workdir / "data" / "journal.db"
    intact = check(load_journal(journal_path), broker)  # the halt history is not kept on disk
    assert [v for v in intact.violations if v.invariant != "halt_state"] == []

    copy = tmp_path / "journal.db"
    shutil.copyfile(journal_path, copy)
    db = sqlite3.connect(copy)
    row = db.execute("SELECT * FROM fills LIMIT 1").fetchone()
    if row is None:  # the run filled nothing: book a fill the broker never made
        order = db.execute("SELECT client_order_id, symbol, side FROM orders LIMIT 1").fetchone()
        assert order is not None, "the seeded run placed no order at all"
        row = ("X-1", order[0], order[1], order[2], 1, 50_000, 7, 0, 1)
    count = len(row)
    db.execute(f"INSERT INTO fills VALUES ({', '.join('?' * count)})", (row[0] + "-dup", *row[1:]))
    db.commit()
    db.close()

    report = check(load_journal(copy), broker)
    lost = [v.detail for v in report.violations if v.invariant == "no_lost_fill"]
    assert any(f"journal fill {row[0]}-dup" in d and "has no broker fill" in d for d in lost), lost
    assert not report.passed["positions_match"] and not report.passed["cash_match"]
    assert report.passed["no_duplicate_order"] and report.passed["halt_state"]


# ---- the checker on synthetic states ----------------------------------------------------------


def _journal(**changes: Any) -> JournalState:
    orders = (
        JournalOrder(
            "TC1",
            "manual:a",
            "005930",
            "buy",
            "market",
            3,
            None,
            "manual:console",
            "filled",
            "S1",
            3,
            None,
            1_000,
        ),
        JournalOrder(
            "TC2",
            "manual:b",
            "005930",
            "sell",
            "limit",
            1,
            99_000,
            "manual:console",
            "cancelled",
            "S2",
            0,
            "halt",
            2_000,
        ),
    )
    fills = (
        JournalFill("S1-1", "TC1", "005930", "buy", 2, 98_000, 29, 0),
        JournalFill("S1-2", "TC1", "005930", "buy", 1, 98_100, 14, 0),
    )
    base = JournalState(orders, fills, 10_000_000, False, "")
    return replace(base, **changes)


def _broker(**changes: Any) -> BrokerState:
    orders = (
        BrokerOrder("S1", "TC1", "005930", "buy", 3, None, FILLED, 3),
        BrokerOrder("S2", "TC2", "005930", "sell", 1, 99_000, CANCELLED, 0),
    )
    fills = (
        BrokerFill("S1-1", "S1", "005930", "buy", 2, 98_000, 29, 0),
        BrokerFill("S1-2", "S1", "005930", "buy", 1, 98_100, 14, 0),
    )
    cash = 10_000_000 - 2 * 98_000 - 98_100 - 29 - 14
    base = BrokerState("sim", orders, fills, cash, {"005930": 3})
    return replace(base, **changes)


def _details(report: Report, invariant: str) -> list[str]:
    return [v.detail for v in report.violations if v.invariant == invariant]


def test_a_consistent_state_passes() -> None:
    report = check(_journal(), _broker())
    assert report.ok, report.violations
    assert all(report.passed.values())


def test_a_lost_fill_and_its_money_are_named() -> None:
    journal = _journal(fills=_journal().fills[:1])
    report = check(journal, _broker())
    assert any(
        "broker fill S1-2" in d and "not in the journal" in d for d in _details(report, "no_lost_fill")
    )
    assert _details(report, "positions_match") == ["005930: journal fills give 2 shares, the broker holds 3"]
    (cash,) = _details(report, "cash_match")
    assert "(broker - journal = -98,114)" in cash


def test_an_order_left_pending_is_unsettled() -> None:
    pending = replace(_journal().orders[1], status="pending", broker_order_id=None)
    report = check(_journal(orders=(_journal().orders[0], pending)), _broker())
    (detail,) = _details(report, "no_unsettled_order")
    assert detail.startswith("TC2 sell 1 005930 @ 99,000 [pending") and "S2" in detail


def test_a_second_send_shows_as_an_orphan_and_a_duplicate_intent() -> None:
    # The first attempt was given up as not sent, but the broker had it; the intent went again.
    first = JournalOrder(
        "TC3",
        "day:005930:breakout:entry",
        "005930",
        "buy",
        "limit",
        2,
        97_000,
        "breakout",
        "not_sent",
        None,
        0,
        "never received",
        5_000,
    )
    again = replace(
        first,
        client_order_id="TC4",
        intent_key="day:005930:breakout:entry#1",
        status="accepted",
        broker_order_id="S4",
        created_ns=6_000,
    )
    journal = _journal(orders=(*_journal().orders, first, again))
    broker = _broker(
        orders=(
            *_broker().orders,
            BrokerOrder("S3", "TC3", "005930", "buy", 2, 97_000, OPEN, 0),
            BrokerOrder("S4", "TC4", "005930", "buy", 2, 97_000, OPEN, 0),
        )
    )
    report = check(journal, broker)
    (dup,) = _details(report, "no_duplicate_order")
    assert "TC3 was given up as not_sent" in dup and "sent again as TC4" in dup

    # Without client order ids (KIS): the broker's extra order has no journal order at all.
    kis = replace(broker, orders=tuple(replace(o, client_order_id=None) for o in broker.orders))
    (orphan,) = _details(check(journal, kis), "no_orphan_order")
    assert orphan.startswith("broker order S3 buy 2 005930 @ 97,000") and "same shape" in orphan


def test_fills_per_order_without_fill_ids() -> None:
    broker = _broker(
        fills=(
            BrokerFill(None, "S1", "005930", "buy", 2, 98_000, 29, 0),
            BrokerFill(None, "S1", "005930", "buy", 1, 98_100, 14, 0),
            BrokerFill(None, "S1", "005930", "buy", 1, 98_100, 14, 0),
        ),
        fill_ids=False,
    )
    (detail,) = _details(check(_journal(), broker), "no_lost_fill")
    assert "executed 4 shares (3 fills) but the journal books 3 to TC1" in detail


def test_the_halt_state_must_be_the_last_acknowledged() -> None:
    history = [
        HaltCommand("round 1 command 3", True, "ok", "HALTED: x"),
        HaltCommand("round 2 command 9", False, "ok", "trading resumed"),
    ]
    report = check(_journal(halted=True, halt_reason="x"), _broker(), history)
    (detail,) = _details(report, "halt_state")
    assert "journal says halted ('x')" in detail and "round 2 command 9" in detail
    # A /halt whose reply never came (killed first) may or may not have taken effect.
    history.append(HaltCommand("round 3 command 12", True, "none"))
    assert check(_journal(halted=True), _broker(), history).passed["halt_state"]
    assert check(_journal(halted=False), _broker(), history).passed["halt_state"]
    assert allowed_halt_states([])[0] == {False}


def test_journal_and_broker_disagreeing_on_an_order() -> None:
    open_at_broker = replace(_broker().orders[1], status=OPEN)
    report = check(_journal(), _broker(orders=(_broker().orders[0], open_at_broker)))
    (detail,) = _details(report, "order_status_match")
    assert detail.startswith("journal has TC2 = broker S2") and "broker has S2" in detail
