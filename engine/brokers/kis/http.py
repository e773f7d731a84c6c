"""KIS REST: the access token (cached on disk, at most one issuance a minute), the websocket
approval key, paced requests, the response envelope, and tr_cont continuation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from engine.brokers.base import BrokerError, unreachable
from engine.brokers.kis import codec
from engine.brokers.kis.config import KisConfig
from engine.clock import SEOUL, Clock

log = logging.getLogger(__name__)

TOKEN_MIN_INTERVAL = 61.0  # KIS: one issuance per minute (EGW00133)
RATE_RETRIES = 6


class Pacer:
    """Spaces requests to at most `rate` per second, so EGW00201 stays the exception."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


# The app key or secret itself refused (KIS answers these with HTTP 500, so the code decides).
CREDENTIAL_ERRORS = frozenset({"EGW00103", "EGW00105"})


class KisHttp:
    def __init__(self, config: KisConfig, token_path: Path, clock: Clock | None = None,
                 timeout: float = 10.0) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.token_path = token_path
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.pacer = Pacer(config.requests_per_second)
        self._token: str | None = None
        self._rejected: str | None = None
        self._token_lock = asyncio.Lock()
        self.tokens_issued = 0
        self.rate_limited = 0
        # Which token belongs to which app key, without writing the key itself anywhere.
        self._fingerprint = hashlib.sha256(
            f"{config.env}:{config.app_key}".encode()).hexdigest()[:16]

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        return self.config.rest_url.rstrip("/") + path

    async def _post_json(self, path: str, body: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if self._session is None:  # not connected yet: reported like any outage
            raise BrokerError("unreachable", "not connected to KIS yet", retryable=True)
        try:
            async with self._session.post(self._url(path), json=dict(body)) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise unreachable("KIS", exc) from None

    # ---- token and approval key ----------------------------------------------------------

    def _load_cached(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.token_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if data.get("fingerprint") == self._fingerprint else {}

    def _save_cached(self, data: dict[str, Any]) -> None:
        self.token_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.token_path.with_suffix(".tmp")
        # The token is a credential: only the owner may read it.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**data, "fingerprint": self._fingerprint}, f)
        tmp.replace(self.token_path)

    async def token(self) -> str:
        """The cached token while it has more than a minute left; else a new one, never more
        often than once a minute (a second request within the minute is refused: EGW00133)."""
        async with self._token_lock:
            if self._token is not None:
                return self._token
            cached = await asyncio.to_thread(self._load_cached)
            if (cached.get("token") and cached.get("token") != self._rejected
                    and cached.get("expires_at", 0) > self.clock.time() + 60):
                self._token = str(cached["token"])
                return self._token
            wait = cached.get("issued_at", 0) + TOKEN_MIN_INTERVAL - self.clock.time()
            if wait > 0:
                log.info("KIS token issued %.0fs ago; waiting %.0fs (one per minute)",
                         TOKEN_MIN_INTERVAL - wait, wait)
                await asyncio.sleep(wait)
            status, body = await self._post_json("/oauth2/tokenP", {
                "grant_type": "client_credentials", "appkey": self.config.app_key,
                "appsecret": self.config.app_secret})
            if status != 200 or "access_token" not in body:
                err = codec.error_from(body)
                if err.code == "EGW00133":
                    await asyncio.to_thread(self._save_cached, {"issued_at": self.clock.time()})
                if err.code in CREDENTIAL_ERRORS or status in (401, 403):
                    # The key pair itself was refused: name the settings, never their values.
                    raise BrokerError("credentials", "credentials refused: check KIS_APP_KEY / "
                                      f"KIS_APP_SECRET (KIS said {err.code}: {err.message})")
                raise BrokerError(err.code, err.message, retryable=err.retryable)
            self.tokens_issued += 1
            expires = self._expiry(body)
            self._token = str(body["access_token"])
            await asyncio.to_thread(self._save_cached, {"token": self._token, "expires_at": expires,
                                                        "issued_at": self.clock.time()})
            return self._token

    def _expiry(self, body: Mapping[str, Any]) -> float:
        text = body.get("access_token_token_expired")
        if isinstance(text, str):
            try:
                return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SEOUL).timestamp()
            except ValueError:
                pass
        return self.clock.time() + float(body.get("expires_in", 86_400))

    def forget_token(self) -> None:
        """KIS rejected the token: do not use it again, but keep its issue time on disk, so the
        next issuance still respects the one-a-minute rule."""
        self._rejected, self._token = self._token, None

    async def approval_key(self) -> str:
        status, body = await self._post_json("/oauth2/Approval", {
            "grant_type": "client_credentials", "appkey": self.config.app_key,
            "secretkey": self.config.app_secret})  # `secretkey` here, not `appsecret`
        if status != 200 or "approval_key" not in body:
            err = codec.error_from(body)
            raise BrokerError(err.code, err.message, retryable=err.retryable)
        return str(body["approval_key"])

    # ---- API requests --------------------------------------------------------------------

    async def request(self, method: str, path: str, tr: str, *, body: Mapping[str, str] | None = None,
                      params: Mapping[str, str] | None = None,
                      tr_cont: str = "") -> tuple[dict[str, Any], str]:
        """One API call: returns (body, response tr_cont). EGW00201 (rate) is waited out and
        retried, since KIS did not act on it; an expired token is renewed once. A transport
        failure or a 5xx is raised as retryable: the caller decides whether resending is safe."""
        if self._session is None:  # not connected yet: reported like any outage
            raise BrokerError("unreachable", "not connected to KIS yet", retryable=True)
        renewed = False
        for attempt in range(RATE_RETRIES):
            await self.pacer.wait()
            headers = {"content-type": "application/json; charset=utf-8",
                       "authorization": f"Bearer {await self.token()}",
                       "appkey": self.config.app_key, "appsecret": self.config.app_secret,
                       "tr_id": codec.tr_id(tr, self.config.env), "custtype": "P", "tr_cont": tr_cont}
            try:
                async with self._session.request(method, self._url(path), headers=headers,
                                                 json=dict(body) if body is not None else None,
                                                 params=dict(params) if params else None) as resp:
                    status = resp.status
                    next_cont = resp.headers.get("tr_cont", "")
                    text = await resp.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise unreachable("KIS", exc) from None
            try:
                data: dict[str, Any] = json.loads(text) if text else {}
            except ValueError:
                data = {}
            if data.get("rt_cd") == "0":
                return data, next_cont
            err = codec.error_from(data) if data else codec.KisError(f"http_{status}", "", True)
            if err.code == "EGW00201":
                self.rate_limited += 1
                await asyncio.sleep(0.25 * (attempt + 1))
                continue
            if err.code in ("EGW00121", "EGW00123") and not renewed:
                renewed = True
                self.forget_token()
                continue
            if status >= 500 or not data:
                raise BrokerError(f"http_{status}", f"KIS answered HTTP {status}", retryable=True)
            raise BrokerError(err.code, err.message, retryable=False)
        raise BrokerError("EGW00201", "KIS rate limit persisted; try again shortly", retryable=True)

    async def pages(self, path: str, tr: str, params: Mapping[str, str],
                    list_key: str = "output1") -> tuple[list[dict[str, Any]], Any]:
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
