"""`python -m engine.chaos --rounds N --seed S --broker sim|kis`: see engine/chaos/__init__.py.

Prints progress and the work directory on stderr, then one JSON summary line on stdout; exits 0
only when every invariant held, 1 when one did not, 2 when the run itself could not be made.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.chaos.runner import REPO, ChaosConfig, Runner
from engine.envparse import decimal, whole_number
from engine.text import shown


def _ranged(parse: Callable[[str], float], low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: ASCII digits only (as settings are read), inside [low, high]."""

    def read(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{shown(text)!r} is not {what}")
        return value

    return read


_positive_int = _ranged(whole_number, 1, math.inf, "a whole number >= 1")
_fraction = _ranged(decimal, 0.0, 1.0, "a fraction between 0 and 1, e.g. 0.2")
_seconds = _ranged(decimal, 0.3, 600.0, "a number of seconds from 0.3 to 600")


def parse_args(argv: Sequence[str] | None = None) -> ChaosConfig:
    parser = argparse.ArgumentParser(
        prog="python -m engine.chaos",
        description="SIGKILL the agent at random moments (and disrupt its broker), then check "
        "that the journal and the broker agree.",
    )
    parser.add_argument("--rounds", type=_positive_int, default=10, help="agent kills (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every round's plan (default 1)")
    parser.add_argument(
        "--broker",
        choices=("sim", "kis"),
        default="sim",
        help="sim: python -m engine.sim (killed and restarted with its state); "
        "kis: the KIS fake from tests/fakekis (faults injected instead)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where data, logs and the timeline go (default: a new temp dir, kept)",
    )
    parser.add_argument(
        "--max-round-seconds",
        type=_seconds,
        default=3.0,
        help="longest time a round drives the agent before its kill (default 3)",
    )
    parser.add_argument(
        "--broker-fault-rate",
        type=_fraction,
        default=0.2,
        help="share of rounds that also disrupt the broker (default 0.2)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=_seconds,
        default=120.0,
        help="longest wait for the agent's console after a start (default 120; "
        "KIS start-ups slow down as the day's orders grow, paced at 2/s)",
    )
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="checkout whose agent and sim are run (default: this one)"
    )
    args = parser.parse_args(argv)
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"--workdir {args.workdir} is not empty: the journal must start empty")
    return ChaosConfig(
        rounds=args.rounds,
        seed=args.seed,
        broker=args.broker,
        workdir=args.workdir,
        max_round_s=args.max_round_seconds,
        broker_fault_rate=args.broker_fault_rate,
        ready_timeout=args.ready_timeout,
        repo=args.repo.absolute(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    summary = Runner(config).run()
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    if summary.get("error"):
        return 2
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
