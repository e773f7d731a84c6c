"""The real agent process started against a broker that is not there: it starts, says why,
refuses orders with the reason, and exits cleanly (no traceback, no unclosed session)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT, subprocess_env
from tests.engine.test_startup_outage import free_port
from tests.fakekis import DEFAULT_APP_KEY, DEFAULT_APP_SECRET

SCRIPT = "/status\n/buy 005930 1\nquit\n"


def run_agent(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "bot"],
        input=SCRIPT,
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path / "data", **env),
        cwd=ROOT,
        timeout=90,
    )


@pytest.mark.parametrize("broker", ["sim", "kis"])
def test_agent_starts_with_the_broker_unreachable(tmp_path: Path, broker: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    if broker == "sim":
        proc = run_agent(tmp_path, SIM_URL=url)
    else:
        proc = run_agent(
            tmp_path,
            BROKER="kis",
            KIS_ENV="paper",
            KIS_APP_KEY=DEFAULT_APP_KEY,
            KIS_APP_SECRET=DEFAULT_APP_SECRET,
            KIS_ACCOUNT="12345678-01",
            KIS_HTS_ID="testuser",
            KIS_REST_URL=url,
            KIS_WS_URL=url.replace("http", "ws"),
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "Unclosed" not in out, out
    assert f"broker unreachable at {url}" in out, out
    assert "no orders while the broker's state is unknown" in out, out
    assert DEFAULT_APP_SECRET not in out
