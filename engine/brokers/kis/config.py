"""KIS settings from the environment. App key, secret and tokens are secrets: never shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.envparse import ConfigError

URLS = {  # shared/reference/brokers.md 2.1
    "real": ("https://openapi.koreainvestment.com:9443", "ws://ops.koreainvestment.com:21000"),
    "paper": ("https://openapivts.koreainvestment.com:29443", "ws://ops.koreainvestment.com:31000"),
}
ACCOUNT = re.compile(r"^\d{8}-\d{2}$")


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

    @property
    def paper(self) -> bool:
        return self.env == "paper"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KisConfig:
        problems: list[str] = []

        def get(name: str) -> str:
            return env.get(name, "").strip()

        kis_env = get("KIS_ENV").lower() or "paper"
        if kis_env not in URLS:
            problems.append(f"KIS_ENV must be paper or real; got {kis_env!r}")
            kis_env = "paper"
        key, secret = get("KIS_APP_KEY"), get("KIS_APP_SECRET")
        if len(key) < 16:
            problems.append("KIS_APP_KEY is missing or too short (hidden): copy the app key from "
                            "the KIS Developers portal")
        if len(secret) < 16:
            problems.append("KIS_APP_SECRET is missing or too short (hidden): copy the app secret "
                            "from the KIS Developers portal")
        account = get("KIS_ACCOUNT")
        if not ACCOUNT.match(account):
            problems.append(f"KIS_ACCOUNT must be 8 digits, a dash and 2 digits, e.g. 12345678-01; "
                            f"got {account!r}")
        hts_id = get("KIS_HTS_ID")
        if not hts_id:
            problems.append("KIS_HTS_ID is missing: your HTS login id (fill notices are keyed by it)")
        if kis_env == "real" and get("LIVE_TRADING").lower() != "yes":
            problems.append("KIS_ENV=real trades real money: set LIVE_TRADING=yes to allow it "
                            "(or use KIS_ENV=paper)")
        if problems:
            raise ConfigError("Invalid KIS configuration:\n" + "\n".join(f"- {p}" for p in problems))
        rest, ws = URLS[kis_env]
        return cls(env=kis_env, app_key=key, app_secret=secret, account=account, hts_id=hts_id,
                   rest_url=get("KIS_REST_URL") or rest, ws_url=get("KIS_WS_URL") or ws,
                   requests_per_second=20.0 if kis_env == "real" else 2.0)
