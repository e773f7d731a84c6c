"""The liveness file: the agent's loop rewrites it every few seconds; the container health check
(`python -m bot health`) reads it. Stdlib only, because the check runs every 30 s.

It names the process that wrote it (pid and the kernel's start time for that pid), so a file
left by an earlier run, however recent, never passes for the running one: a restarted container
reuses pid 1, but not its start time.
"""

from __future__ import annotations

from pathlib import Path

from engine.files import write_private

HEARTBEAT = "heartbeat"


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None where /proc is absent
    or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces or parentheses: count from the last ')'.
    return stat[stat.rindex(")") + 2 :].split()[19]


def writer(pid: int) -> str:
    """Who writes the heartbeat: the pid and its start time, read once per run."""
    return f"{pid} {process_start(pid) or '-'}"


def beat(data_dir: Path, now: float, by: str) -> None:
    write_private(data_dir / HEARTBEAT, f"{now} {by}")


def problem(data_dir: Path, now: float, max_age: float) -> str | None:
    """None when a running agent's heartbeat is fresh; else what is wrong."""
    try:
        stamp, pid, started = (data_dir / HEARTBEAT).read_text().split()
        age = now - float(stamp)
        alive = process_start(int(pid))
    except (OSError, ValueError):
        return "no heartbeat from a running agent"
    if started != "-" and alive != started:
        return "the heartbeat is from an earlier run; this one has not written its own yet"
    if age > max_age:
        return f"heartbeat {age:.0f}s old"
    return None
