"""KIS settings: real money needs an explicit yes; secrets never appear in errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.brokers.kis.config import KisConfig
from engine.envparse import ConfigError
from tests.conftest import PYTHON, ROOT, subprocess_env

KEY = "PSabcdefghijklmnopqrstuvwxyz0123456789"
SECRET = "s3cr3t" * 30
GOOD = {
    "KIS_ENV": "paper",
    "KIS_APP_KEY": KEY,
    "KIS_APP_SECRET": SECRET,
    "KIS_ACCOUNT": "12345678-01",
    "KIS_HTS_ID": "trader1",
}


def test_paper_defaults_and_urls() -> None:
    cfg = KisConfig.from_env(GOOD)
    assert cfg.paper and cfg.rest_url.endswith(":29443") and cfg.ws_url.endswith(":31000")
    assert cfg.requests_per_second == 2.0
    assert KEY not in repr(cfg) and SECRET not in repr(cfg)


def test_bad_values_are_named_without_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        KisConfig.from_env(dict(GOOD, KIS_ACCOUNT="1234567801", KIS_APP_SECRET="short", KIS_HTS_ID=""))
    text = str(info.value)
    assert "KIS_ACCOUNT must be 8 digits, a dash and 2 digits" in text and "'1234567801'" in text
    assert "KIS_APP_SECRET is missing, too short or not plain text (hidden)" in text
    assert "'short'" not in text
    assert "KIS_HTS_ID is missing" in text


def test_real_money_needs_live_trading_yes(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, BROKER="kis", **dict(GOOD, KIS_ENV="real"))
    proc = subprocess.run(
        [PYTHON, "-m", "bot"], input="", capture_output=True, text=True, env=env, cwd=ROOT, timeout=30
    )
    assert proc.returncode == 2
    assert "KIS_ENV=real trades real money: set LIVE_TRADING=yes" in proc.stderr
    assert KEY not in proc.stderr and SECRET not in proc.stderr and "Traceback" not in proc.stderr
    assert KisConfig.from_env(dict(GOOD, KIS_ENV="real", LIVE_TRADING="yes")).env == "real"
