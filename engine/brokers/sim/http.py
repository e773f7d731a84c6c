"""REST client for the sim exchange: JSON in and out, errors mapped to BrokerError."""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from engine.brokers.base import BrokerError, unreachable
from engine.sim import protocol as wire

T = TypeVar("T")


class SimHttp:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, into: type[T], body: Any = None,
                      params: dict[str, str] | None = None) -> T:
        if self._session is None:
            # Not connected (the exchange was away at start-up): a broker error the engine
            # and the commands know how to report, not a crash.
            raise BrokerError("unreachable", "not connected to the sim exchange yet", retryable=True)
        data = msgspec.json.encode(body) if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else None
        try:
            async with self._session.request(method, self.base_url + path, data=data,
                                             params=params, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may or may not have reached the exchange: retryable, and only safe to
            # retry because orders carry a client order id.
            raise unreachable("the sim exchange", exc) from None
        if status >= 500:
            raise BrokerError(f"http_{status}", f"sim exchange error {status}", retryable=True)
        if status >= 400:
            try:
                err = msgspec.json.decode(raw, type=wire.ErrorBody)
            except msgspec.DecodeError:
                raise BrokerError(f"http_{status}", raw[:200].decode(errors="replace")) from None
            raise BrokerError(err.code, err.message)
        try:
            return msgspec.json.decode(raw, type=into)
        except msgspec.DecodeError as exc:
            raise BrokerError("bad_response", f"unexpected answer from the sim: {exc}") from None
