"""Alerts raised before a transport attaches (the start-up reconciliation's above all) reach it
once it does: the bus keeps the run's alerts and replays them to a transport that asks."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from engine import events as ev
from engine.clock import Clock
from engine.journal import Journal, OrderRecord
from tests.conftest import PYTHON, ROOT, subprocess_env

LOST = "TCLOSTATSTART001"


async def journal_an_interrupted_send(data: Path) -> None:
    """What a crash between journaling an order and sending it leaves: a pending order the
    exchange never received."""
    journal = Journal(data / "journal.db")
    await journal.open()
    now = time.time_ns()
    await journal.insert_order(
        OrderRecord(
            LOST,
            "k-lost",
            "005930",
            "buy",
            "market",
            1,
            None,
            "test",
            "crash test",
            created_ns=now,
            updated_ns=now,
        )
    )
    await journal.close()


async def test_console_shows_the_start_up_reconciliation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await journal_an_interrupted_send(data)
    proc = await asyncio.to_thread(
        subprocess.run,
        [PYTHON, "-m", "bot"],
        input="wait 1\nquit\n",
        capture_output=True,
        text=True,
        env=subprocess_env(data),
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if "never reached the broker" in line]
    assert len(lines) == 1, proc.stdout
    assert "Reconciled at start-up" in lines[0] and LOST in lines[0]
    assert "marked not sent" in lines[0]


def alert(n: int) -> ev.AlertEvent:
    return ev.AlertEvent(ev.AlertLevel.WARNING, ev.AlertKind.RECONCILE, f"alert {n}", "details")


def drain(queue: asyncio.Queue[ev.Event]) -> list[ev.Event]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


async def test_replay_gives_the_alerts_so_far_stamped_then_the_live_events() -> None:
    clock = Clock()
    bus = ev.EventBus(clock)
    bus.publish(alert(1))
    bus.publish(ev.ConnectionChanged(True, "up"))  # only alerts are kept
    bus.publish(alert(2))
    plain = bus.subscribe()
    late = bus.subscribe(replay_alerts=True)
    bus.publish(alert(3))
    assert [e.title for e in drain(plain) if isinstance(e, ev.AlertEvent)] == ["alert 3"]
    got = drain(late)
    assert [e.title for e in got if isinstance(e, ev.AlertEvent)] == ["alert 1", "alert 2", "alert 3"]
    assert all(0 < e.ts_ns <= clock.time_ns() for e in got)  # stamped when published
    assert got[0].ts_ns <= got[1].ts_ns <= got[2].ts_ns


async def test_replay_past_the_backlog_says_how_many_were_left_out() -> None:
    bus = ev.EventBus(alert_backlog=3)
    for n in range(5):
        bus.publish(alert(n))
    got = drain(bus.subscribe(replay_alerts=True))
    assert all(isinstance(e, ev.AlertEvent) for e in got)
    assert [e.title for e in got if isinstance(e, ev.AlertEvent)][:3] == ["alert 2", "alert 3", "alert 4"]
    (note,) = got[3:]
    assert isinstance(note, ev.AlertEvent) and note.ts_ns > 0
    assert note.title == "Earlier alerts left out"
    assert "2 earlier alerts" in note.message and "last 3" in note.message
