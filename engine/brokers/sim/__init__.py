"""Adapter for the simulated exchange (engine.sim): codec, websocket loop, HTTP client."""

from engine.brokers.sim.client import SimBroker

__all__ = ["SimBroker"]
