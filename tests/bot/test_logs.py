"""LOG_LEVEL, where the log goes (files at a terminal, stderr headless), and secrets redacted."""

from __future__ import annotations

import asyncio
import logging
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import logs
from tests.conftest import PYTHON, ROOT, read_until, subprocess_env

SECRET = "kis-app-secret-0123456789abcdef"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    own = {n: logging.getLogger(n).level for n in logs.OWN_LOGGERS}
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for n, lv in own.items():
        logging.getLogger(n).setLevel(lv)


def test_at_a_terminal_the_log_goes_to_a_private_file_with_secrets_redacted(
    tmp_path: Path, restored_logging: None
) -> None:
    path = logs.setup("debug", tmp_path, headless=False, secrets=[SECRET])
    assert path == tmp_path / "logs" / logs.LOG_FILE
    log = logging.getLogger("engine.test")
    log.debug("token request with %s", SECRET)
    try:
        raise RuntimeError(f"refused {SECRET}")
    except RuntimeError:
        log.exception("failed")
    logging.getLogger("websockets.client").debug("> TEXT %s", SECRET)  # libraries stay at INFO
    for h in logging.getLogger().handlers:
        h.flush()
    text = path.read_text()
    assert "token request with ***" in text and "RuntimeError: refused ***" in text
    assert SECRET not in text and "> TEXT" not in text
    assert "+09:00" in text  # Seoul time, whatever the machine's zone
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    screens = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    assert [h.level for h in screens] == [logging.ERROR]  # the console stays readable


def test_log_level_and_stderr_headless(tmp_path: Path) -> None:
    quiet = subprocess.run(
        [PYTHON, "-m", "bot"],
        input="quit\n",
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path / "a", LOG_LEVEL="info"),
        cwd=ROOT,
        timeout=90,
    )
    assert quiet.returncode == 0, quiet.stderr
    assert " INFO " not in quiet.stderr + quiet.stdout  # at the console: to the file
    assert "INFO engine.sim.server: sim serving" in (tmp_path / "a" / "logs" / logs.LOG_FILE).read_text()


async def test_headless_logs_go_to_stderr_at_log_level(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bot",
        "run",
        "--headless",
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        env=subprocess_env(tmp_path, LOG_LEVEL="info"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await read_until(proc.stderr, "INFO engine.sim.server: sim serving")
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        await proc.communicate()
    assert proc.returncode == 0
    assert not (tmp_path / "logs").exists()
