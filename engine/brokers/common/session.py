"""One HTTP session per adapter, on its pacer: every request waits its turn in the budget, and
a request that gets no usable answer is said in plain words (never with a URL's secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from engine.brokers.base import BrokerError, unreachable
from engine.brokers.common.pacing import Pacer, Priority


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class HttpSession:
    def __init__(self, venue: str, base_url: str, pacer: Pacer | None = None, timeout: float = 10.0) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer or Pacer(0)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def is_open(self) -> bool:
        return self._session is not None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        method: str,
        path: str,
        *,
        priority: Priority = Priority.QUERY,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request in its turn. A transport failure is raised as retryable: whether it is
        safe to resend is the caller's decision (an order may have reached the broker)."""
        if self._session is None:
            # Not connected (the broker was away at start-up): an error the engine and the
            # commands know how to report, not a crash.
            raise BrokerError("unreachable", f"not connected to {self.venue} yet", retryable=True)
        await self.pacer.wait(priority)
        try:
            async with self._session.request(
                method,
                self.base_url + path,
                headers=dict(headers) if headers else None,
                json=json,
                data=dict(data) if isinstance(data, Mapping) else data,
                params=dict(params) if params else None,
            ) as resp:
                return Reply(resp.status, dict(resp.headers), await resp.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise unreachable(self.venue, exc) from None
