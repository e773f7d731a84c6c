"""A child process whose output is read line by line on threads and kept in log files.

Synchronous on purpose: the runner is not part of the agent, and plain threads with timeouts are
simpler to reason about than an event loop when the point is to kill processes at odd moments.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

LineHook = Callable[[str], None]


class ManagedProcess:
    """One child in its own session, so a SIGKILL takes any children it started with it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log_dir: Path,
        stdin: bool = False,
        on_stdout: LineHook | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env)
        self.stdout_path = log_dir / f"{name}.stdout"
        self.stderr_path = log_dir / f"{name}.stderr"
        self._want_stdin = stdin
        self._on_stdout = on_stdout
        self._cond = threading.Condition()
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self._eof = 0
        self.started_at = 0.0

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE if self._want_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        for stream, lines, path, hook in (
            (self._proc.stdout, self.stdout_lines, self.stdout_path, self._on_stdout),
            (self._proc.stderr, self.stderr_lines, self.stderr_path, None),
        ):
            reader = threading.Thread(
                target=self._read, args=(stream, lines, path, hook), name=f"{self.name}-reader", daemon=True
            )
            reader.start()
            self._readers.append(reader)

    def _read(self, stream: IO[bytes], lines: list[str], path: Path, hook: LineHook | None) -> None:
        with path.open("a", encoding="utf-8") as log:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()  # a SIGKILLed runner still leaves readable logs
                with self._cond:
                    lines.append(line)
                    if hook is not None:
                        hook(line)
                    self._cond.notify_all()
        with self._cond:
            self._eof += 1
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        assert self._proc is not None, f"{self.name} not started"
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def kill(self) -> None:
        """SIGKILL the child's whole session (only processes this object started)."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        self._join()

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM the child itself and wait; None (and a SIGKILL) when it did not exit in time."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.kill()
        self._join()
        return code

    def wait_exit(self, timeout: float) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _join(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        for reader in self._readers:
            reader.join(timeout=5.0)

    # ---- I/O -----------------------------------------------------------------------------------

    def write(self, text: str) -> bool:
        """False when the child can no longer read (it died, or its stdin is closed)."""
        if self._proc is None or self._proc.stdin is None:
            return False
        try:
            self._proc.stdin.write(text.encode())
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def wait_until(self, check: Callable[[], bool], timeout: float) -> bool:
        """Wait until check() holds (evaluated under the output lock) or the child's output ends."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if check():
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self._eof >= 2:
                    return check()
                self._cond.wait(min(left, 0.25))

    def wait_line(self, contains: str, timeout: float) -> str | None:
        found: list[str] = []
        scanned = 0

        def seen() -> bool:
            nonlocal scanned
            found.extend(line for line in self.stdout_lines[scanned:] if contains in line)
            scanned = len(self.stdout_lines)
            return bool(found)

        return found[0] if self.wait_until(seen, timeout) else None

    @property
    def lock(self) -> threading.Condition:
        return self._cond

    def stderr_tail(self, lines: int = 15) -> str:
        with self._cond:
            return "\n".join(self.stderr_lines[-lines:])
