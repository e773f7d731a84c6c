"""The reconnecting stream over the `websockets` client, for brokers whose socket carries JSON
or text frames at modest rates (KIS, Kiwoom, LS; the sim's fast feed has its own transport)."""

from __future__ import annotations

from abc import abstractmethod

import websockets
from websockets.asyncio.client import ClientConnection

from engine.brokers.common.stream import ReconnectingStream


class WebsocketStream(ReconnectingStream):
    _ws: ClientConnection | None = None

    async def send(self, text: str) -> bool:
        """Send now if connected; False when not (registrations replay on the next one, and a
        removal has nothing left to remove)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(text)
        except websockets.ConnectionClosed:
            return False
        return True

    async def _serve(self, ws: ClientConnection) -> None:
        """Registrations are sent: the connection counts from here until `_pump` returns."""
        self._ws = ws
        try:
            self.opened()
            await self._pump(ws)
        finally:
            self._ws = None

    @abstractmethod
    async def _pump(self, ws: ClientConnection) -> None:
        """Read frames (calling `heard()`) until the connection ends."""
