"""`python -m engine.sim` as a process: the LISTENING line, serving, a clean SIGTERM exit."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[3]


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine.sim",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_cli_serves_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    proc = await _spawn(
        "--port",
        "0",
        "--seed",
        "3",
        "--rate",
        "5",
        "--speed",
        "2",
        "--cash",
        "5000000",
        "--state",
        str(tmp_path / "s.db"),
        "--symbols",
        "005930,000660",
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert line.startswith("SIM LISTENING http://127.0.0.1:"), line
        url = line.split()[-1]
        async with aiohttp.ClientSession() as http:
            assert await (await http.get(f"{url}/health")).json() == {"status": "ok"}
            account = await (await http.get(f"{url}/account")).json()
            assert account == {"cash": 5_000_000, "positions": []}
            ws = await http.ws_connect(f"{url}/ws")
            proc.send_signal(signal.SIGTERM)
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        assert await proc.stdout.read() == b""  # exactly one line on stdout
        assert b"sim stopped" in await proc.stderr.read()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_cli_bad_arguments_say_what_is_valid() -> None:
    for args, needle in (
        (("--symbols", "005930,123456"), b"unknown symbol(s) 123456"),
        (("--rate", "-1"), b"not a positive number"),
        (("--port", "70000"), b"use 1 to 65535, or 0"),
        (("--cash", "lots"), b"whole number of KRW"),
    ):
        proc = await _spawn(*args)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 2, err
        assert needle in err, err
