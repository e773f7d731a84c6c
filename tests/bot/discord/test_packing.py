from __future__ import annotations

import time

from bot.discord.embeds import event_embed
from bot.discord.packing import MAX_CHARS, MAX_EMBEDS, OutItem, embed_chars, pack
from engine import events as ev

NOW = time.time_ns()


def fill_item(i: int) -> OutItem:
    event = ev.FillEvent(
        f"TC{i}",
        f"F{i}",
        "005930",
        "buy" if i % 2 else "sell",
        1 + i % 7,
        97_600 + 100 * (i % 9),
        15,
        0,
        0,
        10,
        1,
        1,
        NOW,
    )
    rendered = event_embed(event)
    assert rendered is not None
    return OutItem(i, "fill", NOW, *rendered)


def signal_item(i: int, age_s: float) -> OutItem:
    event = ev.SignalEvent("000660", "buy", 1, None, "breakout", "test", NOW)
    rendered = event_embed(event)
    assert rendered is not None
    return OutItem(i, "signal", NOW - int(age_s * 1e9), *rendered)


def test_a_burst_of_1000_fills_packs_into_few_valid_messages() -> None:
    items = [fill_item(i) for i in range(1000)]
    messages = pack(items, NOW, 60 * 10**9)
    ids = [i for m in messages for i in m.item_ids]
    assert sorted(ids) == list(range(1000))  # every fill, once
    assert len(messages) <= 9
    for m in messages:
        assert len(m.embeds) <= MAX_EMBEDS
        assert sum(embed_chars(e) for e in m.embeds) <= MAX_CHARS
        assert all(len(e.get("description", "")) <= 4096 for e in m.embeds)
    text = "\n".join(e["description"] for m in messages for e in m.embeds)
    assert text.count(" 005930 @ ") == 1000


def test_few_items_get_their_own_embeds_fills_first() -> None:
    items = [signal_item(1, 0), fill_item(2), fill_item(3)]
    messages = pack(items, NOW, 60 * 10**9)
    assert len(messages) == 1
    assert messages[0].item_ids == [2, 3, 1]
    assert messages[0].embeds[0]["fields"][0] == {"name": "Qty", "value": "3", "inline": True}


def test_stale_signals_are_summarised_not_dropped() -> None:
    items = [signal_item(1, 120), signal_item(2, 1)]
    messages = pack(items, NOW, 60 * 10**9)
    embeds = messages[0].embeds
    assert "stale" in embeds[0]["title"] and "(1)" in embeds[0]["title"]
    assert embeds[1]["title"] == "Signal buy 000660"
    assert sorted(messages[0].item_ids) == [1, 2]
