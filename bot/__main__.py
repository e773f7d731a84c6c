"""Entry point: `python -m bot` (agent), `python -m bot demo`, `python -m bot health`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

# Nothing heavy above this line: the agent takes SIGTERM and SIGINT from its first instant
# (hold_stop_signals), before the imports (about half a second) and the start-up that follow.
from bot.signals import early_stops, hold_stop_signals, release_stop_signals

T = TypeVar("T")

if TYPE_CHECKING:
    import argparse
    from collections.abc import Coroutine

    from bot.discord.config import DiscordConfig
    from engine.config import EngineConfig


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot", description="Tradecord trading agent")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="start the agent (default)")
    run.add_argument(
        "--headless",
        action="store_true",
        help="no console input: print events and run until SIGTERM (containers)",
    )
    demo = sub.add_parser("demo", help="non-interactive demonstration on the sim exchange")
    demo.add_argument("--seconds", type=float, default=20.0, help="how long to trade (default 20)")
    sub.add_parser("sync", help="publish the slash commands to DISCORD_GUILD_ID (after changes)")
    sub.add_parser(
        "config",
        help="check the settings (environment and .env) and exit: 0 when valid, 2 with each problem named",
    )
    health = sub.add_parser("health", help="exit 0 when the running agent's heartbeat is fresh")
    health.add_argument("--max-age", type=float, default=30.0)
    return parser


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop where it is installed: each task wake on the tick path costs about half
    (engine.bench.feed --loop uvloop); the stock loop otherwise."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: list[str] | None = None) -> int:
    import logging

    from dotenv import find_dotenv, load_dotenv

    from engine.envparse import ConfigError

    args = _parser().parse_args(argv)
    agent = args.command in (None, "run")
    if not agent:
        release_stop_signals()
    if args.command == "health":  # every 30 s in a container: nothing of the agent is loaded
        from bot.health import check

        return check(args.max_age)
    # The working directory's .env (not one beside the installed package); the real
    # environment wins over it.
    load_dotenv(find_dotenv(usecwd=True), override=False)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from bot.app import run_agent
    from bot.demo import demo_ok, print_summary, run_demo
    from bot.discord.config import DiscordConfig
    from engine.config import EngineConfig
    from engine.files import usable_dir

    try:
        config = EngineConfig.from_env()
        discord_config = DiscordConfig.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command in (None, "run", "demo", "config"):
        problem = usable_dir(config.data_dir)
        if problem is not None:
            print(f"Invalid configuration:\n- DATA_DIR {problem}", file=sys.stderr)
            return 2
    if agent:
        from bot import logs
        from bot.console.app import readable

        secrets = [*config.secrets, *([discord_config.token] if discord_config else [])]
        headless = getattr(args, "headless", False) or not readable(sys.stdin)
        logs.setup(config.log_level, config.data_dir, headless, secrets)
    if args.command == "config":
        print(
            f"settings valid: broker {config.broker} ({'paper' if config.paper else 'LIVE'}), "
            f"data in {config.data_dir}, Discord {'on' if discord_config else 'off'}"
        )
        return 0
    if args.command == "demo":
        if args.seconds <= 0:
            print("--seconds must be a positive number", file=sys.stderr)
            return 2
        summary = run(run_demo(args.seconds, config))
        print_summary(summary)
        return 0 if demo_ok(summary) else 1
    if args.command == "sync":
        if discord_config is None:
            print("sync needs DISCORD_TOKEN and DISCORD_GUILD_ID", file=sys.stderr)
            return 2
        return _sync(config, discord_config)
    return run(
        run_agent(config, discord_config, headless=getattr(args, "headless", False), early_stops=early_stops)
    )


def _sync(config: EngineConfig, discord_config: DiscordConfig) -> int:
    import asyncio

    from bot.commands import CommandLayer
    from bot.discord.transport import sync_commands
    from engine.core import Engine

    engine = Engine(config)  # not started: the commands need its shape, not its state
    count = asyncio.run(sync_commands(engine, CommandLayer(engine), discord_config))
    print(f"synced {count} commands to guild {discord_config.guild_id}")
    return 0


if __name__ == "__main__":
    hold_stop_signals()
    sys.exit(main())
