"""An access token kept on disk (owner-only) with its expiry, reused across restarts while it
has time left, so a restart does not spend one of the broker's few issuances."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

from engine.brokers.base import BrokerError
from engine.clock import Clock
from engine.files import private_dir, write_private

log = logging.getLogger(__name__)

# A token with less than this left is renewed before use rather than refused mid-request.
MARGIN_S = 60.0

Issue = Callable[[], Awaitable[tuple[str, float]]]  # (token, expiry as epoch seconds)


class TokenCache:
    def __init__(
        self,
        path: Path,
        identity: str,
        clock: Clock,
        issue: Issue,
        *,
        min_interval: float = 0.0,
        too_soon: Collection[str] = (),
    ) -> None:
        self.path = path
        self.clock = clock
        self._issue = issue
        self.min_interval = min_interval
        self._too_soon = frozenset(too_soon)
        # Which token belongs to which key, without writing the key itself anywhere.
        self._fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self._token: str | None = None
        self._rejected: str | None = None
        self._lock = asyncio.Lock()
        self.issued = 0

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if data.get("fingerprint") == self._fingerprint else {}

    def _save(self, data: dict[str, Any]) -> None:
        private_dir(self.path.parent)
        write_private(self.path, json.dumps({**data, "fingerprint": self._fingerprint}))

    @property
    def current(self) -> str | None:
        return self._token

    async def get(self) -> str:
        """The token in use, else the cached one while valid, else a new one (never more often
        than `min_interval` allows, counting issuances by earlier runs)."""
        async with self._lock:
            if self._token is not None:
                return self._token
            cached = await asyncio.to_thread(self._load)
            token = cached.get("token")
            if (
                token
                and token != self._rejected
                and cached.get("expires_at", 0) > self.clock.time() + MARGIN_S
            ):
                self._token = str(token)
                return self._token
            wait = cached.get("issued_at", 0) + self.min_interval - self.clock.time()
            if wait > 0:
                log.info(
                    "token issued %.0fs ago; waiting %.0fs before the next", self.min_interval - wait, wait
                )
                await asyncio.sleep(wait)
            try:
                token, expires_at = await self._issue()
            except BrokerError as exc:
                if exc.code in self._too_soon:
                    await asyncio.to_thread(self._save, {"issued_at": self.clock.time()})
                raise
            self.issued += 1
            self._token = token
            await asyncio.to_thread(
                self._save, {"token": token, "expires_at": expires_at, "issued_at": self.clock.time()}
            )
            return token

    def reject(self) -> None:
        """The broker refused the token: never use it again, but keep its issue time on disk so
        the next issuance still respects the minimum interval."""
        self._rejected, self._token = self._token, None

    async def forget(self) -> str | None:
        """Drop the token here and on disk (after revoking it); returns the one dropped."""
        async with self._lock:
            cached = await asyncio.to_thread(self._load)
            token = self._token or cached.get("token")
            self._token = None
            await asyncio.to_thread(self._save, {"issued_at": cached.get("issued_at", 0)})
            return str(token) if token else None
