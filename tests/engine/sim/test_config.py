from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.sim.config import SimConfig


def test_defaults() -> None:
    cfg = SimConfig()
    assert (cfg.seed, cfg.tick_rate, cfg.speed, cfg.initial_cash) == (7, 2.0, 1.0, 10_000_000)
    assert cfg.commission_rate == 0.00015 and cfg.heartbeat_interval == 5.0
    assert cfg.volatility_bp == 8.0 and cfg.condition_threshold_pct == 2.0
    assert cfg.symbols is None and cfg.state_path is None
    assert len(cfg.symbol_codes) == 30
    assert SimConfig(state_path="x.db").state_path == Path("x.db")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("tick_rate", 0, "tick_rate must be a number with 0 < tick_rate"),
        ("tick_rate", float("nan"), "tick_rate"),
        ("speed", -1, "speed must be a number with 0 < speed"),
        ("heartbeat_interval", 0, "heartbeat_interval"),
        ("volatility_bp", 0, "volatility_bp"),
        ("condition_threshold_pct", 40, "condition_threshold_pct"),
        ("riser_threshold_pct", 0, "riser_threshold_pct"),
        ("surge_ratio", 1.0, "surge_ratio must be > 1"),
        ("surge_s", float("inf"), "surge_s"),
        ("initial_cash", -5, "initial_cash must be >= 0"),
        ("initial_cash", 1.5, "whole number of KRW"),
        ("commission_rate", 0.5, "0 <= commission_rate < 0.01"),
        ("symbols", ("005930", "123456"), "unknown code(s) '123456'; valid codes are 005930"),
        ("symbols", (), "at least one code"),
        ("symbols", ("005930", "005930"), "must not repeat"),
        ("seed", "seven", "seed must be an integer"),
        ("max_backlog", 0, "max_backlog"),
    ],
)
def test_invalid_values_name_the_field_and_the_valid_range(field: str, value: Any, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        SimConfig(**{field: value})
    assert needle in str(info.value)
