"""Kiwoom settings: the official hosts and budgets per environment, real money only with an
explicit yes, and secrets never in a message."""

from __future__ import annotations

import pytest

from engine.brokers.kiwoom.config import KiwoomConfig
from engine.config import EngineConfig
from engine.envparse import ConfigError

KEY = "PSabcdefghijklmnopqrstuvwxyz0123456789"
SECRET = "s3cr3t" * 8
GOOD = {"KIWOOM_ENV": "paper", "KIWOOM_APP_KEY": KEY, "KIWOOM_SECRET_KEY": SECRET}


def test_paper_defaults() -> None:
    cfg = KiwoomConfig.from_env(GOOD)
    assert cfg.paper and cfg.rest_url == "https://mockapi.kiwoom.com"
    assert cfg.ws_url == "wss://mockapi.kiwoom.com:10000/api/dostk/websocket"
    assert (cfg.orders_per_second, cfg.queries_per_second) == (5.0, 1.0)
    assert KEY not in repr(cfg) and SECRET not in repr(cfg)
    assert cfg.secrets == (KEY, SECRET)


def test_real_hosts_budgets_and_overrides() -> None:
    cfg = KiwoomConfig.from_env(dict(GOOD, KIWOOM_ENV="REAL", LIVE_TRADING="yes"))
    assert (cfg.env, cfg.paper, cfg.rest_url) == ("real", False, "https://api.kiwoom.com")
    assert cfg.ws_url == "wss://api.kiwoom.com:10000/api/dostk/websocket"
    assert (cfg.orders_per_second, cfg.queries_per_second) == (5.0, 5.0)
    moved = KiwoomConfig.from_env(
        dict(
            GOOD,
            KIWOOM_REST_URL="http://127.0.0.1:9/",
            KIWOOM_WS_URL="ws://127.0.0.1:9/api/dostk/websocket",
            KIWOOM_QUERIES_PER_SECOND="0.5",
        )
    )
    assert (moved.rest_url, moved.ws_url) == ("http://127.0.0.1:9", "ws://127.0.0.1:9/api/dostk/websocket")
    assert moved.queries_per_second == 0.5


def test_bad_values_are_named_without_secrets() -> None:
    with pytest.raises(ConfigError) as info:
        KiwoomConfig.from_env(
            dict(
                GOOD,
                KIWOOM_ENV="mock",
                KIWOOM_SECRET_KEY="short",
                KIWOOM_APP_KEY=KEY + " " + SECRET,
                KIWOOM_ORDERS_PER_SECOND="0",
            )
        )
    text = str(info.value)
    assert "KIWOOM_ENV must be paper or real; got 'mock'" in text
    assert "KIWOOM_SECRET_KEY is missing, too short or not plain text (hidden)" in text
    assert "KIWOOM_APP_KEY is missing, too short or not plain text (hidden)" in text
    assert "KIWOOM_ORDERS_PER_SECOND must be" in text
    assert "short" not in text.replace("too short", "") and SECRET not in text and KEY not in text


def test_real_money_needs_live_trading_yes() -> None:
    with pytest.raises(ConfigError) as info:
        KiwoomConfig.from_env(dict(GOOD, KIWOOM_ENV="real"))
    assert "KIWOOM_ENV=real trades real money: set LIVE_TRADING=yes" in str(info.value)


def test_broker_kiwoom_reads_these_settings() -> None:
    config = EngineConfig.from_env({"BROKER": "kiwoom", **GOOD})
    assert isinstance(config.broker_settings, KiwoomConfig)
    assert config.paper and config.secrets == (KEY, SECRET)
