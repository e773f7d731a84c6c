"""Found by the container check: a subscription started after the engine began stopping (auto
mode) kept `docker stop` waiting; charts were left readable by other users."""

from __future__ import annotations

import stat

import pytest

from engine.core import Engine
from engine.subscriptions import SubscriptionError


async def test_no_subscription_starts_once_the_engine_is_stopping(engine: Engine) -> None:
    await engine.ensure_instrument("005930")
    await engine.subscriptions.shutdown()
    with pytest.raises(SubscriptionError, match="stopping"):
        await engine.subscriptions.subscribe("005930", "watch", source="auto")
    assert engine.subscriptions.tasks == {}


async def test_charts_are_private(engine: Engine) -> None:
    report = await engine.daily_report(engine.clock.today())
    path = await engine.report_chart(report)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
