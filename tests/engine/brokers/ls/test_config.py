"""LS settings: defaults, LIVE_TRADING for real money, every problem named, secrets hidden."""

from __future__ import annotations

import pytest

from engine.brokers.ls.config import LsConfig, from_env
from engine.config import EngineConfig
from engine.envparse import ConfigError

KEY, SECRET = "k" * 36, "s" * 36
BASE = {"LS_APP_KEY": KEY, "LS_APP_SECRET": SECRET}


def test_paper_by_default_on_the_official_hosts() -> None:
    config = from_env(BASE)
    assert config.paper and config.env == "paper"
    assert config.rest_url == "https://openapi.ls-sec.co.kr:8080"
    assert config.ws_url == "wss://openapi.ls-sec.co.kr:29443/websocket"
    assert config.secrets == (KEY, SECRET) and config.paced
    assert KEY not in repr(config) and SECRET not in repr(config)


def test_real_needs_live_trading() -> None:
    with pytest.raises(ConfigError, match="LS_ENV=real trades real money: set LIVE_TRADING=yes"):
        from_env(BASE | {"LS_ENV": "real"})
    config = from_env(BASE | {"LS_ENV": "real", "LIVE_TRADING": "yes"})
    assert not config.paper and config.ws_url == "wss://openapi.ls-sec.co.kr:9443/websocket"


def test_the_websocket_path_is_configurable() -> None:
    url = "wss://openapi.ls-sec.co.kr:9443/websocket/stock"
    assert from_env(BASE | {"LS_WS_URL": url}).ws_url == url


def test_every_problem_is_named_and_no_secret_shown() -> None:
    pasted = "x" * 40
    with pytest.raises(ConfigError) as caught:
        from_env(
            {
                "LS_ENV": "demo",
                "LS_APP_KEY": "tooSmallKey9",
                "LS_APP_SECRET": "a b" * 10,
                "LS_USER_ID": pasted,
                "LS_REST_URL": "ftp://x",
                "LS_WS_URL": "http://x",
            }
        )
    text = str(caught.value)
    for name in ("LS_ENV", "LS_APP_KEY", "LS_APP_SECRET", "LS_USER_ID", "LS_REST_URL", "LS_WS_URL"):
        assert name in text, name
    assert "tooSmallKey9" not in text and pasted not in text


def test_broker_ls_is_selected_through_the_registry() -> None:
    config = EngineConfig.from_env(BASE | {"BROKER": "ls", "LS_USER_ID": "testID"})
    assert isinstance(config.broker_settings, LsConfig)
    assert config.paper and config.secrets == (KEY, SECRET)
    assert config.broker_settings.user_id == "testID"
