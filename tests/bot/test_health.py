"""The container health check reads the heartbeat file's age from its kernel timestamp."""

from __future__ import annotations

import os
from pathlib import Path

from bot.__main__ import _health
from engine.clock import Clock


def test_health_follows_the_heartbeat_files_age(tmp_path: Path) -> None:
    assert _health(tmp_path, 30.0) == 1  # no heartbeat yet
    beat = tmp_path / "heartbeat"
    beat.write_text("")  # even an empty (half-written) file is judged by its age
    assert _health(tmp_path, 30.0) == 0
    old = Clock().time() - 60
    os.utime(beat, (old, old))
    assert _health(tmp_path, 30.0) == 1
