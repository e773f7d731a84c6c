"""LS settings from the environment. App key, secret and tokens are secrets: never shown.

LS serves paper (모의투자) and real accounts on one REST host; the app key decides which account
it is (shared/reference/brokers.md 1.1). LS_ENV says which one the user means, picks the
websocket port (9443 real, 29443 paper) and, for real, needs LIVE_TRADING=yes. At start-up the
adapter checks that LS answers as the account LS_ENV names (see client.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.brokers.common.settings import BrokerEnv
from engine.envparse import shown_value

if TYPE_CHECKING:
    from engine.brokers.base import Broker
    from engine.brokers.registry import BrokerContext

REST_URL = "https://openapi.ls-sec.co.kr:8080"  # brokers.md 1.1: one host for both
# brokers.md 1.1 and the portal scrape say /websocket; a 2026 re-scrape says /websocket/stock
# (condition-search.md 3.7). The scrape the rest of the reference rests on wins the default;
# LS_WS_URL overrides the whole URL, path included.
WS_URLS = {
    "real": "wss://openapi.ls-sec.co.kr:9443/websocket",
    "paper": "wss://openapi.ls-sec.co.kr:29443/websocket",
}
# t1866InBlock.user_id is String 8 in the portal's table.
USER_ID = re.compile(r"[A-Za-z0-9_-]{1,8}")


@dataclass(frozen=True, slots=True)
class LsConfig:
    env: str  # paper | real
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    user_id: str = ""  # the HTS login id t1866 asks for (condition search only)
    rest_url: str = REST_URL
    ws_url: str = WS_URLS["paper"]
    # Per-TR request budgets (codec.RATES). Off only for tests against a fake without limits.
    paced: bool = True

    @property
    def paper(self) -> bool:
        return self.env == "paper"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.app_key, self.app_secret)

    def create(self, context: BrokerContext) -> Broker:
        from engine.brokers.ls.client import LsBroker

        return LsBroker(self, context.data_dir, context.costs, context.clock)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LsConfig:
        read = BrokerEnv(env, "LS", "LS")
        ls_env = read.environment()
        key = read.key("APP_KEY", "the LS OPEN API portal")
        secret = read.key("APP_SECRET", "the LS OPEN API portal")
        user_id = read.get("USER_ID")
        if user_id and not USER_ID.fullmatch(user_id):
            read.problems.append(
                "LS_USER_ID must be your LS HTS login id (letters, digits, _ or "
                f"-, up to 8, as t1866 takes it); got {shown_value(user_id)}"
            )
        rest_url, ws_url = read.urls(REST_URL, WS_URLS[ls_env])
        read.check(ls_env, " with a paper app key")
        return cls(
            env=ls_env, app_key=key, app_secret=secret, user_id=user_id, rest_url=rest_url, ws_url=ws_url
        )


def from_env(environ: Mapping[str, str]) -> LsConfig:
    return LsConfig.from_env(environ)
