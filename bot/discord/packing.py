"""Turning a channel's backlog into as few messages as Discord allows, losing nothing.

Pure: items in, messages out. A message holds at most 10 embeds and 6,000 characters. Fills go
first. Under a backlog, items of one kind are folded into digest embeds of one line each, so a
burst of 1,000 fills becomes a handful of messages; signals that waited too long are summarised
(they are stale as advice, but each still shows as a line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_EMBEDS = 10
MAX_CHARS = 6_000
MAX_DESCRIPTION = 4_096
# Two digests fill a message: each stays under half of the 6,000 characters, with its title.
DIGEST_CHARS = 2_900
# Up to this many items pending, each gets its own embed; above it, digests.
SINGLE_LIMIT = 10
KIND_ORDER = {"alert": 0, "fill": 1, "order": 2, "info": 3, "signal": 4}


@dataclass(slots=True)
class OutItem:
    id: int  # outbox row id
    kind: str  # alert | fill | order | info | signal
    created_ns: int
    embed: dict[str, Any]
    line: str
    mention: bool = False
    file: str | None = None  # an attachment (a chart); such an item travels alone


@dataclass(slots=True)
class Message:
    embeds: list[dict[str, Any]] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)
    mention: bool = False
    chars: int = 0
    file: str | None = None


def embed_chars(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6,000 limit."""
    n = len(embed.get("title", "")) + len(embed.get("description", ""))
    n += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    n += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields", []))
    return n


Block = tuple[dict[str, Any], list[int]]


def _digests(kind: str, items: list[OutItem], colour: int, stale: bool) -> list[Block]:
    """One-line-per-item embeds, each description within Discord's limit."""
    label = {
        "fill": "Fills",
        "signal": "Signals",
        "alert": "Alerts",
        "order": "Orders",
        "info": "Updates",
    }.get(kind, kind)
    if stale:
        label = f"{label} that waited (stale)"
    out: list[Block] = []
    lines: list[str] = []
    ids: list[int] = []
    size = 0

    def close() -> None:
        if ids:
            out.append(
                (
                    {"title": f"{label} ({len(ids)})", "color": colour, "description": "\n".join(lines)},
                    list(ids),
                )
            )

    for item in items:
        line = item.line[:300]
        if size + len(line) + 1 > DIGEST_CHARS:
            close()
            lines, ids, size = [], [], 0
        lines.append(line)
        ids.append(item.id)
        size += len(line) + 1
    close()
    return out


def pack(items: list[OutItem], now_ns: int, stale_after_ns: int) -> list[Message]:
    """Messages for every item, in the order they should be sent."""
    with_files = [
        Message([i.embed], [i.id], i.mention, embed_chars(i.embed), i.file)
        for i in sorted(items, key=lambda i: i.id)
        if i.file
    ]
    ordered = sorted((i for i in items if not i.file), key=lambda i: (KIND_ORDER.get(i.kind, 5), i.id))
    blocks: list[tuple[dict[str, Any], list[int], bool]] = []
    if len(ordered) <= SINGLE_LIMIT:
        for item in ordered:
            stale = item.kind == "signal" and now_ns - item.created_ns > stale_after_ns
            if stale:
                blocks += [(e, ids, False) for e, ids in _digests("signal", [item], 0x868E96, True)]
            else:
                blocks.append((item.embed, [item.id], item.mention))
    else:
        kinds: dict[tuple[str, bool], list[OutItem]] = {}
        for item in ordered:
            stale = item.kind == "signal" and now_ns - item.created_ns > stale_after_ns
            kinds.setdefault((item.kind, stale), []).append(item)
        for (kind, stale), group in kinds.items():
            colour = group[0].embed.get("color", 0x868E96)
            mention = any(i.mention for i in group)
            blocks += [(e, ids, mention) for e, ids in _digests(kind, group, colour, stale)]

    messages: list[Message] = []
    current = Message()
    for embed, ids, mention in blocks:
        size = embed_chars(embed)
        if current.embeds and (len(current.embeds) >= MAX_EMBEDS or current.chars + size > MAX_CHARS):
            messages.append(current)
            current = Message()
        current.embeds.append(embed)
        current.item_ids.extend(ids)
        current.chars += size
        current.mention = current.mention or mention
    if current.embeds:
        messages.append(current)
    return messages + with_files
