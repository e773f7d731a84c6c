"""`python -m engine.bench [--runs 3] [--only NAME ...]`: every benchmark, medians over runs,
one JSON object per measurement on stdout, and docs/benchmarks.md written from the same numbers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.bench import charts, engine_costs
from engine.clock import Clock

Measure = Callable[[], Awaitable[dict[str, Any]]]


def _feed_measures() -> dict[str, Measure]:
    try:
        from engine.bench import feed
    except ImportError:
        return {}
    return dict(feed.MEASURES)


def measures() -> dict[str, Measure]:
    own: dict[str, Measure] = {
        "subscription_churn": engine_costs.churn,
        "subscription_memory": engine_costs.subscription_memory,
        "order_path": engine_costs.order_path,
        "alert_burst": engine_costs.alert_burst,
        "chart_render": charts.chart_render,
        "chart_command": charts.chart_command,
    }
    return {**_feed_measures(), **own}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers become the median over runs; everything else is taken from the first run."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("target"):
            values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
            med = statistics.median(values)
            out[key] = round(med, 3) if isinstance(med, float) else med
    out["runs"] = len(runs)
    return out


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    versions = []
    for pkg in ("websockets", "aiohttp", "msgspec", "discord.py", "picows", "uvloop"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{pkg} {metadata.version(pkg)}")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "packages": ", ".join(versions),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write_markdown(path: Path, results: list[dict[str, Any]], command: str, notes: dict[str, str]) -> None:
    m = machine()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {Clock().now():%Y-%m-%d %H:%M} KST on {m['cpu']}, {m['cores']} cores, "
        f"{m['memory']}; Python {m['python']} ({m['os']}); {m['packages']}.",
        "",
        f"Reproduce: `{command}` (medians over the runs; the load generator runs in its own process).",
        "",
    ]
    for result in results:
        name = result["name"]
        lines += [f"## {name.replace('_', ' ')}", "", "| figure | value |", "|---|---|"]
        for key, value in result.items():
            if key in ("name",) or isinstance(value, (list, dict)):
                continue
            lines.append(f"| {key.replace('_', ' ')} | {_fmt(value)} |")
        if name in notes:
            lines += ["", notes[name]]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


NOTES_FILE = Path("docs/benchmark-notes.json")


async def run(names: list[str], runs: int) -> list[dict[str, Any]]:
    table = measures()
    results = []
    for name in names:
        measure = table[name]
        collected = []
        for _ in range(runs):
            result = await measure()
            collected.append(result)
        merged = median_of(collected)
        print(json.dumps(merged), flush=True)
        results.append(merged)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", help=f"some of: {', '.join(measures())}")
    parser.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args(argv)
    names = args.only or list(measures())
    unknown = [n for n in names if n not in measures()]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; valid: {', '.join(measures())}")
    results = asyncio.run(run(names, args.runs))
    notes = json.loads(NOTES_FILE.read_text()) if NOTES_FILE.exists() else {}
    command = "python -m engine.bench " + " ".join(sys.argv[1:])
    write_markdown(Path(args.out), results, command.strip(), notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
