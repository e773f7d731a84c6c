"""Kiwoom REST: the au10001 token (cached on disk, renewed when refused), every call a POST
with its api-id, the return_code/return_msg envelope, cont-yn/next-key continuation, and the two
request budgets (orders and queries), with 1700 waited out."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.brokers.base import BrokerError
from engine.brokers.common.pacing import Pacer, Priority
from engine.brokers.common.session import HttpSession
from engine.brokers.common.tokens import TokenCache
from engine.brokers.kiwoom import codec
from engine.brokers.kiwoom.config import KiwoomConfig
from engine.clock import Clock

log = logging.getLogger(__name__)

VENUE = "Kiwoom"
CONTENT_TYPE = "application/json;charset=UTF-8"
RATE_RETRIES = 6  # 1700 waits: 0.5 s, 1 s, ... 3 s, then the caller is told to try later
PAGE_LIMIT = 200  # a listing that keeps saying "more" stops here, said as an error
# Seconds a token is not asked for again after the last issue (nothing is published; this keeps
# a refused-token loop from hammering au10001).
TOKEN_MIN_INTERVAL = 1.0
# The pacers run a little under the published rate: the server counts its sliding second as
# the requests arrive, and network jitter can bunch them.
MARGIN = 0.9


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class KiwoomHttp:
    def __init__(self, config: KiwoomConfig, token_path: Path, clock: Clock, timeout: float = 10.0) -> None:
        self.config = config
        self.clock = clock
        # The shared session is not paced itself: each call waits on its own budget below.
        self.session = HttpSession(VENUE, config.rest_url, Pacer(0), timeout)
        # Kiwoom counts orders and queries on separate budgets: one pacer each, so an order
        # never waits for a query's slot, and queries may use the whole of their own.
        self.pacers = {
            Priority.ORDER: Pacer(config.orders_per_second * MARGIN),
            Priority.QUERY: Pacer(config.queries_per_second * MARGIN, query_share=1.0),
        }
        self.tokens = TokenCache(
            token_path,
            f"kiwoom:{config.env}:{config.app_key}",
            clock,
            self._issue,
            min_interval=TOKEN_MIN_INTERVAL,
        )
        self.rate_limited = 0  # 1700 answers waited out
        self.renewals = 0  # tokens renewed after a refusal

    async def open(self) -> None:
        await self.session.open()

    async def close(self) -> None:
        await self.session.close()

    # ---- the token ----------------------------------------------------------------------------

    async def token(self) -> str:
        return await self.tokens.get()

    def refuse_token(self) -> None:
        """Kiwoom refused the token (8005/8031/8103): the next call gets a new one."""
        self.renewals += 1
        self.tokens.reject()

    async def _post(
        self,
        path: str,
        api_id: str,
        body: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        priority: Priority | None = None,
    ) -> tuple[int, Mapping[str, str], dict[str, Any] | None]:
        if priority is not None:
            await self.pacers[priority].wait(priority)
        reply = await self.session.send(
            "POST",
            path,
            headers={"content-type": CONTENT_TYPE, "api-id": api_id, **(headers or {})},
            json=dict(body),
        )
        return reply.status, reply.headers, _json(reply.body)

    async def _issue(self) -> tuple[str, float]:
        status, _, body = await self._post(
            codec.TOKEN_PATH,
            codec.TOKEN_API,
            {
                "grant_type": "client_credentials",
                "appkey": self.config.app_key,
                "secretkey": self.config.secret_key,
            },
        )
        if body is None or codec.return_code(body) != 0:
            if body is None or status >= 500:
                raise BrokerError(
                    f"http_{status}", f"Kiwoom answered HTTP {status} to the token request", retryable=True
                )
            codes = codec.codes_of(body)
            said = f"{codec.return_code(body)}: {str(body.get('return_msg', '')).strip()}"
            if codes & codec.RATE_LIMIT_CODES:
                raise BrokerError("1700", f"Kiwoom rate limit on the token request ({said})", retryable=True)
            if codes & codec.CREDENTIAL_CODES:
                # The key pair itself: name the settings, never their values.
                raise BrokerError(
                    "credentials",
                    "credentials refused: check KIWOOM_APP_KEY / "
                    f"KIWOOM_SECRET_KEY and KIWOOM_ENV={self.config.env} "
                    f"(Kiwoom said {said})",
                )
            raise BrokerError(str(codec.return_code(body)), f"Kiwoom refused the token ({said})")
        try:
            return codec.token_expiry(body)
        except codec.KiwoomDecodeError as exc:
            raise BrokerError("bad_answer", f"Kiwoom's token answer did not parse: {exc}") from None

    async def revoke(self) -> bool:
        """Revoke the access token at Kiwoom (au10002) and forget it here. False when there
        was none."""
        token = await self.tokens.forget()
        if token is None:
            return False
        status, _, body = await self._post(
            codec.REVOKE_PATH,
            codec.REVOKE_API,
            {"appkey": self.config.app_key, "secretkey": self.config.secret_key, "token": token},
        )
        if body is None or codec.return_code(body) != 0:
            said = str((body or {}).get("return_msg", f"HTTP {status}")).strip()
            raise BrokerError(str(codec.return_code(body or {})), f"Kiwoom did not revoke the token ({said})")
        return True

    # ---- API calls ----------------------------------------------------------------------------

    async def call(
        self,
        path: str,
        api_id: str,
        body: Mapping[str, str],
        *,
        priority: Priority = Priority.QUERY,
        cont_yn: str = "",
        next_key: str = "",
    ) -> tuple[dict[str, Any], str, str]:
        """One call: (body, cont-yn, next-key of the answer). 1700 (the server did nothing) is
        waited out and sent again; a refused token is renewed once. A transport failure or a
        5xx is raised as retryable: whether a resend is safe is the caller's decision (an order
        may have been made)."""
        renewed = False
        for attempt in range(RATE_RETRIES):
            headers = {"authorization": f"Bearer {await self.token()}"}
            if cont_yn:
                headers |= {"cont-yn": cont_yn, "next-key": next_key}
            status, reply_headers, data = await self._post(path, api_id, body, headers, priority)
            code = codec.return_code(data) if data is not None else None
            if data is not None and code == 0 and status < 400:
                return data, reply_headers.get("cont-yn", ""), reply_headers.get("next-key", "")
            codes = codec.codes_of(data) if data is not None else set()
            if codes & codec.RATE_LIMIT_CODES:
                self.rate_limited += 1
                log.info("Kiwoom rate limit on %s; waiting before sending it again", api_id)
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            if codes & codec.TOKEN_RETRY_CODES and not renewed:
                renewed = True
                log.info("Kiwoom refused the token (%s); renewing it once", sorted(codes))
                self.refuse_token()
                continue
            if data is None or code is None or status >= 500:
                # No envelope, or a server error: the request may or may not have been acted on.
                raise BrokerError(
                    f"http_{status}",
                    f"Kiwoom answered HTTP {status} to {api_id}",
                    retryable=status >= 500 or (status < 400 and data is None),
                )
            message = str(data.get("return_msg", "")).strip() or f"return_code {code}"
            raise BrokerError(
                str(code), f"Kiwoom refused {api_id}: {message}", retryable=False, cause=message
            )
        raise BrokerError(
            "1700", f"Kiwoom's rate limit persisted on {api_id}; try again shortly", retryable=True
        )

    async def pages(
        self, path: str, api_id: str, body: Mapping[str, str], list_key: str
    ) -> tuple[list[Any], dict[str, Any]]:
        """Every page of a listing: (its rows, the first page's other fields). The answer says
        more follow with cont-yn Y; the next request sends cont-yn Y and the next-key it gave."""
        rows: list[Any] = []
        first: dict[str, Any] | None = None
        cont, key = "", ""
        for _ in range(PAGE_LIMIT):
            data, more, key = await self.call(path, api_id, body, cont_yn=cont, next_key=key)
            page = data.get(list_key)
            if page is not None and not isinstance(page, list):
                raise BrokerError("bad_answer", f"Kiwoom's {api_id} answer has no {list_key} list")
            rows.extend(page or [])
            if first is None:
                first = {k: v for k, v in data.items() if k != list_key}
            if more != "Y" or not key:
                return rows, first
            cont = "Y"
        raise BrokerError(
            "paging", f"Kiwoom kept announcing more pages of {api_id}; stopped after {PAGE_LIMIT}"
        )
