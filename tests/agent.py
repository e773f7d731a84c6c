"""A Tradecord process (`python -m bot`, or the sim) driven through its console, as a user
runs it: lines sent to stdin, output (stderr too, where headless logs go) read line by line."""

from __future__ import annotations

import asyncio
import contextlib

from tests.conftest import PYTHON, ROOT


class Agent:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, env: dict[str, str], *args: str, module: str = "bot", stderr: bool = True) -> Agent:
        """`stderr=False` drops it: for a process whose output is read only at first, so an
        unread pipe cannot fill and stall it."""
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            module,
            *args,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if stderr else asyncio.subprocess.DEVNULL,
        )
        return cls(proc)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def until(self, text: str, timeout: float = 30.0) -> str:
        """The first line from here on that holds `text`."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise AssertionError(
                        f"the process ended before printing {text!r}:\n" + "\n".join(self.lines[-40:])
                    )
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                if text in line:
                    return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())

    async def finish(self, timeout: float = 30.0) -> int:
        """End of input: the agent stops; the rest of its output is kept. Its exit code."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        async with asyncio.timeout(timeout):
            rest = await self.proc.stdout.read()
            self.lines += rest.decode(errors="replace").splitlines()
            return await self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
