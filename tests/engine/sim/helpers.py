"""A small typed websocket client for the sim tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp

from engine.sim.protocol import Heartbeat, ServerMessage, Ticks, server_message_decoder

T = TypeVar("T")


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"websocket closed: {code} {reason}")
        self.code = code
        self.reason = reason


class WsClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def recv(self, timeout: float = 2.0) -> ServerMessage:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type is aiohttp.WSMsgType.CLOSE:
            raise Closed(int(msg.data), str(msg.extra or ""))
        if msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise Closed(self.ws.close_code, "")
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        decoded: ServerMessage = server_message_decoder.decode(msg.data)
        return decoded

    async def recv_kind(
        self,
        kind: type[T],
        timeout: float = 2.0,
        where: Callable[[T], bool] | None = None,
        skip: tuple[type, ...] = (Ticks, Heartbeat),
    ) -> T:
        """The next message of `kind` (matching `where`), skipping feed noise in `skip`;
        any other message on the way is a test failure."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind.__name__} within {timeout} s")
            msg = await self.recv(left)
            if isinstance(msg, kind) and (where is None or where(msg)):
                return msg
            if not isinstance(msg, skip) and not isinstance(msg, kind):
                raise AssertionError(f"unexpected {msg!r} while waiting for {kind.__name__}")


async def connect(session: aiohttp.ClientSession, url: str) -> WsClient:
    return WsClient(await session.ws_connect(url))


async def wait_for(check: Callable[[], Any], timeout: float = 2.0, interval: float = 0.01) -> Any:
    """Poll an async or sync predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
