"""The console over a piped stdin: the real `python -m bot` process on the embedded sim."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, ROOT, subprocess_env

SCRIPT = """\
/subscribe 005930 watch
/status
/buy 005930 2
wait 2
/positions
/subscribe 00593
/buy 005930 0
/buy 005930 -5
/buy 005930 1 97650
/subscribe 000660 nosuch
/buy 005930 200
/frobnicate
/cancel 005930
/subscriptions
"""


def test_console_commands_and_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = subprocess_env(
        data, SIM_TICK_RATE="20", RISK_MAX_ORDER_VALUE="1000000000", RISK_MAX_POSITION_VALUE="1000000000"
    )
    proc = subprocess.run(
        [PYTHON, "-m", "bot"], input=SCRIPT, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "[PAPER]" in out
    assert "subscribed 005930 삼성전자: watch" in out
    assert "subscriptions 1/40" in out
    assert "order sent: S" in out and "BUY 2 005930" in out
    assert "FILL   BUY" in out
    assert "005930 삼성전자" in out and "       2 @" in out  # the position line
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: '00593' is not a KRX code: expected 6 characters: 4 digits, a digit or letter "
        "(not I, O, U), a digit, e.g. 005930",
        "error: quantity must be between 1 and 1,000,000 shares, got 0",
        "error: quantity must be between 1 and 1,000,000 shares, got -5",
        "error: 005930 삼성전자: price 97,650 is off the tick grid (tick 100 KRW here): nearest "
        "valid prices are 97,600 and 97,700",
        "error: unknown strategy 'nosuch'; valid: breakout, exits, watch",
        errors[5],
        errors[6],
    ]
    assert errors[5].startswith("error: buying 200 005930 at ") and "KRW is available" in errors[5]
    assert "at most" in errors[5]
    assert errors[6].startswith("error: unknown command '/frobnicate'; valid: /subscribe")
    assert "cancelled 005930" in out
    assert "0 of 40 subscriptions" in out

    # Bad input changed nothing: one order in the journal, every command audited.
    db = sqlite3.connect(data / "journal.db")
    assert db.execute("SELECT count(*) FROM orders").fetchone() == (1,)
    audit = db.execute("SELECT command, ok FROM audit ORDER BY id").fetchall()
    assert [c for c, ok in audit if not ok] == [
        "subscribe",
        "buy",
        "buy",
        "buy",
        "subscribe",
        "buy",
        "frobnicate",
    ]
    assert sum(ok for _, ok in audit) == 6


def test_bad_config_stops_startup_naming_the_variable(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, SIM_TICK_RATE="fast", RISK_MAX_OPEN_POSITIONS="-1")
    proc = subprocess.run(
        [PYTHON, "-m", "bot"], input="", capture_output=True, text=True, env=env, cwd=ROOT, timeout=30
    )
    assert proc.returncode == 2
    assert (
        "SIM_TICK_RATE must be a number > 0.0 and <= 10000.0 trades/s per symbol; got 'fast'" in proc.stderr
    )
    assert (
        "RISK_MAX_OPEN_POSITIONS must be a whole number from 1 to 1,000 (digits 0-9); got '-1'" in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_market_and_report_on_the_console(tmp_path: Path) -> None:
    script = "/market 2026-06-03\n/market 2026-01-02\n/market 2025-11-13\n/report\n/schedule\n"
    proc = subprocess.run(
        [PYTHON, "-m", "bot"],
        input=script,
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path),
        cwd=ROOT,
        timeout=60,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "Wed 2026-06-03: closed (holiday: Local Election Day)" in out
    assert "Fri 2026-01-02: open 10:00-15:30 KST (first trading day of the year" in out
    assert "Thu 2025-11-13: open 10:00-16:30 KST (college entrance exam day)" in out
    chart = next(line.split("chart: ", 1)[1] for line in out.splitlines() if "chart: " in line)
    assert Path(chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "nothing scheduled" in out  # TRADING_HOURS=always in tests
