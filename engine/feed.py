"""Routes ticks from the broker's one connection to each subscribed symbol's mailbox."""

from __future__ import annotations

from engine.mailbox import Mailbox
from engine.marketdata import Tick


class MarketFeed:
    def __init__(self) -> None:
        self.mailboxes: dict[str, Mailbox[Tick]] = {}
        self.last: dict[str, int] = {}  # last trade price per symbol, shared with the portfolio
        self.ticks = 0

    def attach(self, symbol: str) -> Mailbox[Tick]:
        box: Mailbox[Tick] = Mailbox()
        self.mailboxes[symbol] = box
        return box

    def detach(self, symbol: str) -> None:
        self.mailboxes.pop(symbol, None)

    def on_ticks(self, ticks: list[Tick]) -> None:
        boxes = self.mailboxes
        last = self.last
        get = boxes.get
        for tick in ticks:
            symbol = tick.symbol
            last[symbol] = tick.price
            box = get(symbol)
            if box is not None:
                box.put(tick)
        self.ticks += len(ticks)
