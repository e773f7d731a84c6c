"""`python -m bot health`: exit 0 while the running agent's heartbeat is fresh.

A container runs it every 30 s, so it imports nothing of the agent: only where the data lives
(DATA_DIR, from the environment or .env) and the clock. A heartbeat names the process that
wrote it, so a restart is not reported healthy before its own loop runs (engine/heartbeat.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dotenv import dotenv_values, find_dotenv

from engine.clock import Clock
from engine.files import DEFAULT_DATA_DIR
from engine.heartbeat import problem


def data_dir() -> Path:
    # As EngineConfig reads it: the real environment wins over .env; blank means the default.
    raw = os.environ.get("DATA_DIR") or dotenv_values(find_dotenv(usecwd=True)).get("DATA_DIR") or ""
    return Path(raw.strip()).expanduser() if raw.strip() else DEFAULT_DATA_DIR


def check(max_age: float) -> int:
    # Liveness on the machine's time (an unshifted clock), as the agent writes it.
    found = problem(data_dir(), Clock().time(), max_age)
    if found is not None:
        print(f"unhealthy: {found}", file=sys.stderr)
        return 1
    return 0
