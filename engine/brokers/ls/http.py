"""LS REST: the access token (form-encoded, cached on disk, revoked on request), requests on
per-TR budgets, the rsp_cd envelope, and tr_cont continuation.

What a failure means decides what may happen next, because an order must never be lost or
doubled: a rate refusal or a token refusal comes from LS's gateway before the TR runs, so the
request is sent again; any other answer carrying an rsp_cd is LS's final word; no answer at all
(a time-out, a bare 5xx) may or may not have reached LS, and is raised as retryable for the
caller, who alone knows whether resending is safe (orders look themselves up first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.brokers.base import BrokerError
from engine.brokers.common.pacing import Pacer, Priority
from engine.brokers.common.session import HttpSession
from engine.brokers.common.tokens import TokenCache
from engine.brokers.ls import codec
from engine.brokers.ls.config import LsConfig
from engine.clock import Clock

log = logging.getLogger(__name__)

# Whether LS limits how often a token may be issued is UNCONFIRMED (brokers.md 1.2): a short
# floor keeps a refusing server from being asked for one token per request.
TOKEN_MIN_INTERVAL = 1.0
RATE_BACKOFF = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)  # waits after a rate refusal (~12 s in all)
MAX_PAGES = 200

Cursor = Callable[[dict[str, Any]], Mapping[str, Any]]


class LsHttp:
    def __init__(
        self, config: LsConfig, token_path: Path, clock: Clock | None = None, timeout: float = 10.0
    ) -> None:
        self.config = config
        self.clock = clock or Clock()
        # Budgets are per TR, so the session itself does not pace; each request waits on its
        # TR's pacer first (orders ahead of queries within a TR).
        self.session = HttpSession("LS", config.rest_url, Pacer(0), timeout)
        self.pacers: dict[str, Pacer] = {}
        self.tokens = TokenCache(
            token_path,
            f"{config.env}:{config.app_key}",
            self.clock,
            self._issue,
            min_interval=TOKEN_MIN_INTERVAL,
        )
        self.rate_limited = 0
        self.renewed = 0

    @property
    def tokens_issued(self) -> int:
        return self.tokens.issued

    def pacer(self, tr: str) -> Pacer:
        pacer = self.pacers.get(tr)
        if pacer is None:
            pacer = self.pacers[tr] = Pacer(codec.rate_of(tr) if self.config.paced else 0)
        return pacer

    async def open(self) -> None:
        await self.session.open()

    async def close(self) -> None:
        await self.session.close()

    def _clean(self, text: str) -> str:
        token = self.tokens.current or ""
        return codec.scrub(text, (*self.config.secrets, token))

    # ---- token ---------------------------------------------------------------------------

    async def _issue(self) -> tuple[str, float]:
        reply = await self.session.send(
            "POST", codec.TOKEN_PATH, data=codec.token_form(self.config.app_key, self.config.app_secret)
        )
        body = codec.json_object(reply.body)
        if reply.status == 200 and body is not None:
            try:
                return codec.token_answer(body, self.clock.time())
            except codec.LsDecodeError as exc:
                raise BrokerError(
                    "token", f"LS answered the token request oddly: {exc}", retryable=True
                ) from None
        said = self._clean(codec.one_line(str((body or {}).get("rsp_msg", ""))))
        code = str((body or {}).get("rsp_cd", f"http_{reply.status}"))
        if reply.status >= 500:
            # LS's token errors are undocumented (UNCONFIRMED): a 5xx is taken as LS's trouble,
            # not the key's, and tried again later.
            raise BrokerError(
                code,
                f"LS answered HTTP {reply.status} to the token request" + (f": {said}" if said else ""),
                retryable=True,
            )
        # The key pair refused: name the settings, never their values.
        raise BrokerError(
            "credentials",
            "credentials refused: check LS_APP_KEY / LS_APP_SECRET "
            f"(LS said {code}: {said or 'no reason given'})",
        )

    async def token(self) -> str:
        return await self.tokens.get()

    def forget_token(self) -> None:
        self.tokens.reject()

    async def revoke(self) -> bool:
        """Revoke the access token at LS and forget it here; False when there was none."""
        token = await self.tokens.forget()
        if token is None:
            return False
        reply = await self.session.send(
            "POST",
            codec.REVOKE_PATH,
            data=codec.revoke_form(self.config.app_key, self.config.app_secret, token),
        )
        if reply.status != 200 or not codec.revoked(codec.json_object(reply.body)):
            raise BrokerError(
                f"http_{reply.status}",
                "LS did not confirm the revocation "
                f"(HTTP {reply.status}); the token is forgotten here anyway",
            )
        return True

    # ---- requests ------------------------------------------------------------------------

    async def request(
        self,
        tr: str,
        fields: Mapping[str, Any],
        *,
        priority: Priority = Priority.QUERY,
        cont: bool = False,
        cont_key: str = "",
    ) -> codec.Answer:
        """One TR call, answered with success: a refusal raises a BrokerError that is not
        retryable, no answer one that is."""
        path = codec.PATHS[tr]
        body = codec.request_body(tr, fields)
        renewed = False
        for attempt in range(len(RATE_BACKOFF) + 1):
            await self.pacer(tr).wait(priority)
            headers = codec.rest_headers(await self.token(), tr, cont, cont_key)
            reply = await self.session.send("POST", path, priority=priority, headers=headers, json=body)
            answer = codec.parse_answer(reply.body, reply.headers)
            if answer is None:
                if reply.status == 401 and not renewed:
                    renewed = True
                    self._renew()
                    continue
                # No envelope: the gateway or a proxy answered, and whether LS acted is unknown.
                raise BrokerError(
                    f"http_{reply.status}",
                    f"LS answered HTTP {reply.status} without a result to {tr}",
                    retryable=reply.status >= 500,
                )
            if answer.ok:
                return answer
            if answer.code == codec.RATE_LIMITED and attempt < len(RATE_BACKOFF):
                self.rate_limited += 1
                log.info("LS rate limit on %s; waiting %.1fs", tr, RATE_BACKOFF[attempt])
                await asyncio.sleep(RATE_BACKOFF[attempt])
                continue
            if answer.code in codec.TOKEN_REFUSED and not renewed:
                renewed = True
                self._renew()
                continue
            raise BrokerError(
                answer.code,
                self._clean(codec.describe(answer.code, answer.message)),
                retryable=answer.code == codec.RATE_LIMITED,
            )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _renew(self) -> None:
        self.renewed += 1
        log.info("LS refused the access token; requesting a new one")
        self.forget_token()

    async def pages(
        self, tr: str, fields: Mapping[str, Any], cursor: Cursor, priority: Priority = Priority.QUERY
    ) -> list[dict[str, Any]]:
        """Every page of a listing. LS says another page follows with the response header
        tr_cont Y; the next request sends tr_cont Y, the tr_cont_key it got, and the TR's own
        cursor fields copied from the answer (`cursor`), all three, as the portal describes
        (which of them LS reads is UNCONFIRMED)."""
        bodies: list[dict[str, Any]] = []
        query = dict(fields)
        cont, key = False, ""
        for _ in range(MAX_PAGES):
            answer = await self.request(tr, query, priority=priority, cont=cont, cont_key=key)
            bodies.append(answer.body)
            following = {k: v for k, v in cursor(answer.body).items() if str(v).strip()}
            if not answer.more or not following:
                return bodies
            query.update(following)
            cont = True
            key = answer.cont_key or "".join(str(v) for v in following.values())
        raise BrokerError("paging", f"LS kept announcing more pages of {tr}; stopped after {MAX_PAGES}")
