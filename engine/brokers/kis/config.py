"""KIS settings from the environment. App key, secret and tokens are secrets: never shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.envparse import ConfigError, Env, shown_value

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
        problems: list[str] = []

        def get(name: str) -> str:
            return env.get(name, "").strip()

        kis_env = get("KIS_ENV").lower() or "paper"
        if kis_env not in URLS:
            problems.append(f"KIS_ENV must be paper or real; got {shown_value(kis_env)}")
            kis_env = "paper"
        key, secret = get("KIS_APP_KEY"), get("KIS_APP_SECRET")
        for name, value in (("KIS_APP_KEY", key), ("KIS_APP_SECRET", secret)):
            if not 16 <= len(value) <= 512 or not (value.isascii() and value.isprintable()) \
                    or " " in value:
                problems.append(f"{name} is missing, too short or not plain text (hidden): copy "
                                "it from the KIS Developers portal, without quotes or spaces")
        account = get("KIS_ACCOUNT")
        if not ACCOUNT.match(account):
            problems.append(f"KIS_ACCOUNT must be 8 digits, a dash and 2 digits, e.g. 12345678-01; "
                            f"got {shown_value(account)}")
        hts_id = get("KIS_HTS_ID")
        if not hts_id:
            problems.append("KIS_HTS_ID is missing: your HTS login id (fill notices are keyed by it)")
        elif not HTS_ID.fullmatch(hts_id):
            problems.append("KIS_HTS_ID must be your HTS login id (letters, digits, _ or -, up to "
                            f"16); got {shown_value(hts_id)}")
        settings = Env(env)  # the shared parsers, for the values they cover
        rest_url = settings.url("KIS_REST_URL", ("https", "http"))
        ws_url = settings.url("KIS_WS_URL", ("wss", "ws"))
        poll = settings.number("KIS_CONDITION_POLL_SECONDS", 3.0, 1.0, 600.0, "seconds")
        live = settings.boolean("LIVE_TRADING", False)
        problems += settings.problems
        if kis_env == "real" and not live:
            problems.append("KIS_ENV=real trades real money: set LIVE_TRADING=yes to allow it "
                            "(or use KIS_ENV=paper)")
        if problems:
            raise ConfigError("Invalid KIS configuration", problems)
        rest, ws = URLS[kis_env]
        return cls(env=kis_env, app_key=key, app_secret=secret, account=account, hts_id=hts_id,
                   rest_url=rest_url or rest, ws_url=ws_url or ws,
                   requests_per_second=18.0 if kis_env == "real" else 2.0,
                   condition_poll_seconds=poll)


def from_env(environ: Mapping[str, str]) -> KisConfig:
    return KisConfig.from_env(environ)
