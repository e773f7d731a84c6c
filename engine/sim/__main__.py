"""Run the simulated exchange as a process.

    python -m engine.sim --port 8765 --seed 7 --rate 2 --speed 1 --cash 10000000 \
        --state sim.db --symbols 005930,000660

Prints `SIM LISTENING http://127.0.0.1:<port>` on stdout once it serves (so a parent process
can wait for that line and learn the port), logs to stderr, stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.krx.universe import BY_CODE, UNIVERSE
from engine.sim.config import SimConfig
from engine.sim.server import SimExchange

log = logging.getLogger("engine.sim")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 1 to 65535, or 0 for a free port")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number, e.g. 2 or 0.5")
    return value


def _cash(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount: use a whole number of KRW >= 0, e.g. 10000000"
        )
    return value


def _symbols(text: str) -> tuple[str, ...]:
    codes = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [c for c in codes if c not in BY_CODE]
    if not codes or unknown:
        shown = ", ".join(unknown) if unknown else "(none)"
        raise argparse.ArgumentTypeError(
            f"unknown symbol(s) {shown}: give comma-separated codes from "
            f"{','.join(listing.code for listing in UNIVERSE)}"
        )
    return codes


def parse_args(argv: Sequence[str] | None = None) -> tuple[SimConfig, int]:
    parser = argparse.ArgumentParser(
        prog="python -m engine.sim", description="Run the simulated KRX exchange."
    )
    parser.add_argument("--port", type=_port, default=8765, help="TCP port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=7, help="seed of the tape (default 7)")
    parser.add_argument(
        "--rate", type=_positive, default=2.0, help="trades per second per symbol (default 2)"
    )
    parser.add_argument("--speed", type=_positive, default=1.0, help="multiplies the rate")
    parser.add_argument("--cash", type=_cash, default=10_000_000, help="initial cash, KRW")
    parser.add_argument("--state", type=Path, default=None, help="SQLite file that keeps the account")
    parser.add_argument("--symbols", type=_symbols, default=None, help="comma-separated codes (default all)")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )
    args = parser.parse_args(argv)
    try:
        config = SimConfig(
            seed=args.seed,
            tick_rate=args.rate,
            speed=args.speed,
            initial_cash=args.cash,
            state_path=args.state,
            symbols=args.symbols,
        )
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return config, args.port


async def serve(config: SimConfig, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sim = SimExchange(config)
    await sim.start(port=port)
    try:
        print(f"SIM LISTENING {sim.url}", flush=True)
        await stop.wait()
        log.info("signal received, stopping")
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    config, port = parse_args(argv)
    try:
        asyncio.run(serve(config, port))
    except OSError as exc:
        # Typically the port is taken: say so in one line rather than a traceback.
        log.error("cannot serve on port %d: %s", port, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
