"""The container health check: the heartbeat is fresh, stale, missing, unreadable, or left by an
earlier run; and the check itself loads nothing of the agent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.clock import Clock
from engine.heartbeat import HEARTBEAT, beat, problem, writer
from tests.conftest import ROOT, subprocess_env


def test_health_follows_the_heartbeat(tmp_path: Path) -> None:
    now = Clock().time()
    assert problem(tmp_path, now, 30.0) == "no heartbeat from a running agent"
    beat(tmp_path, now, writer(os.getpid()))
    assert problem(tmp_path, now, 30.0) is None
    assert problem(tmp_path, now + 60, 30.0) == "heartbeat 60s old"
    (tmp_path / HEARTBEAT).write_text("")
    assert problem(tmp_path, now, 30.0) == "no heartbeat from a running agent"


def test_a_fresh_heartbeat_from_an_earlier_run_does_not_pass(tmp_path: Path) -> None:
    """A restart: the file is seconds old, but the process that wrote it is gone (a restarted
    container's new pid 1 has another start time, as does any other reuse of the pid)."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    now = Clock().time()
    earlier = "the heartbeat is from an earlier run; this one has not written its own yet"
    (tmp_path / HEARTBEAT).write_text(f"{now} {int(gone.stdout)} 12345")
    assert problem(tmp_path, now, 30.0) == earlier
    (tmp_path / HEARTBEAT).write_text(f"{now} {os.getpid()} 1")  # our pid, another start time
    assert problem(tmp_path, now, 30.0) == earlier


def test_the_health_command_imports_nothing_of_the_agent(tmp_path: Path) -> None:
    beat(tmp_path, Clock().time(), writer(os.getpid()))
    code = (
        "import sys, bot.__main__ as m; rc = m.main(['health']); "
        "heavy = [n for n in ('engine.core', 'discord', 'aiohttp', 'matplotlib', 'bot.app') "
        "if n in sys.modules]; print(rc, heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path),
        timeout=60,
    )
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr
