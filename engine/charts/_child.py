"""The chart worker's child process: `python -m engine.charts._child`, driven by ChartWorker.

Reads request frames on stdin and answers each with one reply frame on stdout. Exits when stdin
closes, which is also what happens if the parent dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings
from typing import BinaryIO

import msgspec

from engine.charts._protocol import LENGTH, CandlesRequest, Reply, Request, frame
from engine.charts.model import Bar, Marker


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On a 2-core box a render must lose to the trading process when both want a core.
    with contextlib.suppress(OSError):
        os.nice(10)
    # Frames go out on a private copy of stdout, and fd 1 becomes stderr: a stray print or a C
    # library writing to stdout must not corrupt a frame.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer

    # Imported here, not at module level: this is the only process that needs matplotlib.
    from engine.charts._style import TITLE_FAMILY
    from engine.charts.candles import render_candles
    from engine.charts.equity import render_equity_curve

    if len(TITLE_FAMILY) == 1:
        # Without a Korean font matplotlib warns once per missing glyph, i.e. for every new
        # character of every symbol name: say it once instead.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        print(
            "charts: no Korean font installed (e.g. Debian's fonts-nanum); Hangul in chart titles "
            "will show as boxes",
            file=sys.stderr,
        )

    # Loads fonts and fills caches, so the first real request is as fast as the rest.
    render_equity_curve([], "")
    render_candles([], [], "")

    decoder = msgspec.msgpack.Decoder(Request)
    encoder = msgspec.msgpack.Encoder()
    out.write(frame(b""))
    out.flush()
    while True:
        header = _read_exact(inp, LENGTH.size)
        if header is None:
            return
        body = _read_exact(inp, LENGTH.unpack(header)[0])
        if body is None:
            return
        try:
            request = decoder.decode(body)
            if isinstance(request, CandlesRequest):
                png = render_candles(
                    [Bar(*b) for b in request.bars], [Marker(*m) for m in request.markers], request.title
                )
            else:
                png = render_equity_curve(request.points, request.title)
            reply = Reply(png=png)
        except Exception as exc:  # reported to the caller; the worker stays up for the next one
            reply = Reply(error=f"{type(exc).__name__}: {exc}")
        out.write(frame(encoder.encode(reply)))
        out.flush()


if __name__ == "__main__":
    main()
