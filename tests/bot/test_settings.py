"""Every setting in .env.example, set to garbage: exit 2 naming the variable, never a traceback,
and never the garbage echoed raw (a secret pasted into the wrong variable, an escape sequence)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import bot.__main__ as entry
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
NAMES = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)

ESCAPE = "\x1b[31mred\x1b[0m"
LONG = "x" * 5000
GARBAGE = (ESCAPE, "²", LONG, "1_0", "-1", "nan", "9" * 25, "yes please")

# Values from GARBAGE that are legitimately valid for a variable (a name, an id, a path).
VALID_ANYWAY: dict[str, set[str]] = {
    "AUTO_CONDITION": {"²", "1_0", "-1", "nan", "9" * 25, "yes please"},
    "KIS_HTS_ID": {"1_0", "-1", "nan"},
    "DISCORD_TOKEN": {"9" * 25},
    "KIS_APP_KEY": {"9" * 25},
    "KIS_APP_SECRET": {"9" * 25},
    "KIWOOM_APP_KEY": {"9" * 25},
    "KIWOOM_SECRET_KEY": {"9" * 25},
    "LS_APP_KEY": {"9" * 25},
    "LS_APP_SECRET": {"9" * 25},
    "LS_USER_ID": {"1_0", "-1", "nan"},
}

KIS = {
    "BROKER": "kis",
    "KIS_ENV": "paper",
    "KIS_APP_KEY": "k" * 36,
    "KIS_APP_SECRET": "s" * 180,
    "KIS_ACCOUNT": "12345678-01",
    "KIS_HTS_ID": "trader1",
}
KIWOOM = {
    "BROKER": "kiwoom",
    "KIWOOM_ENV": "paper",
    "KIWOOM_APP_KEY": "k" * 36,
    "KIWOOM_SECRET_KEY": "s" * 44,
}
LS = {"BROKER": "ls", "LS_ENV": "paper", "LS_APP_KEY": "k" * 36, "LS_APP_SECRET": "s" * 36}
DISCORD = {
    "DISCORD_TOKEN": "t" * 70,
    "DISCORD_GUILD_ID": "9001",
    "DISCORD_SIGNALS_CHANNEL_ID": "11",
    "DISCORD_FILLS_CHANNEL_ID": "12",
    "DISCORD_ALERTS_CHANNEL_ID": "13",
    "DISCORD_DASHBOARD_CHANNEL_ID": "14",
    "DISCORD_TRADER_ROLE_IDS": "21",
    "DISCORD_ADMIN_USER_IDS": "31",
}


def baseline(name: str, data: Path) -> dict[str, str]:
    """Valid settings in which `name` is read: KIS's only with BROKER=kis, Kiwoom's only with
    BROKER=kiwoom, Discord's only with a token."""
    env = {"DATA_DIR": str(data)}
    if name.startswith("KIS_") or name == "LIVE_TRADING":
        env |= KIS
    if name.startswith("KIWOOM_"):
        env |= KIWOOM
    if name.startswith("LS_"):
        env |= LS
    if name.startswith("DISCORD_"):
        env |= DISCORD
    return env


def check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, env: dict[str, str]
) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in {*NAMES, *KIS, *KIWOOM, *LS, *DISCORD, "DATA_DIR", "LOG_LEVEL"}:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = entry.main(["config"])
    return code, capsys.readouterr().err


def test_env_example_lists_the_settings() -> None:
    assert len(NAMES) >= 40 and "DATA_DIR" in NAMES and "LOG_LEVEL" in NAMES


@pytest.mark.parametrize("name", [n for n in NAMES if n != "DATA_DIR"])
def test_garbage_in_each_setting_is_refused_by_name(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = check(monkeypatch, capsys, tmp_path, baseline(name, tmp_path / "data"))
    assert code == 0, err  # the baseline is valid: each refusal below is the garbage's doing
    for value in GARBAGE:
        if value in VALID_ANYWAY.get(name, ()):
            continue
        code, err = check(monkeypatch, capsys, tmp_path, baseline(name, tmp_path / "data") | {name: value})
        assert code == 2, (name, value, err)
        assert name in err and "Traceback" not in err, (name, value, err)
        assert "\x1b" not in err and LONG[:100] not in err and "9" * 25 not in err, (name, err)


def test_data_dir_that_is_a_file_or_under_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    for where, expected in (
        (a_file, "is a file, not a directory"),
        (a_file / "data", "is not a directory"),
        (tmp_path / LONG[:300], "cannot be used"),
    ):
        code, err = check(monkeypatch, capsys, tmp_path, {"DATA_DIR": str(where)})
        assert code == 2 and "DATA_DIR" in err and expected in err, err


def test_unwritable_data_dir_is_a_clear_error_at_start(tmp_path: Path) -> None:
    """As a container user meets a root-owned bind mount, the agent itself exits 2. /sys refuses
    a new directory to every user, root included (the suite may run as root, which permission
    bits do not stop)."""
    env = subprocess_env(tmp_path, DATA_DIR="/sys/tradecord-data")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--headless"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "DATA_DIR /sys/tradecord-data is not writable" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "setting",
    ["DEFAULT_STRATEGY=garbage", "STRATEGY_PARAMS=k=99", "DISCORD_GUILD_ID=9²", "SIM_CASH=" + "9" * 25],
)
def test_the_agent_itself_exits_2_on_garbage(setting: str, tmp_path: Path) -> None:
    name, _, value = setting.partition("=")
    env = subprocess_env(tmp_path, **(DISCORD if name.startswith("DISCORD") else {}))
    env[name] = value
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--headless"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and name in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
