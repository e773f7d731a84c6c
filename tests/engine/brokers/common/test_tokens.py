"""The token cache: reused across restarts while valid, private on disk, one per key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine.brokers.base import BrokerError
from engine.brokers.common.tokens import TokenCache
from engine.clock import Clock


class Issuer:
    def __init__(self, clock: Clock, life: float = 3600.0) -> None:
        self.clock = clock
        self.life = life
        self.issued = 0
        self.refuse: str | None = None

    async def __call__(self) -> tuple[str, float]:
        if self.refuse:
            raise BrokerError(self.refuse, "refused")
        self.issued += 1
        return f"token-{self.issued}", self.clock.time() + self.life


async def test_reused_across_restarts_while_valid_and_private(tmp_path: Path) -> None:
    clock = Clock()
    issue = Issuer(clock)
    path = tmp_path / "broker" / "token.json"
    assert await TokenCache(path, "paper:key", clock, issue).get() == "token-1"
    assert await TokenCache(path, "paper:key", clock, issue).get() == "token-1"  # a restart
    assert issue.issued == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "key" not in path.read_text()  # a fingerprint, never the key
    # Another key (or environment) never gets this key's token.
    assert await TokenCache(path, "real:key", clock, issue).get() == "token-2"


async def test_expired_or_rejected_tokens_are_renewed(tmp_path: Path) -> None:
    clock = Clock()
    issue = Issuer(clock, life=30.0)  # inside the renewal margin at once
    cache = TokenCache(tmp_path / "t.json", "k", clock, issue)
    assert await cache.get() == "token-1"
    assert await TokenCache(tmp_path / "t.json", "k", clock, issue).get() == "token-2"
    cache.reject()
    assert await cache.get() == "token-3"


async def test_too_soon_refusal_records_the_attempt(tmp_path: Path) -> None:
    clock = Clock()
    issue = Issuer(clock)
    issue.refuse = "EGW00133"
    cache = TokenCache(tmp_path / "t.json", "k", clock, issue, min_interval=3600.0, too_soon={"EGW00133"})
    with pytest.raises(BrokerError):
        await cache.get()
    assert "issued_at" in (tmp_path / "t.json").read_text()


async def test_forget_drops_the_token_everywhere(tmp_path: Path) -> None:
    clock = Clock()
    issue = Issuer(clock)
    cache = TokenCache(tmp_path / "t.json", "k", clock, issue)
    await cache.get()
    assert await cache.forget() == "token-1"
    assert await TokenCache(tmp_path / "t.json", "k", clock, issue).get() == "token-2"
