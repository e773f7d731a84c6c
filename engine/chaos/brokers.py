"""The broker under test as a separate process: the sim exchange, or the KIS fake.

Each kind knows how to start it on 127.0.0.1, what the agent's environment must say to reach it,
how to disrupt it in the middle of a round, and how to read its record for the invariants.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.chaos import kisfake
from engine.chaos.procs import ManagedProcess
from engine.chaos.state import CANCELLED, FILLED, OPEN, REJECTED, BrokerFill, BrokerOrder, BrokerState

HTTP_TIMEOUT = 5.0
READY_TIMEOUT = 20.0


class BrokerUnavailable(RuntimeError):
    """The broker process did not start, or did not answer a request."""


def http_json(method: str, url: str, body: Any = None, timeout: float = HTTP_TIMEOUT) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise BrokerUnavailable(f"{method} {url}: HTTP {exc.code} {exc.read()[:200]!r}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BrokerUnavailable(f"{method} {url}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Quote:
    last: int
    lower: int
    upper: int


class BrokerProcess(ABC):
    name: str
    supports_auto = False
    symbols: tuple[str, ...] = ()

    def __init__(self, workdir: Path, repo: Path, python: str, seed: int, cash: int) -> None:
        self.workdir = workdir
        self.repo = repo
        self.python = python
        self.seed = seed
        self.cash = cash
        self.restarts = 0
        self.faults = 0
        self.log: list[str] = []  # what was done to it, for the timeline
        self._starts = 0
        self._proc: ManagedProcess | None = None
        self._quotes: dict[str, Quote] = {}

    def _spawn(self, argv: list[str], ready: str) -> str:
        self._starts += 1
        proc = ManagedProcess(
            f"broker-{self._starts:03d}", argv, cwd=self.repo, env=self._env(), log_dir=self.workdir / "logs"
        )
        proc.start()
        line = proc.wait_line(ready, READY_TIMEOUT)
        if line is None:
            code = proc.returncode
            proc.kill()
            raise BrokerUnavailable(
                f"{self.name} did not print {ready!r} within {READY_TIMEOUT:.0f}s "
                f"(exit {code}); stderr:\n{proc.stderr_tail()}"
            )
        self._proc = proc
        return line

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"PYTHONPATH": str(self.repo), "PYTHONUNBUFFERED": "1"})
        return env

    def stop(self) -> None:
        if self._proc is not None and self._proc.terminate(10.0) is None:
            self.log.append(f"{self.name} did not stop on SIGTERM within 10 s: killed")

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def agent_env(self) -> dict[str, str]:
        """What the agent's environment must hold to trade on this broker."""

    @abstractmethod
    def snapshot(self) -> BrokerState: ...

    @abstractmethod
    def open_order_ids(self) -> list[str]: ...

    @abstractmethod
    def _fetch_quotes(self) -> dict[str, Quote]: ...

    def quote(self, symbol: str) -> Quote | None:
        """The last price and limits; the last known ones while the broker is down."""
        with contextlib.suppress(BrokerUnavailable):
            self._quotes.update(self._fetch_quotes())
        return self._quotes.get(symbol)

    @abstractmethod
    def disrupt(self, rng: random.Random) -> str:
        """Break something under the running agent; returns what, in words."""

    def settle(self) -> None:
        """Before the final run: the broker is up and no injected fault is pending."""


class SimBroker(BrokerProcess):
    """`python -m engine.sim` with its account persisted in a SQLite file across restarts."""

    name = "sim"
    supports_auto = True
    symbols = ("005930", "035720", "005380", "035420", "000660")

    def __init__(self, workdir: Path, repo: Path, python: str, seed: int, cash: int) -> None:
        super().__init__(workdir, repo, python, seed, cash)
        self.port = 0
        self.url = ""
        self._lock = threading.Lock()
        self._restarter: threading.Thread | None = None
        self._restart_error = ""

    def _argv(self) -> list[str]:
        return [
            self.python,
            "-m",
            "engine.sim",
            "--port",
            str(self.port),
            "--seed",
            str(self.seed),
            "--rate",
            "5",
            "--cash",
            str(self.cash),
            "--state",
            str(self.workdir / "sim.db"),
            "--symbols",
            ",".join(self.symbols),
            "--log-level",
            "INFO",
        ]

    def start(self) -> None:
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        # The same port every time, so the agent's SIM_URL stays valid across restarts; a port
        # just released can take a moment to be free again.
        deadline = time.monotonic() + 15.0
        while True:
            try:
                line = self._spawn(self._argv(), "SIM LISTENING")
                break
            except BrokerUnavailable:
                if self.port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def agent_env(self) -> dict[str, str]:
        return {"BROKER": "sim", "SIM_URL": self.url}

    def _restart(self, down_s: float) -> None:
        with self._lock:
            if self._proc is not None:
                self._proc.kill()
            time.sleep(down_s)
            try:
                self._start_locked()
            except BrokerUnavailable as exc:
                self._restart_error = str(exc)  # raised by settle(), on the runner's thread

    def disrupt(self, rng: random.Random) -> str:
        self.settle()
        down = round(rng.uniform(0.2, 4.0), 2)
        self.restarts += 1
        # On a thread: the round goes on (commands, the agent's kill) while the sim is down.
        self._restarter = threading.Thread(
            target=self._restart, args=(down,), name="sim-restart", daemon=True
        )
        self._restarter.start()
        return f"sim SIGKILLed, restarting in {down} s on port {self.port} with its state file"

    def settle(self) -> None:
        if self._restarter is not None:
            self._restarter.join(READY_TIMEOUT + 20.0)
            self._restarter = None
        if self._restart_error:
            raise BrokerUnavailable(f"the sim did not come back after a restart: {self._restart_error}")

    @property
    def restarting(self) -> bool:
        return self._restarter is not None and self._restarter.is_alive()

    def _get(self, path: str) -> Any:
        return http_json("GET", self.url + path)

    def _fetch_quotes(self) -> dict[str, Quote]:
        return {
            s["code"]: Quote(s["last"], s["lower_limit"], s["upper_limit"]) for s in self._get("/symbols")
        }

    def open_order_ids(self) -> list[str]:
        return [o["order_id"] for o in self._get("/orders?status=open")]

    def snapshot(self) -> BrokerState:
        status = {
            "accepted": OPEN,
            "partially_filled": OPEN,
            "filled": FILLED,
            "cancelled": CANCELLED,
            "rejected": REJECTED,
        }
        orders = tuple(
            BrokerOrder(
                o["order_id"],
                o["client_order_id"],
                o["symbol"],
                o["side"],
                o["qty"],
                o["price"],
                status.get(o["status"], o["status"]),
                o["filled_qty"],
                o["created_ts_ns"],
            )
            for o in self._get("/orders?status=all")
        )
        fills = tuple(
            BrokerFill(
                f["fill_id"],
                f["order_id"],
                f["symbol"],
                f["side"],
                f["qty"],
                f["price"],
                f["commission"],
                f["tax"],
            )
            for f in self._get("/fills")
        )
        account = self._get("/account")
        return BrokerState(
            "sim",
            orders,
            fills,
            account["cash"],
            {p["symbol"]: p["qty"] for p in account["positions"] if p["qty"]},
        )


# In-round KIS faults: (weight, fault spec). The fake loses its account on a restart, so these
# stand in for a broker restart: a dropped socket, ambiguous answers, refusals and slow answers.
KIS_FAULTS: tuple[tuple[int, dict[str, Any]], ...] = (
    (3, {"kind": "drop_websockets"}),
    (3, {"kind": "orders", "fault": "502_after_create", "n": 1}),
    (2, {"kind": "orders", "fault": "timeout_after_create", "n": 1}),
    (2, {"kind": "orders", "fault": "EGW00201", "n": 2}),
    (1, {"kind": "orders", "fault": "reject", "n": 1}),
    (2, {"kind": "answer_delay"}),
    (2, {"kind": "path", "path": "inquire-daily-ccld", "status": 500, "n": 2}),
    (1, {"kind": "path", "path": "inquire-balance", "status": 500, "n": 1}),
)


class KisFakeBroker(BrokerProcess):
    """tests/fakekis behind engine.chaos.kisfake: REST and websocket, plus a control port."""

    name = "kis"
    symbols = kisfake.SYMBOLS

    def __init__(self, workdir: Path, repo: Path, python: str, seed: int, cash: int) -> None:
        super().__init__(workdir, repo, python, seed, cash)
        self.url = ""
        self.control = ""

    def start(self) -> None:
        line = self._spawn(
            [
                self.python,
                "-m",
                "engine.chaos.kisfake",
                "--port",
                "0",
                "--control-port",
                "0",
                "--seed",
                str(self.seed),
                "--cash",
                str(self.cash),
            ],
            "KISFAKE LISTENING",
        )
        words = line.split()
        self.url, self.control = words[2], words[4]

    def agent_env(self) -> dict[str, str]:
        return {
            "BROKER": "kis",
            "KIS_ENV": "paper",
            "KIS_APP_KEY": kisfake.APP_KEY,
            "KIS_APP_SECRET": kisfake.APP_SECRET,
            "KIS_ACCOUNT": kisfake.ACCOUNT,
            "KIS_HTS_ID": kisfake.HTS_ID,
            "KIS_REST_URL": self.url,
            "KIS_WS_URL": self.url.replace("http://", "ws://") + "/tryitout",
        }

    def _fault(self, spec: dict[str, Any]) -> str:
        return str(http_json("POST", self.control + "/fault", spec)["done"])

    def disrupt(self, rng: random.Random) -> str:
        weights = [w for w, _ in KIS_FAULTS]
        spec = dict(rng.choices([s for _, s in KIS_FAULTS], weights)[0])
        if spec["kind"] == "answer_delay":
            spec["delay"] = round(rng.uniform(0.5, 3.0), 2)
        if spec.get("fault") == "timeout_after_create":
            # Past the adapter's 10 s HTTP time-out half of the time: an ambiguous send.
            spec["delay"] = round(rng.uniform(2.0, 14.0), 2)
        self.faults += 1
        return "KIS fake: " + self._fault(spec)

    def settle(self) -> None:
        self._fault({"kind": "clear"})
        self._fault({"kind": "tape", "paused": False})

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = http_json("GET", self.control + "/state")
        return state

    def _fetch_quotes(self) -> dict[str, Quote]:
        return {code: Quote(p["last"], p["lower"], p["upper"]) for code, p in self._state()["prices"].items()}

    def open_order_ids(self) -> list[str]:
        return [
            o["odno"]
            for o in self._state()["orders"]
            if o["kind"] == "new" and o["status"] == "open" and o["remaining"] > 0
        ]

    def snapshot(self) -> BrokerState:
        state = self._state()
        rate, tax_rate = state["commission_rate"], state["sell_tax_rate"]
        status = {
            "open": OPEN,
            "filled": FILLED,
            "cancelled": CANCELLED,
            "rejected": REJECTED,
            "replaced": CANCELLED,
        }
        orders: list[BrokerOrder] = []
        fills: list[BrokerFill] = []
        for o in state["orders"]:
            if o["kind"] != "new":
                continue  # cancel records are not orders of their own
            orders.append(
                BrokerOrder(
                    o["odno"],
                    None,
                    o["symbol"],
                    o["side"],
                    o["qty"],
                    o["price"] or None,
                    status.get(o["status"], o["status"]),
                    o["filled"],
                    int(o["created_at"] * 1e9),
                )
            )
            for qty, price in o["fills"]:
                amount = qty * price
                fills.append(
                    BrokerFill(
                        None,
                        o["odno"],
                        o["symbol"],
                        o["side"],
                        qty,
                        price,
                        int(amount * rate),
                        int(amount * tax_rate) if o["side"] == "sell" else 0,
                    )
                )
        return BrokerState(
            "kis", tuple(orders), tuple(fills), state["cash"], dict(state["positions"]), fill_ids=False
        )


def make_broker(kind: str, workdir: Path, repo: Path, python: str, seed: int, cash: int) -> BrokerProcess:
    if kind == "sim":
        return SimBroker(workdir, repo, python, seed, cash)
    if kind == "kis":
        return KisFakeBroker(workdir, repo, python, seed, cash)
    raise ValueError(f"unknown broker {kind!r}: use sim or kis")
