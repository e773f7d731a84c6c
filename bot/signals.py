"""SIGINT and SIGTERM, from the agent's first instant to its clean exit.

Stdlib only and nothing heavy: `python -m bot` holds the signals before it imports anything
else (about half a second), and the agent's loop takes them over once it runs.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Stop signals that arrived before the agent's event loop took them over.
early_stops: list[int] = []
_holding = False


def _remember_stop(signum: int, _frame: object) -> None:
    early_stops.append(signum)


def hold_stop_signals() -> None:
    """Catch SIGTERM and SIGINT from now on and remember them; the agent's loop takes them over
    once it runs (stop_signals, below) and stops at once for one that came before.

    Without a handler a SIGTERM in the first moments killed the process uncleanly, and a
    process running as PID 1 (a container) ignores a signal it has no handler for: `docker
    stop` then waited its 10 s and killed it. Unblocked too, in case the parent blocked them.
    """
    global _holding
    for sig in STOP_SIGNALS:
        signal.signal(sig, _remember_stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _holding = True


def release_stop_signals() -> None:
    """Back to the default handling (commands other than the agent), delivering a signal that
    was held meanwhile."""
    global _holding
    if not _holding:
        return
    _holding = False
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for sig in dict.fromkeys(early_stops):
        signal.raise_signal(sig)


@contextlib.contextmanager
def stop_signals(stop: asyncio.Event, early_stops: Sequence[int] = ()) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` while the block runs; one in `early_stops` (caught before
    the loop ran, by hold_stop_signals) sets it at once. On the way out the handlers
    in place before are put back (not the default action, which the loop would leave behind:
    a SIGTERM while the process winds down would then end it with no clean exit)."""
    import asyncio

    loop = asyncio.get_running_loop()
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if early_stops:
        stop.set()
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            handler = before[sig]
            if handler is not None:
                signal.signal(sig, handler)
