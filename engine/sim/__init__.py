"""The simulated KRX exchange: a seeded tape, condition search and an account, served over
HTTP and a websocket as engine.sim.protocol describes."""

from engine.sim.config import SimConfig
from engine.sim.server import SimExchange

__all__ = ["SimConfig", "SimExchange"]
