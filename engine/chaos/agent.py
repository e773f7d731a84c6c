"""The agent (`python -m bot`) as a child process, driven through its console.

The console runs one line at a time, so after every command the runner writes a marker line that
is an unknown command; its error reply (`error: unknown command '/chaosmark-N'`) proves that
command N finished and that the lines printed since the previous marker are its reply. A command
whose marker never came back was cut short by the kill.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.chaos.procs import ManagedProcess

MARKER = "/chaosmark-"
_MARK_REPLY = re.compile(r"^error: unknown command '/chaosmark-(\d+)'")
_EVENT = re.compile(r"^\d\d:\d\d:\d\d ")  # event lines start with a time; replies do not
_ORDER_SENT = re.compile(r"^(?:order sent|already placed \(same request\)): (\S+) ")
READY = "type /help for commands"
BANNER = "Tradecord on the"

# Output that means the agent itself broke (as opposed to a refused command).
STDOUT_BUGS = ("Traceback", "Engine task crashed", "failed inside the engine", "strategy crashed")
STDERR_BUGS = ("Traceback", "Task exception was never retrieved", "Exception in callback", "crashed")


@dataclass(slots=True)
class Command:
    seq: int
    where: str
    line: str
    written_ns: int
    written: bool = True
    acked: bool = False
    reply: list[str] = field(default_factory=list)

    @property
    def reply_text(self) -> str:
        return "\n".join(self.reply)


class Agent:
    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        *,
        repo: Path,
        env: Mapping[str, str],
        log_dir: Path,
        counter: list[int],
    ) -> None:
        self.label = label
        self.proc = ManagedProcess(
            label, argv, cwd=repo, env=env, log_dir=log_dir, stdin=True, on_stdout=self._on_line
        )
        self._counter = counter  # shared across agents, so markers never repeat in a run
        self.commands: list[Command] = []
        self._by_seq: dict[int, Command] = {}
        self._reply: list[str] = []
        self._last_sent = 0
        self._last_acked = 0
        self.ready = False
        self.banner = False
        self.ready_after_s: float | None = None
        self.order_ids: list[str] = []  # ids from "order sent" replies, limit orders only

    def start(self) -> None:
        self.proc.start()

    # Runs on the reader thread, under the process's output lock.
    def _on_line(self, line: str) -> None:
        if BANNER in line:
            self.banner = True
        if READY in line and not self.ready:
            self.ready = True
            self.ready_after_s = time.monotonic() - self.proc.started_at
            return
        mark = _MARK_REPLY.match(line)
        if mark:
            cmd = self._by_seq.get(int(mark.group(1)))
            if cmd is not None:
                cmd.acked, cmd.reply = True, self._reply
                self._last_acked = max(self._last_acked, cmd.seq)
                sent = _ORDER_SENT.match(cmd.reply[0]) if cmd.reply else None
                if sent and " @ " in cmd.reply[0] and "[accepted]" in cmd.reply[0]:
                    self.order_ids.append(sent.group(1))
            self._reply = []
            return
        if self.ready and not _EVENT.match(line):
            self._reply.append(line)

    def send(self, line: str, where: str) -> Command:
        """Write one console line and its marker; the Command records whether it was answered."""
        with self.proc.lock:
            self._counter[0] += 1
            cmd = Command(self._counter[0], where, line, time.time_ns())
            self.commands.append(cmd)
            self._by_seq[cmd.seq] = cmd
            self._last_sent = cmd.seq
        cmd.written = self.proc.write(f"{line}\n{MARKER}{cmd.seq}\n")
        return cmd

    def wait_ready(self, timeout: float) -> bool:
        return self.proc.wait_until(lambda: self.ready, timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Every command written so far has finished."""
        return self.proc.wait_until(lambda: self._last_acked >= self._last_sent, timeout)

    @property
    def running(self) -> bool:
        return self.proc.running

    def kill(self) -> None:
        self.proc.kill()

    def terminate(self, timeout: float) -> int | None:
        return self.proc.terminate(timeout)

    def problems(self) -> list[str]:
        """Lines showing the agent broke: tracebacks, crashed tasks, internal command errors."""
        found = []
        with self.proc.lock:
            for i, line in enumerate(self.proc.stdout_lines):
                if any(bug in line for bug in STDOUT_BUGS):
                    found.append(f"{self.proc.stdout_path.name}:{i + 1}: {line.strip()[:300]}")
            for i, line in enumerate(self.proc.stderr_lines):
                if any(bug in line for bug in STDERR_BUGS):
                    tail = self.proc.stderr_lines[i + 1 : i + 40]
                    last = next((t for t in tail if t and not t.startswith(" ")), "")
                    shown = line.strip()[:200] + (f" … {last.strip()[:200]}" if last else "")
                    found.append(f"{self.proc.stderr_path.name}:{i + 1}: {shown}")
        return found
