"""BROKER picks an adapter; the engine names none, and loads only the one chosen."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from engine.brokers import registry
from engine.brokers.kis.config import KisConfig
from engine.brokers.sim.config import SimSettings
from engine.config import EngineConfig
from engine.envparse import ConfigError

ENGINE = Path(__file__).resolve().parents[3] / "engine"
# The venue itself, and the tools that drive a venue on purpose (benchmarks, chaos runs).
OUTSIDE = ("brokers", "sim", "bench", "chaos")
ADAPTER_MODULES = ("engine.sim", *(f"engine.brokers.{n}" for n in registry.names()))


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_engine_imports_no_adapter() -> None:
    offenders = {}
    for path in ENGINE.rglob("*.py"):
        if path.relative_to(ENGINE).parts[0] in OUTSIDE:
            continue
        named = {m for m in imports(path) if m.startswith(ADAPTER_MODULES)}
        if named:
            offenders[str(path.relative_to(ENGINE))] = sorted(named)
    assert offenders == {}


def test_each_adapter_reads_its_own_settings() -> None:
    sim = EngineConfig.from_env({"SIM_SEED": "9", "MAX_SUBSCRIPTIONS": "7"})
    assert isinstance(sim.broker_settings, SimSettings)
    assert (sim.broker_settings.seed, sim.broker_settings.max_subscriptions) == (9, 7)
    kis = EngineConfig.from_env(
        {
            "BROKER": "kis",
            "KIS_APP_KEY": "k" * 36,
            "KIS_APP_SECRET": "s" * 180,
            "KIS_ACCOUNT": "12345678-01",
            "KIS_HTS_ID": "me",
            "KIS_CONDITION_POLL_SECONDS": "5",
        }
    )
    assert isinstance(kis.broker_settings, KisConfig)
    assert kis.paper and kis.broker_settings.condition_poll_seconds == 5.0
    assert kis.secrets == ("k" * 36, "s" * 180)


def test_every_problem_is_said_in_one_pass() -> None:
    with pytest.raises(ConfigError) as bad:
        EngineConfig.from_env({"BROKER": "kis", "RISK_MAX_OPEN_POSITIONS": "-1", "KIS_ACCOUNT": "nope"})
    text = str(bad.value)
    assert "RISK_MAX_OPEN_POSITIONS" in text and "KIS_ACCOUNT" in text and "KIS_APP_KEY" in text
    with pytest.raises(ConfigError, match=r"BROKER must be one of.*sim.*kis"):
        EngineConfig.from_env({"BROKER": "nope"})


def test_a_real_broker_run_never_loads_the_simulated_exchange() -> None:
    code = (
        "import sys; from engine.core import Engine; import bot.app; "
        "from engine.brokers.kis.client import KisBroker; "
        "print(sorted(m for m in sys.modules if m.startswith('engine.sim')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
