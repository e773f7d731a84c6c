"""KIS REST: the access token (cached on disk, at most one issuance a minute), the websocket
approval key, requests on the shared budget (orders first), the response envelope, and tr_cont
continuation."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.brokers.base import BrokerError
from engine.brokers.common.pacing import Pacer, Priority
from engine.brokers.common.session import HttpSession
from engine.brokers.common.tokens import TokenCache
from engine.brokers.kis import codec
from engine.brokers.kis.config import KisConfig
from engine.clock import SEOUL, Clock

log = logging.getLogger(__name__)

TOKEN_MIN_INTERVAL = 61.0  # KIS: one issuance per minute (EGW00133)
RATE_RETRIES = 6
# The app key or secret itself refused (KIS answers these with HTTP 500, so the code decides).
CREDENTIAL_ERRORS = frozenset({"EGW00103", "EGW00105"})


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class KisHttp:
    def __init__(
        self, config: KisConfig, token_path: Path, clock: Clock | None = None, timeout: float = 10.0
    ) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.session = HttpSession("KIS", config.rest_url, Pacer(config.requests_per_second), timeout)
        self.tokens = TokenCache(
            token_path,
            f"{config.env}:{config.app_key}",
            self.clock,
            self._issue,
            min_interval=TOKEN_MIN_INTERVAL,
            too_soon={"EGW00133"},
        )
        self.rate_limited = 0

    @property
    def pacer(self) -> Pacer:
        return self.session.pacer

    @property
    def tokens_issued(self) -> int:
        return self.tokens.issued

    async def open(self) -> None:
        await self.session.open()

    async def close(self) -> None:
        await self.session.close()

    async def _post_json(self, path: str, body: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        reply = await self.session.send("POST", path, json=dict(body))
        return reply.status, _json(reply.body)

    # ---- token and approval key ----------------------------------------------------------

    async def _issue(self) -> tuple[str, float]:
        status, body = await self._post_json(
            "/oauth2/tokenP",
            {
                "grant_type": "client_credentials",
                "appkey": self.config.app_key,
                "appsecret": self.config.app_secret,
            },
        )
        if status != 200 or "access_token" not in body:
            err = codec.error_from(body)
            if err.code in CREDENTIAL_ERRORS or status in (401, 403):
                # The key pair itself was refused: name the settings, never their values.
                raise BrokerError(
                    "credentials",
                    "credentials refused: check KIS_APP_KEY / "
                    f"KIS_APP_SECRET (KIS said {err.code}: {err.message})",
                )
            raise BrokerError(err.code, err.message, retryable=err.retryable)
        return str(body["access_token"]), self._expiry(body)

    async def token(self) -> str:
        return await self.tokens.get()

    def _expiry(self, body: Mapping[str, Any]) -> float:
        text = body.get("access_token_token_expired")
        if isinstance(text, str):
            try:
                return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SEOUL).timestamp()
            except ValueError:
                pass
        return self.clock.time() + float(body.get("expires_in", 86_400))

    def forget_token(self) -> None:
        self.tokens.reject()

    async def revoke(self) -> bool:
        """Revoke the access token at KIS and forget it here (on request: `python -m bot
        revoke`). False when there was none."""
        token = await self.tokens.forget()
        if token is None:
            return False
        status, body = await self._post_json(
            "/oauth2/revokeP",
            {"appkey": self.config.app_key, "appsecret": self.config.app_secret, "token": token},
        )
        if status != 200:
            err = codec.error_from(body)
            raise BrokerError(err.code, err.message)
        return True

    async def approval_key(self) -> str:
        status, body = await self._post_json(
            "/oauth2/Approval",
            {
                "grant_type": "client_credentials",
                "appkey": self.config.app_key,
                "secretkey": self.config.app_secret,
            },
        )  # `secretkey` here, not `appsecret`
        if status != 200 or "approval_key" not in body:
            err = codec.error_from(body)
            raise BrokerError(err.code, err.message, retryable=err.retryable)
        return str(body["approval_key"])

    # ---- API requests --------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        tr: str,
        *,
        body: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        tr_cont: str = "",
        priority: Priority = Priority.QUERY,
    ) -> tuple[dict[str, Any], str]:
        """One API call: returns (body, response tr_cont). EGW00201 (rate) is waited out and
        retried, since KIS did not act on it; an expired token is renewed once. A transport
        failure or a 5xx is raised as retryable: the caller decides whether resending is safe."""
        renewed = False
        for attempt in range(RATE_RETRIES):
            headers = {
                "content-type": "application/json; charset=utf-8",
                "authorization": f"Bearer {await self.token()}",
                "appkey": self.config.app_key,
                "appsecret": self.config.app_secret,
                "tr_id": codec.tr_id(tr, self.config.env),
                "custtype": "P",
                "tr_cont": tr_cont,
            }
            reply = await self.session.send(
                method,
                path,
                priority=priority,
                headers=headers,
                json=dict(body) if body is not None else None,
                params=params,
            )
            data = _json(reply.body)
            if data.get("rt_cd") == "0":
                return data, reply.headers.get("tr_cont", "")
            err = codec.error_from(data) if data else codec.KisError(f"http_{reply.status}", "", True)
            if err.code == "EGW00201":
                self.rate_limited += 1
                await asyncio.sleep(0.25 * (attempt + 1))
                continue
            if err.code in ("EGW00121", "EGW00123") and not renewed:
                renewed = True
                self.forget_token()
                continue
            if reply.status >= 500 or not data:
                raise BrokerError(f"http_{reply.status}", f"KIS answered HTTP {reply.status}", retryable=True)
            raise BrokerError(err.code, err.message, retryable=False)
        raise BrokerError("EGW00201", "KIS rate limit persisted; try again shortly", retryable=True)

    async def pages(
        self, path: str, tr: str, params: Mapping[str, str], list_key: str = "output1"
    ) -> tuple[list[dict[str, Any]], Any]:
        """Every page of a listing: KIS says more follow with tr_cont F/M in the response
        header; the next request sends tr_cont N and the CTX_AREA keys it returned."""
        rows: list[dict[str, Any]] = []
        summary: Any = []  # a list (balance) or an object (daily orders), per TR
        query = dict(params)
        cont = ""
        for _ in range(1000):
            data, next_cont = await self.request("GET", path, tr, params=query, tr_cont=cont)
            rows.extend(data.get(list_key) or [])
            summary = data.get("output2") or summary
            if next_cont not in ("F", "M"):
                return rows, summary
            query["CTX_AREA_FK100"] = str(data.get("ctx_area_fk100", ""))
            query["CTX_AREA_NK100"] = str(data.get("ctx_area_nk100", ""))
            cont = "N"
        raise BrokerError("paging", "KIS kept announcing more pages; stopped after 1000")
