"""Entry point: `python -m bot` (agent), `python -m bot demo`, `python -m bot health`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

from dotenv import load_dotenv

from engine.envparse import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Tradecord trading agent")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="start the agent (default)")
    run.add_argument("--headless", action="store_true",
                     help="no console input: print events and run until SIGTERM (containers)")
    demo = sub.add_parser("demo", help="non-interactive demonstration on the sim exchange")
    demo.add_argument("--seconds", type=float, default=20.0, help="how long to trade (default 20)")
    health = sub.add_parser("health", help="exit 0 when the running agent's heartbeat is fresh")
    health.add_argument("--max-age", type=float, default=30.0)
    return parser


def _health(data_dir: Path, max_age: float) -> int:
    try:
        age = time.time() - float((data_dir / "heartbeat").read_text())
    except (OSError, ValueError):
        print("unhealthy: no heartbeat file", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"unhealthy: heartbeat {age:.0f}s old", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(override=False)  # the real environment wins over .env
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import run_agent
    from bot.demo import demo_ok, print_summary, run_demo
    from engine.config import EngineConfig

    try:
        config = EngineConfig.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "health":
        return _health(config.data_dir, args.max_age)
    if args.command == "demo":
        if args.seconds <= 0:
            print("--seconds must be a positive number", file=sys.stderr)
            return 2
        summary = asyncio.run(run_demo(args.seconds, config))
        print_summary(summary)
        return 0 if demo_ok(summary) else 1
    return asyncio.run(run_agent(config, headless=getattr(args, "headless", False)))


if __name__ == "__main__":
    sys.exit(main())
