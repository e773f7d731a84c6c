"""KIS settings from the environment. App key, secret and tokens are secrets: never shown."""

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

URLS = {  # shared/reference/brokers.md 2.1
    "real": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "paper": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
ACCOUNT = re.compile(r"^[0-9]{8}-[0-9]{2}$")
HTS_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True, slots=True)
class KisConfig:
    env: str  # paper | real
    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    account: str = ""
    hts_id: str = ""
    rest_url: str = ""
    ws_url: str = ""
    # KIS documents ~20 requests/s real and the official sample paces paper at 2/s.
    requests_per_second: float = 0.0
    # psearch-result is asked this often per watched condition (KIS pushes no conditions).
    condition_poll_seconds: float = 3.0

    @property
    def paper(self) -> bool:
        return self.env == "paper"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.app_key, self.app_secret)

    def create(self, context: BrokerContext) -> Broker:
        from engine.brokers.kis.client import KisBroker

        return KisBroker(self, context.data_dir, context.costs, context.clock)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KisConfig:
        read = BrokerEnv(env, "KIS", "KIS")
        kis_env = read.environment()
        key = read.key("APP_KEY", "the KIS Developers portal")
        secret = read.key("APP_SECRET", "the KIS Developers portal")
        account = read.get("ACCOUNT")
        if not ACCOUNT.match(account):
            read.problems.append(
                "KIS_ACCOUNT must be 8 digits, a dash and 2 digits, e.g. "
                f"12345678-01; got {shown_value(account)}"
            )
        hts_id = read.get("HTS_ID")
        if not hts_id:
            read.problems.append("KIS_HTS_ID is missing: your HTS login id (fill notices are keyed by it)")
        elif not HTS_ID.fullmatch(hts_id):
            read.problems.append(
                "KIS_HTS_ID must be your HTS login id (letters, digits, _ or -, "
                f"up to 16); got {shown_value(hts_id)}"
            )
        rest_url, ws_url = read.urls(*URLS[kis_env])
        poll = read.settings.number("KIS_CONDITION_POLL_SECONDS", 3.0, 1.0, 600.0, "seconds")
        read.check(kis_env)
        return cls(
            env=kis_env,
            app_key=key,
            app_secret=secret,
            account=account,
            hts_id=hts_id,
            rest_url=rest_url,
            ws_url=ws_url,
            requests_per_second=18.0 if kis_env == "real" else 2.0,
            condition_poll_seconds=poll,
        )


def from_env(environ: Mapping[str, str]) -> KisConfig:
    return KisConfig.from_env(environ)
