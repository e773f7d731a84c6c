"""Engine events to Discord channels, without ever holding up the engine and without losing one.

The engine's bus feeds a router task, which turns each event into an item, keeps it in the
journal's outbox, and hands it to that channel's publisher. Each channel publisher sends packed
messages one at a time; while Discord makes it wait (rate limits, an outage) new items pile up
and are packed into the next message. An item leaves the outbox only after Discord accepted the
message that carries it, so an outage or a restart delays messages but loses none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.discord.embeds import event_embed
from bot.discord.packing import OutItem, pack
from engine import events as ev
from engine.journal import Journal
from engine.tasks import TaskGroup

log = logging.getLogger(__name__)

# Sends one message: (channel id, embeds, mention the alert role?, attachment path) -> None;
# raises on failure.
Sender = Callable[[int, list[dict[str, Any]], bool, str | None], Awaitable[None]]

ROUTE_CHUNK = 100
MENTION_KINDS = {
    ev.AlertKind.HALT,
    ev.AlertKind.LOSS_LIMIT,
    ev.AlertKind.DISCONNECT,
    ev.AlertKind.ERROR,
    ev.AlertKind.TASK_CRASH,
}


def route(event: ev.Event) -> tuple[str, str, bool] | None:
    """(channel, kind, mention) for an event, or None when it is not posted."""
    if isinstance(event, ev.FillEvent):
        return "fills", "fill", False
    if isinstance(event, ev.OrderRejected | ev.OrderCancelled):
        return "fills", "order", False
    if isinstance(event, ev.SignalEvent):
        return "signals", "signal", False
    if isinstance(event, ev.AlertEvent):
        return "alerts", "alert", event.kind in MENTION_KINDS
    if isinstance(event, ev.HaltChanged | ev.ConnectionChanged):
        return "alerts", "info", False
    if isinstance(event, ev.SubscriptionChanged | ev.AutoModeChanged):
        return "signals", "info", False
    if isinstance(event, ev.ReportEvent):
        return "fills", "info", False
    return None  # order acks: the fill says more, and sooner


class ChannelPublisher:
    def __init__(
        self,
        name: str,
        channel_id: int,
        journal: Journal,
        send: Sender,
        ready: asyncio.Event,
        window: float = 0.5,
        stale_after: float = 60.0,
    ) -> None:
        self.name = name
        self.channel_id = channel_id
        self.journal = journal
        self._send = send
        self._ready = ready
        self.window = window
        self.stale_after_ns = int(stale_after * 1e9)
        self.pending: dict[int, OutItem] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent_messages = 0
        self.sent_items = 0
        self.failures = 0

    def add(self, item: OutItem) -> None:
        self.pending[item.id] = item
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        backoff = 1.0
        while True:
            await self._wake.wait()
            await self._ready.wait()
            self._wake.clear()
            while self.pending:
                messages = pack(list(self.pending.values()), time.time_ns(), self.stale_after_ns)
                message = messages[0]
                try:
                    await self._send(self.channel_id, message.embeds, message.mention, message.file)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Discord down or refusing: keep it, try again later
                    self.failures += 1
                    log.warning(
                        "discord %s channel: send failed (%s); retrying in %.0fs",
                        self.name,
                        type(exc).__name__,
                        backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 60.0)
                    await self._ready.wait()
                    continue
                backoff = 1.0
                for item_id in message.item_ids:
                    self.pending.pop(item_id, None)
                self.sent_messages += 1
                self.sent_items += len(message.item_ids)
                await self.journal.outbox_sent(message.item_ids)
                if not self.pending:
                    self._idle.set()
                # A short window lets a burst gather into the next message.
                await asyncio.sleep(self.window)

    async def flush(self, timeout: float) -> bool:
        """Wait until everything pending is sent (at shutdown); False if time ran out (the rest
        stays in the outbox for the next start)."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class Publisher:
    def __init__(
        self,
        bus: ev.EventBus,
        journal: Journal,
        channels: dict[str, int],
        send: Sender,
        ready: asyncio.Event,
        window: float = 0.5,
    ) -> None:
        self.journal = journal
        # Alerts raised before Discord attached (the start-up reconciliation's above all) go
        # through the outbox like any other: once per run, since this bus lives for one run and
        # this is the run's only publisher.
        self.events = bus.subscribe(replay_alerts=True)
        self.bus = bus
        self.channels = {
            name: ChannelPublisher(name, cid, journal, send, ready, window) for name, cid in channels.items()
        }
        self._tasks = TaskGroup("publisher")

    async def start(self) -> None:
        for item_id, channel, payload, created_ns in await self.journal.outbox_pending():
            publisher = self.channels.get(channel)
            if publisher is not None:
                publisher.add(
                    OutItem(
                        item_id,
                        payload["kind"],
                        created_ns,
                        payload["embed"],
                        payload["line"],
                        payload.get("mention", False),
                        payload.get("file"),
                    )
                )
        for publisher in self.channels.values():
            self._tasks.spawn(publisher.run(), publisher.name)
        self._tasks.spawn(self._route(), "router")

    async def _route(self) -> None:
        while True:
            batch = [await self.events.get()]
            await self._route_batch(batch)

    def _drain(self) -> list[ev.Event]:
        batch = []
        while not self.events.empty():
            batch.append(self.events.get_nowait())
        return batch

    async def _route_batch(self, batch: list[ev.Event]) -> None:
        batch += self._drain()  # one outbox transaction per chunk, not per event
        for start in range(0, len(batch), ROUTE_CHUNK):
            await self._route_chunk(batch[start : start + ROUTE_CHUNK])
            await asyncio.sleep(0)  # a burst of events must not hold the loop for its length

    async def _route_chunk(self, batch: list[ev.Event]) -> None:
        per_channel: dict[str, list[dict[str, Any]]] = {}
        for event in batch:
            target = route(event)
            rendered = event_embed(event) if target else None
            if target is None or rendered is None:
                continue
            channel, kind, mention = target
            embed, line = rendered
            per_channel.setdefault(channel, []).append(
                {
                    "kind": kind,
                    "embed": embed,
                    "line": line,
                    "mention": mention,
                    "ts": event.ts_ns,
                    "file": getattr(event, "chart_path", None),
                }
            )
        for channel, payloads in per_channel.items():
            publisher = self.channels.get(channel)
            if publisher is None:
                continue
            ids = await self.journal.outbox_add(channel, payloads)
            for item_id, p in zip(ids, payloads, strict=True):
                publisher.add(
                    OutItem(item_id, p["kind"], p["ts"], p["embed"], p["line"], p["mention"], p["file"])
                )

    def pending(self) -> int:
        return sum(len(p.pending) for p in self.channels.values()) + self.events.qsize()

    async def close(self, flush_timeout: float = 5.0) -> None:
        """Deliver what can be delivered in time; the rest waits in the outbox."""
        deadline = time.monotonic() + flush_timeout
        await self._route_batch([])  # events the router has not taken yet
        for publisher in self.channels.values():
            await publisher.flush(max(deadline - time.monotonic(), 0.0))
        await self._tasks.close()
        self.bus.unsubscribe(self.events)
