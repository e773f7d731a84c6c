"""The container health check: the heartbeat is fresh, stale, missing or unreadable."""

from __future__ import annotations

from pathlib import Path

from bot.__main__ import _health
from engine.clock import Clock


def test_health_follows_the_heartbeat(tmp_path: Path) -> None:
    assert _health(tmp_path, 30.0) == 1  # no heartbeat yet
    beat = tmp_path / "heartbeat"
    beat.write_text(str(Clock().time()))
    assert _health(tmp_path, 30.0) == 0
    beat.write_text(str(Clock().time() - 60))
    assert _health(tmp_path, 30.0) == 1
    beat.write_text("")
    assert _health(tmp_path, 30.0) == 1
