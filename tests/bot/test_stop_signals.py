"""SIGTERM and SIGINT stop the real agent process cleanly at every moment of its start-up: while
Python imports its modules, while the engine waits for a broker that never answers, once it runs.

Before, a signal in the first half second (the imports) found no handler: SIGTERM killed the
process (and as PID 1 in a container it was ignored, so `docker stop` waited 10 s and then
killed it), SIGINT ended in a KeyboardInterrupt traceback; one during the engine's start-up was
acted on only once the start-up was over.

Deadlines here are generous (a loaded machine); the stops themselves take well under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT, eventually, subprocess_env

STOPS = {signal.SIGINT, signal.SIGTERM}
DEADLINE = 10.0  # seconds from the signal to the exit


@contextlib.contextmanager
def silent_broker() -> Iterator[str]:
    """A URL where connections are taken (by the kernel's backlog) but nothing ever answers:
    the broker part of the engine's start-up waits there until its time-out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def spawn(env: dict[str, str], blocked: bool = False) -> asyncio.subprocess.Process:
    """`python -m bot run --headless`; with `blocked`, the child starts with SIGINT and SIGTERM
    blocked (inherited across exec), so one sent at once stays pending until the agent takes it."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS) if blocked else None
    try:
        return await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "bot",
            "run",
            "--headless",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


async def finish(proc: asyncio.subprocess.Process, what: str) -> tuple[str, str]:
    """The process's output once it has exited, cleanly, within DEADLINE."""
    try:
        async with asyncio.timeout(DEADLINE):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(
            f"{what}: still running {DEADLINE:g}s after the signal\n"
            f"stdout:\n{out.decode()[-1500:]}\nstderr:\n{err.decode()[-1500:]}"
        ) from None
    text_out, text_err = out.decode(), err.decode()
    assert proc.returncode == 0, (
        f"{what}: exit {proc.returncode}\nstdout:\n{text_out[-1500:]}\nstderr:\n{text_err[-3000:]}"
    )
    assert "Traceback" not in text_err, f"{what}:\n{text_err[-3000:]}"
    return text_out, text_err


def assert_journal_closed(data: Path) -> None:
    # The last connection to a WAL database checkpoints and removes the -wal file as it closes.
    assert not (data / "journal.db-wal").exists(), "the journal was not closed"


@pytest.mark.parametrize("delay", [0.0, 0.1], ids=["at-once", "0.1s"])
async def test_sigterm_pending_at_the_first_instant_is_honoured(tmp_path: Path, delay: float) -> None:
    """A SIGTERM sent before the agent has run a line of its own stops it cleanly as soon as it
    runs. The interpreter's own start-up (some 30 ms, more on a loaded machine) comes before any
    agent code and no program can handle a signal there, so the child starts with the signals
    blocked, which keeps one pending: the agent must install its handlers and unblock them
    first thing."""
    data = tmp_path / "data"
    with silent_broker() as url:
        proc = await spawn(subprocess_env(data, BROKER="sim", SIM_URL=url), blocked=True)
        await asyncio.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        out, _ = await finish(proc, f"SIGTERM {delay}s after spawn, blocked")
    assert "[PAPER]" not in out
    assert_journal_closed(data)


@pytest.mark.parametrize(
    ("sig", "delay"),
    [(signal.SIGTERM, 0.2), (signal.SIGTERM, 0.35), (signal.SIGINT, 0.3)],
    ids=["SIGTERM-0.2s", "SIGTERM-0.35s", "SIGINT-0.3s"],
)
async def test_stop_signal_while_the_agent_imports(tmp_path: Path, sig: signal.Signals, delay: float) -> None:
    """Not earlier than 0.2 s: before that the signal may find the interpreter still starting
    up, before any line of the agent runs (the test above covers that moment)."""
    data = tmp_path / "data"
    with silent_broker() as url:
        proc = await spawn(subprocess_env(data, BROKER="sim", SIM_URL=url))
        await asyncio.sleep(delay)
        proc.send_signal(sig)
        await finish(proc, f"{sig.name} {delay}s after spawn")
    assert_journal_closed(data)


async def test_sigterm_while_the_engine_waits_for_the_broker(tmp_path: Path) -> None:
    """The engine's start-up waits for a broker that takes the connection and never answers; a
    SIGTERM then cuts the start-up short instead of waiting for it to end."""
    data = tmp_path / "data"
    with silent_broker() as url:
        proc = await spawn(subprocess_env(data, BROKER="sim", SIM_URL=url))
        try:  # the journal file appears as the engine's start-up gets under way
            await eventually(lambda: (data / "journal.db").exists(), 30, "the journal file")
        except AssertionError:
            proc.kill()
            raise
        proc.send_signal(signal.SIGTERM)
        out, _ = await finish(proc, "SIGTERM during the engine's start-up")
    assert "[PAPER]" not in out, "the start-up ran to its end before the signal was acted on"
    assert_journal_closed(data)


async def test_sigterm_once_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = await spawn(subprocess_env(data))  # the embedded sim exchange
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            while b"[PAPER]" not in (line := await proc.stdout.readline()):
                assert line, "the agent ended before it printed its banner"
    except TimeoutError:
        proc.kill()
        raise
    proc.send_signal(signal.SIGTERM)
    await finish(proc, "SIGTERM once the banner is printed")
    assert_journal_closed(data)
