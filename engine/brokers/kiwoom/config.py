"""Kiwoom settings from the environment. The app key, the secret key and tokens are secrets:
never shown, not even in a refusal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.brokers.common.settings import BrokerEnv

if TYPE_CHECKING:
    from engine.brokers.base import Broker
    from engine.brokers.registry import BrokerContext

# shared/reference/brokers.md 3.1: the real and the paper (모의투자, KRX only) hosts.
URLS = {
    "real": ("https://api.kiwoom.com", "wss://api.kiwoom.com:10000/api/dostk/websocket"),
    "paper": ("https://mockapi.kiwoom.com", "wss://mockapi.kiwoom.com:10000/api/dostk/websocket"),
}
# brokers.md 3.6, as quoted by third parties (UNCONFIRMED): 5 orders/s and 5 queries/s on real,
# 1 query/s on paper. Paper orders are not stated; the 5/s order rule is assumed to hold there.
RATES = {"real": (5.0, 5.0), "paper": (5.0, 1.0)}


@dataclass(frozen=True, slots=True)
class KiwoomConfig:
    env: str  # paper | real
    app_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    rest_url: str = ""
    ws_url: str = ""
    # Requests a second on each of Kiwoom's two budgets (0: unpaced, for tests).
    orders_per_second: float = 5.0
    queries_per_second: float = 1.0

    @property
    def paper(self) -> bool:
        return self.env == "paper"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.app_key, self.secret_key)

    def create(self, context: BrokerContext) -> Broker:
        from engine.brokers.kiwoom.client import KiwoomBroker

        return KiwoomBroker(self, context.data_dir, context.costs, context.clock)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KiwoomConfig:
        read = BrokerEnv(environ, "KIWOOM", "Kiwoom")
        kiwoom_env = read.environment()
        where = f"the Kiwoom REST API portal ({kiwoom_env} key)"
        key, secret = read.key("APP_KEY", where), read.key("SECRET_KEY", where)
        rest_url, ws_url = read.urls(*URLS[kiwoom_env])
        default_orders, default_queries = RATES[kiwoom_env]
        orders = read.settings.number("KIWOOM_ORDERS_PER_SECOND", default_orders, 0.1, 50.0, "requests/s")
        queries = read.settings.number("KIWOOM_QUERIES_PER_SECOND", default_queries, 0.1, 50.0, "requests/s")
        read.check(kiwoom_env)
        return cls(
            env=kiwoom_env,
            app_key=key,
            secret_key=secret,
            rest_url=rest_url,
            ws_url=ws_url,
            orders_per_second=orders,
            queries_per_second=queries,
        )


def from_env(environ: Mapping[str, str]) -> KiwoomConfig:
    return KiwoomConfig.from_env(environ)
