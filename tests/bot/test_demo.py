"""`python -m bot demo` ends with its JSON summary and succeeds only when it traded cleanly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, ROOT, subprocess_env


def test_demo_trades_and_ends_with_the_summary(tmp_path: Path) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "bot", "demo", "--seconds", "10"],
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path),
        cwd=ROOT,
        timeout=90,
    )
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) == {
        "ticks",
        "signals",
        "orders",
        "fills",
        "rejects",
        "errors",
        "realized_pnl",
        "open_positions",
    }
    assert summary["ticks"] > 0 and summary["orders"] > 0 and summary["fills"] > 0
    assert summary["errors"] == 0
    assert proc.returncode == 0, proc.stderr
    assert sum("FILL " in line for line in lines) == summary["fills"]
    assert not (tmp_path / "journal.db").exists()  # the demo keeps the user's data dir clean
