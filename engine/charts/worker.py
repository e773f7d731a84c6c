"""Chart rendering in a child process, so a render never stalls the engine's event loop.

A worker thread (asyncio.to_thread) is not enough in CPython. Rendering is mostly Python code
holding the GIL, and each time the loop thread wants it back it can wait a full switch interval
(5 ms); a loop iteration needs it several times, so ticks waited 10-30 ms behind a 400-bar chart.
Every dozen charts or so the figures' garbage also set off a generation-2 collection that stopped
the loop for 50-100 ms. A child process has its own GIL and its own collector: measured over 30
renders, the loop's worst lateness stayed near 5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import msgspec

from engine.charts._protocol import LENGTH, CandlesRequest, EquityRequest, Reply, Request, frame
from engine.charts.model import Bar, Marker

__all__ = ["ChartWorker", "ChartWorkerError"]

# The directory holding the `engine` package, so the child imports the same code as this process
# whether it runs from a source tree or an installed package.
_IMPORT_ROOT = str(Path(__file__).resolve().parents[2])


class ChartWorkerError(RuntimeError):
    """The child could not render: it failed to start, died, timed out, or the render raised."""


class ChartWorker:
    """One long-lived child process that renders charts; requests queue one at a time.

    start() spawns it (lazily done by the first render otherwise) and waits until matplotlib is
    loaded there: about 0.5 s, several more the first time a machine builds matplotlib's font
    cache. A child that died while idle is replaced on the next request; one that dies, times out
    or is cancelled mid-render is killed, that request fails, and the next one starts a fresh child.
    """

    def __init__(self, *, start_timeout: float = 120.0, render_timeout: float = 30.0) -> None:
        self.start_timeout = start_timeout
        self.render_timeout = render_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Reply)

    @property
    def pid(self) -> int | None:
        """The running child's pid, None when there is none."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def start(self) -> None:
        async with self._lock:
            await self._ensure_started()

    async def close(self) -> None:
        """Stop the child: it exits when its stdin closes; killed if it has not within 5 s."""
        async with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                async with asyncio.timeout(5.0):
                    await proc.wait()
            except TimeoutError:
                await _kill(proc)

    async def __aenter__(self) -> ChartWorker:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def render_candles(self, bars: Sequence[Bar], markers: Sequence[Marker], title: str) -> bytes:
        """engine.charts.render_candles, in the child."""
        return await self._request(
            CandlesRequest(
                title,
                [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in bars],
                [(m.ts_ns, m.price, m.side) for m in markers],
            )
        )

    async def render_equity_curve(self, points: Sequence[tuple[int, int]], title: str) -> bytes:
        """engine.charts.render_equity_curve, in the child."""
        return await self._request(EquityRequest(title, [(int(t), int(e)) for t, e in points]))

    async def _request(self, request: Request) -> bytes:
        payload = frame(self._encoder.encode(request))
        async with self._lock:
            proc = await self._ensure_started()
            try:
                async with asyncio.timeout(self.render_timeout):
                    body = await self._exchange(proc, payload)
            except BaseException as exc:
                # Whatever happened mid-exchange, the pipe may hold half a frame: never reuse it.
                self._proc = None
                await _kill(proc)
                if isinstance(exc, TimeoutError):
                    raise ChartWorkerError(f"chart render took over {self.render_timeout:g} s") from exc
                if isinstance(exc, (asyncio.IncompleteReadError, ConnectionError)):
                    raise ChartWorkerError(f"chart worker died (exit code {proc.returncode})") from exc
                raise
        reply = self._decoder.decode(body)
        if reply.error:
            raise ChartWorkerError(reply.error)
        return reply.png

    @staticmethod
    async def _exchange(proc: asyncio.subprocess.Process, payload: bytes) -> bytes:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(payload)
        await proc.stdin.drain()
        (size,) = LENGTH.unpack(await proc.stdout.readexactly(LENGTH.size))
        return await proc.stdout.readexactly(size)

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            return proc
        self._proc = None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_IMPORT_ROOT, env.get("PYTHONPATH")) if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "engine.charts._child",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            # The child's first frame is empty and means "loaded and ready".
            async with asyncio.timeout(self.start_timeout):
                ready = await proc.stdout.readexactly(LENGTH.size)
        except BaseException as exc:
            await _kill(proc)
            if isinstance(exc, TimeoutError):
                raise ChartWorkerError(f"chart worker not ready after {self.start_timeout:g} s") from exc
            if isinstance(exc, asyncio.IncompleteReadError):
                raise ChartWorkerError(f"chart worker failed to start (exit code {proc.returncode})") from exc
            raise
        if LENGTH.unpack(ready)[0] != 0:
            await _kill(proc)
            raise ChartWorkerError("chart worker spoke out of turn at start")
        self._proc = proc
        return proc


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()
