"""Hostile or careless input at the console: stdin at /dev/null (nohup, cron, systemd), lines
longer than any buffer, digits that are not ASCII. The agent never dies of them, and its data
stays private."""

from __future__ import annotations

import asyncio
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from bot.commands.context import CommandError
from bot.commands.parsing import quantity
from tests.conftest import PYTHON, ROOT, read_until, subprocess_env


async def test_stdin_at_dev_null_runs_headless_until_sigterm(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bot",
        cwd=ROOT,
        env=subprocess_env(tmp_path / "data"),
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await read_until(proc.stdout, "running headless")
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err


def test_a_line_past_any_buffer_is_refused_and_the_agent_goes_on(tmp_path: Path) -> None:
    long_line = "A" * 100_000 + " /halt tail"  # the tail must not run as a command
    script = f"{long_line}\n/status\n{'B' * 70_000}\nquit\n"
    proc = subprocess.run(
        [PYTHON, "-m", "bot"],
        input=script,
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path / "data"),
        cwd=ROOT,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("longer than 4,096 characters; it was ignored") == 2, proc.stdout
    assert "unknown command" not in proc.stdout and "HALTED" not in proc.stdout
    assert "PAPER on sim" in proc.stdout  # the /status between them was answered
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("raw", ["1_0", "１", "٣", "1e3", "+5", " 5 5", "0x10"])
def test_quantities_take_ascii_digits_only(raw: str) -> None:
    with pytest.raises(CommandError, match="digits 0-9"):
        quantity(raw)


def test_quantities_still_take_plain_and_grouped_numbers() -> None:
    assert quantity("10") == 10 and quantity("1,000") == 1_000


def test_error_echoes_are_bounded_and_printable() -> None:
    with pytest.raises(CommandError) as err:
        quantity("\x1b[2J" + "9" * 10_000 + "x")
    assert "\x1b" not in err.value.message and len(err.value.message) < 200


def test_data_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.run(
        [PYTHON, "-m", "bot"],
        input="wait 6\nquit\n",
        capture_output=True,
        text=True,
        env=subprocess_env(data),
        cwd=ROOT,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("journal.db", "sim_exchange.db", "heartbeat"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31"])
def test_extreme_dates_are_refused_with_the_valid_range(raw: str) -> None:
    from datetime import date

    from bot.commands.layer import parse_day

    with pytest.raises(CommandError, match="between 2000-01-01 and 2099-12-31"):
        parse_day(raw, date(2026, 12, 1))


def test_binary_escapes_and_input_closed_mid_command(tmp_path: Path) -> None:
    """Bytes that are not UTF-8, NUL, terminal escapes and bidi overrides in commands, then the
    input ends in the middle of a line: every line is answered or refused, nothing raw is
    echoed, and the agent stops cleanly."""
    script = (
        b"/buy \x1b[2J\x1b]0;pwned\x07 1\n"
        b"/halt \xe2\x80\xae\x1b[31mred\x00 \xff\xfe\n"
        b"\xff\xfe\xfd\x00\x01\n"
        b"/subscribe 005930 watch k=\x1b[5m\n"
        b"/status"
    )  # no newline: the input closes mid-command
    proc = subprocess.run(
        [PYTHON, "-m", "bot"],
        input=script,
        capture_output=True,
        env=subprocess_env(tmp_path / "data"),
        cwd=ROOT,
        timeout=90,
    )
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "\x1b" not in out and "\x00" not in out and "\u202e" not in out
    assert "HALTED" in out  # the halt happened, its reason cleaned
    assert "PAPER on sim" in out  # the last, unterminated line was still run
    assert b"Traceback" not in proc.stderr
