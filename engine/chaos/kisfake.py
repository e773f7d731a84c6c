"""The KIS fake (tests/fakekis) as a process, with a control port for the chaos runner.

    python -m engine.chaos.kisfake --port 0 --control-port 0 --seed 1 --cash 50000000

Prints `KISFAKE LISTENING <rest url> CONTROL <control url>` on stdout once both serve; stops on
SIGTERM or SIGINT. The fake keeps its account in memory only, so the runner never restarts it:
it injects faults through the control port instead (GET /state, POST /fault).

tests.fakekis is imported inside main() only, in this child process: nothing under engine/
needs tests/ at import time. It is run from the repository root (tests/ on sys.path).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from aiohttp import web

# Fake credentials shared by the launcher and the agent's environment (never real ones).
APP_KEY = ("PSchaos" + "0123456789abcdefghijklmnopqrstuvwxyz")[:36]
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
APP_SECRET = ("chaosKISsecret/" + _B64 * 3)[:180]
ACCOUNT = "12345678-01"
HTS_ID = "chaosuser"
SYMBOLS = ("005930", "035720", "005380")

log = logging.getLogger("engine.chaos.kisfake")


def _order(o: Any) -> dict[str, Any]:
    return {
        "odno": o.odno,
        "kind": o.kind,
        "symbol": o.symbol,
        "side": o.side,
        "qty": o.qty,
        "price": o.price,
        "status": o.status,
        "filled": o.filled,
        "fills": [list(f) for f in o.fills],
        "created_at": o.created_at,
        "orgn_odno": o.orgn_odno,
        "remaining": o.remaining,
    }


def _state(fake: Any) -> dict[str, Any]:
    account = fake.account
    prices = {}
    for code, sym in fake.tape.symbols.items():
        lower, upper = sym.limits
        prices[code] = {"last": sym.price, "lower": lower, "upper": upper}
    return {
        "orders": [_order(o) for o in fake.orders],
        "cash": account.d2_cash,
        "positions": {code: p.qty for code, p in account.positions.items() if p.qty},
        "prices": prices,
        "commission_rate": account.commission_rate,
        "sell_tax_rate": account.sell_tax_rate,
    }


async def _fault(fake: Any, spec: dict[str, Any]) -> str:
    kind = spec.get("kind")
    if kind == "drop_websockets":
        return f"dropped {await fake.drop_websockets()} websocket(s)"
    if kind == "orders":
        fake.fail_next_orders(int(spec["n"]), spec["fault"], delay=float(spec.get("delay", 30.0)))
        return f"next {spec['n']} order request(s) fail as {spec['fault']}"
    if kind == "answer_delay":
        fake.delay_next_order_answer(float(spec["delay"]))
        return f"next order answer held {spec['delay']} s"
    if kind == "path":
        fake.fail_next(str(spec["path"]), int(spec.get("status", 500)), int(spec.get("n", 1)))
        return f"next {spec.get('n', 1)} request(s) to *{spec['path']}* answer {spec.get('status', 500)}"
    if kind == "tape":
        if spec.get("paused"):
            fake.pause_tape()
        else:
            fake.resume_tape()
        return f"tape {'paused' if spec.get('paused') else 'running'}"
    if kind == "clear":
        # Faults still queued would hit the final settling run's cancels: that run must be clean.
        fake._order_faults.clear()
        fake._answer_delays.clear()
        fake._path_faults.clear()
        return "queued faults cleared"
    raise ValueError(
        f"unknown fault {kind!r}: use drop_websockets, orders, answer_delay, path, tape or clear"
    )


def _control_app(fake: Any) -> web.Application:
    async def state(request: web.Request) -> web.Response:
        return web.json_response(_state(fake))

    async def fault(request: web.Request) -> web.Response:
        try:
            spec = json.loads(await request.text())
            done = await _fault(fake, spec)
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        log.info("fault: %s", done)
        return web.json_response({"done": done})

    app = web.Application()
    app.router.add_get("/state", state)
    app.router.add_post("/fault", fault)
    return app


async def serve(args: argparse.Namespace) -> None:
    server = importlib.import_module("tests.fakekis.server")
    rate: float | str | None = args.rate_limit
    if rate not in ("env", "none"):
        rate = float(str(rate))
    fake = server.FakeKis(
        env="paper",
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        account=ACCOUNT,
        hts_id=HTS_ID,
        cash=args.cash,
        seed=args.seed,
        rate_limit=None if rate == "none" else rate,
        symbols={code: server.DEFAULT_SYMBOLS[code] for code in SYMBOLS},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fake.start(port=args.port)
    runner = web.AppRunner(_control_app(fake), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.control_port)
    await site.start()
    control_port = runner.addresses[0][1]
    try:
        print(f"KISFAKE LISTENING {fake.url} CONTROL http://127.0.0.1:{control_port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.chaos.kisfake", description="Run the KIS fake with a chaos control port."
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cash", type=int, default=50_000_000)
    parser.add_argument(
        "--rate-limit",
        default="env",
        help="requests/s the fake allows: env (2/s paper, as KIS), none, or a number",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(args))
    except ModuleNotFoundError as exc:
        print(f"the KIS fake needs the repository's tests/ package on the path: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
