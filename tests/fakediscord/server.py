"""A fake Discord (REST + gateway on one aiohttp port) for the real discord.py client.

Usage in a test::

    fake = FakeDiscord(rate_limit=(5, 1.0))
    await fake.start()
    with fake.patched():                      # Route.BASE and DEFAULT_GATEWAY point at the fake
        bot = MyBot(...)
        await bot.login(fake.token)           # login first: create_task(start()) races wait_until_ready
        task = asyncio.create_task(bot.connect())
        await bot.wait_until_ready()
        itx = await fake.slash("buy", {"symbol": "005930", "qty": 10}, user_id=42,
                               roles=[fake.roles["trader"]])
        (reply,) = await fake.wait_response(itx)
        ...
        await bot.close(); await task
    await fake.stop()

What it records is plain JSON as the bot sent it (snowflakes as strings, as Discord sends them).
Behaviour that discord.py does not check but Discord enforces is enforced here: the 3 s
interaction deadline, single acknowledgement, message/embed/component limits, the option schema
of synced commands (`strict=True` in `slash`), per-channel message rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import mimetypes
import secrets
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord.gateway
import discord.http
import yarl
from aiohttp import BodyPartReader, web

from tests.fakediscord import payloads as P
from tests.fakediscord.gateway import RECONNECT, Gateway
from tests.fakediscord.payloads import JSON, FormErrors
from tests.fakediscord.ratelimit import RateLimiter

log = logging.getLogger(__name__)

API = "/api/v10"
GATEWAY_PATH = "/gateway"
RESUME_GATEWAY_PATH = "/gateway-resume"

DEFAULT_CHANNELS = {"commands": 1001, "signals": 1002, "fills": 1003, "alerts": 1004, "dashboard": 1005}
DEFAULT_ROLES = {"viewer": 2001, "trader": 2002, "admin": 2003}
DEFAULT_ROLE_PERMISSIONS = {"admin": P.ADMINISTRATOR}
ALL_PERMISSIONS = (1 << 51) - 1

# Interaction types and callback types (interactions/receiving-and-responding.mdx).
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE, MODAL}
    ),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
    ),
}
# Message flags a bot may set; EPHEMERAL only on interaction messages.
SETTABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)  # SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, COMPONENTS_V2
GUILDS_INTENT = 1 << 0
GUILD_MESSAGES_INTENT = 1 << 9
DIRECT_MESSAGES_INTENT = 1 << 12
MESSAGE_CONTENT_INTENT = 1 << 15
CHAT_INPUT_COMMAND_MESSAGE = 20
MAX_REQUEST_BYTES = 25 * 1024 * 1024


class CommandRejected(AssertionError):
    """The Discord client would not have sent this (hidden command, missing or out-of-range option,
    a click on someone else's ephemeral message...). Pass strict=False to send it anyway."""


@dataclass
class SentInteraction:
    """Handle on an interaction the fake sent to the bot."""

    id: str
    token: str
    type: int
    sent_at: float  # time.monotonic() when Discord "created" it: the 3 s deadline counts from here
    payload: JSON
    channel_id: int
    user_id: int
    delivered: bool = True  # False: the bot was disconnected; it arrives with the RESUME replay

    @property
    def name(self) -> str | None:
        name = self.payload.get("data", {}).get("name")
        return str(name) if name is not None else None

    @property
    def custom_id(self) -> str | None:
        custom_id = self.payload.get("data", {}).get("custom_id")
        return str(custom_id) if custom_id is not None else None


Interaction = SentInteraction


@dataclass
class _Upload:
    filename: str
    data: bytes


@dataclass
class _InteractionState:
    handle: SentInteraction
    callback_type: int | None = None
    loading: bool = False  # a type-5 defer whose "thinking" message is not resolved yet
    original_id: int | None = None  # the message @original names
    message_ids: list[int] = field(default_factory=list)  # original (if created) + followups


@dataclass
class _Failure:
    method: str
    path_contains: str
    status: int
    body: JSON
    remaining: int


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = "fake-token",
        guild_id: int = 9001,
        app_id: int = 7001,
        bot_user_id: int = 7001,
        channels: dict[str, int] | None = None,
        roles: dict[str, int] | None = None,
        rate_limit: tuple[int, float] | None = None,
        role_permissions: dict[str, int] | None = None,
        owner_id: int = 4242,
        heartbeat_interval_ms: int = 41250,
        interaction_deadline: float = 3.0,
        token_ttl: float = 15 * 60.0,
        privileged_intents: bool = True,
        ratelimit_headers: bool = True,
        port: int = 0,
        guild_name: str = "Tradecord Test",
    ) -> None:
        self.token = token
        self.guild_id = guild_id
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.owner_id = owner_id
        self.guild_name = guild_name
        self.channels: dict[str, int] = dict(DEFAULT_CHANNELS if channels is None else channels)
        self.roles: dict[str, int] = dict(DEFAULT_ROLES if roles is None else roles)
        perms = DEFAULT_ROLE_PERMISSIONS if role_permissions is None else role_permissions
        self.role_permissions: dict[int, int] = {rid: perms.get(name, 0) for name, rid in self.roles.items()}
        self.interaction_deadline = interaction_deadline
        self.token_ttl = token_ttl
        # False strips X-RateLimit-* from successes so the client only learns limits from 429s.
        self.ratelimit_headers = ratelimit_headers
        self.limiter = RateLimiter(rate_limit[0], rate_limit[1]) if rate_limit else None
        self._ids = P.Snowflakes()
        self._port = port or None
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()

        # --- what happened ---
        self.synced_commands: dict[int | None, list[JSON]] = {}
        self.sync_calls = 0
        self.sync_payloads: list[tuple[int | None, Any]] = []  # raw PUT bodies, in order
        # Channel posts (POST /channels/{c}/messages); interaction replies are in interaction_messages.
        self.messages: dict[int, list[JSON]] = defaultdict(list)
        self.interaction_messages: dict[str, list[JSON]] = defaultdict(list)  # interaction id -> its messages
        self.edits: list[JSON] = []
        self.deletions: list[JSON] = []
        self.attachments_data: dict[tuple[int, str], bytes] = {}
        self.posts_per_channel: Counter[int] = Counter()
        self.rate_limited_429s = 0
        self.rate_limited_per_channel: Counter[int] = Counter()
        self.responses: dict[str, list[JSON]] = defaultdict(list)
        self.interactions: dict[str, SentInteraction] = {}
        self.unknown_requests: list[JSON] = []
        self.error_responses: list[JSON] = []  # every 4xx/5xx answered (429s included), in order
        self.server_errors: list[str] = []  # exceptions inside the fake itself: a fake bug
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.user_messages: list[JSON] = []

        self._all_messages: dict[int, JSON] = {}
        self._message_owner: dict[int, int] = {}  # interaction message id -> invoking user id
        self._states: dict[str, _InteractionState] = {}
        self._by_token: dict[str, _InteractionState] = {}
        self._dm_channels: dict[int, int] = {}
        self._failures: list[_Failure] = []
        self.gateway = Gateway(
            token=lambda: self.token,
            ready=self._ready_payload,
            # Discord sends GUILD_CREATE only to sessions with the GUILDS intent.
            guild_creates=lambda intents: [self.guild_payload()] if intents & GUILDS_INTENT else [],
            member_chunk=self._member_chunk,
            heartbeat_interval_ms=heartbeat_interval_ms,
            privileged_intents=privileged_intents,
            on_change=self._notify,
        )

    # ------------------------------------------------------------------ lifecycle / addresses

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1:`port` (0: the port given to the constructor or used before, else any).
        Gateway sessions survive a stop/start of the same instance, so the bot can RESUME."""
        if self._runner is not None:
            raise RuntimeError("FakeDiscord is already running")
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_REQUEST_BYTES)
        self._add_routes(app.router)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", port or self._port or 0)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.info("fake discord serving %s", self.url)

    async def stop(self) -> None:
        """Close gateway sockets (1001, resumable) and stop serving. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self.gateway.close_all()
        await runner.cleanup()
        self._notify()

    async def restart(self, *, downtime: float = 0.0) -> None:
        port = self.port
        await self.stop()
        if downtime:
            await asyncio.sleep(downtime)
        await self.start(port)

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord has no port yet: await start() or pass port= to the constructor")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.url + "/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{RESUME_GATEWAY_PATH}"

    def patch_client(self) -> None:
        """Point discord.py (class-level, so before login) at this fake. The webhook adapter used for
        interaction callbacks and followups builds its URLs from the same Route.BASE."""
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    @staticmethod
    def unpatch_client() -> None:
        discord.http.Route.BASE = _ORIGINAL_ROUTE_BASE
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = _ORIGINAL_GATEWAY

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        self.patch_client()
        try:
            yield self
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved

    # ------------------------------------------------------------------ counters

    @property
    def identifies(self) -> int:
        return self.gateway.identifies

    @property
    def resumes(self) -> int:
        return self.gateway.resumes

    @property
    def connections(self) -> int:
        return self.gateway.connections

    @property
    def identify_payloads(self) -> list[JSON]:
        return self.gateway.identify_payloads

    @property
    def connected(self) -> bool:
        return self.gateway.live_connection() is not None

    # ------------------------------------------------------------------ guild model

    @property
    def bot_user(self) -> JSON:
        return P.user(self.bot_user_id, "tradecord", bot=True)

    def channel_id(self, channel: str | int) -> int:
        if isinstance(channel, int):
            return channel
        try:
            return self.channels[channel]
        except KeyError:
            known = sorted(self.channels)
            raise AssertionError(f"unknown channel {channel!r}; the fake has {known}") from None

    def role_id(self, role: str | int) -> int:
        if isinstance(role, int):
            return role
        try:
            return self.roles[role]
        except KeyError:
            raise AssertionError(f"unknown role {role!r}; the fake has {sorted(self.roles)}") from None

    def member_permissions(self, roles: Sequence[int]) -> int:
        perms = P.EVERYONE_PERMISSIONS
        for rid in roles:
            perms |= self.role_permissions.get(rid, 0)
        return ALL_PERMISSIONS if perms & P.ADMINISTRATOR else perms

    def _channel_payload(self, channel_id: int) -> JSON | None:
        for position, (name, cid) in enumerate(self.channels.items()):
            if cid == channel_id:
                return P.text_channel(cid, name, guild_id=self.guild_id, position=position)
        return None

    def dm_channel_id(self, user_id: int) -> int:
        if user_id not in self._dm_channels:
            self._dm_channels[user_id] = self._ids.next()
        return self._dm_channels[user_id]

    def guild_payload(self) -> JSON:
        roles = [P.role(self.guild_id, "@everyone", permissions=P.EVERYONE_PERMISSIONS, position=0)]
        roles += [
            P.role(rid, name, permissions=self.role_permissions.get(rid, 0), position=i + 1)
            for i, (name, rid) in enumerate(self.roles.items())
        ]
        channels = [
            P.text_channel(cid, name, guild_id=self.guild_id, position=i)
            for i, (name, cid) in enumerate(self.channels.items())
        ]
        return P.guild(
            self.guild_id,
            self.guild_name,
            roles=roles,
            channels=channels,
            members=[P.member(self.bot_user, [])],
            owner_id=self.owner_id,
        )

    def _ready_payload(self, session_id: str, identify: JSON) -> JSON:
        ready: JSON = {
            "v": 10,
            "user": {
                **self.bot_user,
                "verified": True,
                "mfa_enabled": False,
                "email": None,
                "locale": "en-US",
            },
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "user_settings": {},
            "_trace": ["fake-gateway"],
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return ready

    def _member_chunk(self, request: JSON) -> JSON:
        return {
            "guild_id": str(request.get("guild_id", self.guild_id)),
            "members": [],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in request.get("user_ids") or []],
            "nonce": request.get("nonce"),
        }

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, r: web.UrlDispatcher) -> None:
        # Snowflake patterns are digits only, so e.g. /messages/bulk-delete falls to _unknown.
        sf = r"{%s:\d+}"
        r.add_get(GATEWAY_PATH, self.gateway.handle, allow_head=False)
        r.add_get(RESUME_GATEWAY_PATH, self.gateway.handle, allow_head=False)
        r.add_get(API + "/gateway", self._get_gateway)
        r.add_get(API + "/gateway/bot", self._get_gateway_bot)
        r.add_get(API + "/users/@me", self._get_me)
        r.add_get(API + "/oauth2/applications/@me", self._get_application)
        r.add_get(API + "/applications/@me", self._get_application)
        for path in (
            f"/applications/{sf % 'app'}/commands",
            f"/applications/{sf % 'app'}/guilds/{sf % 'guild'}/commands",
        ):
            r.add_get(API + path, self._get_commands)
            r.add_put(API + path, self._put_commands)
        r.add_post(API + f"/interactions/{sf % 'iid'}/{{token}}/callback", self._interaction_callback)
        r.add_post(API + f"/webhooks/{sf % 'app'}/{{token}}", self._followup)
        r.add_route(
            "*",
            API + f"/webhooks/{sf % 'app'}/{{token}}/messages/{{mid:@original|\\d+}}",
            self._webhook_message,
        )
        r.add_get(API + f"/channels/{sf % 'cid'}", self._get_channel)
        r.add_get(API + f"/channels/{sf % 'cid'}/messages", self._channel_history)
        r.add_post(API + f"/channels/{sf % 'cid'}/messages", self._create_message)
        r.add_post(API + f"/channels/{sf % 'cid'}/typing", self._typing)
        r.add_route("*", API + f"/channels/{sf % 'cid'}/messages/{sf % 'mid'}", self._channel_message)
        r.add_get(f"/attachments/{sf % 'cid'}/{sf % 'aid'}/{{filename}}", self._get_attachment)
        r.add_route("*", "/{tail:.*}", self._unknown)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        resp: web.StreamResponse
        injected = self._injected_failure(request)
        if injected is not None:
            resp = injected
        elif self._needs_auth(request) and request.headers.get("Authorization") != f"Bot {self.token}":
            resp = _json(401, P.error_body(0, "401: Unauthorized"))
        else:
            try:
                resp = await handler(request)
            except web.HTTPException:
                raise
            except Exception as exc:
                log.exception("fake discord failed on %s %s", request.method, request.path)
                self.server_errors.append(f"{request.method} {request.path}: {exc!r}")
                # 400, not 500: discord.py retries 5xx for ~16 s, which would hide a fake bug in a timeout.
                resp = _json(400, P.error_body(0, f"fake discord crashed: {exc!r}"))
        self.requests.append((request.method, request.path, resp.status))
        if resp.status >= 400:
            body = resp.body if isinstance(resp, web.Response) else None
            self.error_responses.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": resp.status,
                    "body": json.loads(body) if isinstance(body, bytes) and body else None,
                    "at": time.monotonic(),
                }
            )
        self._notify()
        return resp

    def _needs_auth(self, request: web.Request) -> bool:
        path = request.path
        if not path.startswith(API):
            return False
        # Interaction callbacks and webhook-token routes authenticate by the token in the URL.
        return not path.startswith((API + "/interactions/", API + "/webhooks/")) and path != API + "/gateway"

    def inject_failure(
        self, method: str, path_contains: str, status: int = 500, *, count: int = 1, body: JSON | None = None
    ) -> None:
        """Answer the next `count` matching requests with `status` (e.g. 503 on a channel post)."""
        self._failures.append(
            _Failure(
                method.upper(), path_contains, status, body or P.error_body(0, f"{status}: injected"), count
            )
        )

    def _injected_failure(self, request: web.Request) -> web.Response | None:
        for failure in self._failures:
            if (
                failure.remaining > 0
                and failure.method in (request.method, "*")
                and failure.path_contains in request.path
            ):
                failure.remaining -= 1
                return _json(failure.status, failure.body)
        return None

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unknown_requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "body": await request.text(),
            }
        )
        log.warning("fake discord: unknown route %s %s", request.method, request.path)
        return _json(404, P.error_body(0, "404: Not Found"))

    async def _read_body(self, request: web.Request) -> tuple[JSON, dict[int, _Upload]]:
        """JSON, or multipart with `payload_json` and `files[n]` (what discord.py sends with files)."""
        if request.content_type.startswith("multipart/"):
            body: JSON = {}
            uploads: dict[int, _Upload] = {}
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.name and part.name.startswith("files[") and part.name.endswith("]"):
                    index = int(part.name[6:-1])
                    uploads[index] = _Upload(part.filename or f"file{index}", bytes(await part.read()))
            return body, uploads
        raw = await request.read()
        if not raw:
            return {}, {}
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            raise _Reject(400, P.error_body(50109, "The request body contains invalid JSON."))
        return parsed, {}

    # ------------------------------------------------------------------ REST: session / app

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json(200, {"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {
            "total": 1000,
            "remaining": 1000 - self.identifies,
            "reset_after": 86_400_000,
            "max_concurrency": 1,
        }
        return _json(200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json(
            200,
            {
                **self.bot_user,
                "verified": True,
                "mfa_enabled": False,
                "email": None,
                "locale": "en-US",
                "bio": "",
            },
        )

    async def _get_application(self, request: web.Request) -> web.Response:
        return _json(200, P.application(self.app_id, P.user(self.owner_id, "owner")))

    def _command_scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app"]) != self.app_id:
            raise _Reject(403, P.error_body(50001, "Missing Access"))
        guild = request.match_info.get("guild")
        if guild is None:
            return None
        if int(guild) != self.guild_id:
            raise _Reject(403, P.error_body(50001, "Missing Access"))
        return int(guild)

    async def _get_commands(self, request: web.Request) -> web.Response:
        try:
            scope = self._command_scope(request)
        except _Reject as rej:
            return rej.response()
        return _json(200, self.synced_commands.get(scope, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        try:
            scope = self._command_scope(request)
            body = json.loads(await request.read() or b"[]")
        except _Reject as rej:
            return rej.response()
        self.sync_calls += 1
        self.sync_payloads.append((scope, body))
        if not isinstance(body, list):
            return _json(400, P.error_body(50035, "Invalid Form Body"))
        errors = FormErrors()
        P.validate_commands(body, errors)
        if errors:
            return _json(400, errors.body())
        previous = {(c["name"], c.get("type", 1)): c for c in self.synced_commands.get(scope, [])}
        echoed = []
        for command in body:
            old = previous.get((command["name"], command.get("type", 1)))
            # A bulk overwrite keeps the id of a command that already existed (same name and type).
            echoed.append(self._echo_command(command, scope, old))
        self.synced_commands[scope] = echoed
        return _json(200, echoed)

    def _echo_command(self, command: JSON, scope: int | None, old: JSON | None) -> JSON:
        perms = command.get("default_member_permissions")
        echoed: JSON = {
            "id": old["id"] if old else str(self._ids.next()),
            "application_id": str(self.app_id),
            "version": str(self._ids.next()),
            "type": command.get("type", 1),
            "name": command["name"],
            "description": command.get("description", ""),
            "options": copy.deepcopy(command.get("options", [])),
            # discord.py sends an int; Discord answers with a string.
            "default_member_permissions": None if perms is None else str(perms),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types", [0]),
            "nsfw": command.get("nsfw", False),
            "name_localizations": command.get("name_localizations"),
            "description_localizations": command.get("description_localizations"),
        }
        if scope is not None:
            echoed["guild_id"] = str(scope)
        return echoed

    # ------------------------------------------------------------------ REST: channels

    def _known_channel(self, channel_id: int) -> bool:
        return channel_id in self.channels.values() or channel_id in self._dm_channels.values()

    async def _get_channel(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["cid"])
        payload = self._channel_payload(cid)
        if payload is None:
            for user_id, dm in self._dm_channels.items():
                if dm == cid:
                    payload = P.dm_channel(dm, P.user(user_id, f"user{user_id}"))
        if payload is None:
            return _json(404, P.error_body(10003, "Unknown Channel"))
        return _json(200, payload)

    async def _typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _channel_history(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["cid"])
        if not self._known_channel(cid):
            return _json(404, P.error_body(10003, "Unknown Channel"))
        limit = min(int(request.query.get("limit", 50)), 100)
        before = int(request.query.get("before", 1 << 63))
        after = int(request.query.get("after", 0))
        found = sorted(
            (
                m
                for mid, m in self._all_messages.items()
                if int(m["channel_id"]) == cid and after < mid < before and not m["flags"] & P.EPHEMERAL
            ),
            key=lambda m: int(m["id"]),
            reverse=True,
        )
        return _json(200, found[:limit])

    async def _create_message(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["cid"])
        if not self._known_channel(cid):
            return _json(404, P.error_body(10003, "Unknown Channel"))
        headers: dict[str, str] = {}
        if self.limiter is not None:
            decision = self.limiter.hit(str(cid))
            if not decision.allowed:
                self.rate_limited_429s += 1
                self.rate_limited_per_channel[cid] += 1
                return _json(
                    429,
                    {
                        "message": "You are being rate limited.",
                        "retry_after": round(decision.reset_after, 3),
                        "global": False,
                    },
                    decision.retry_headers(),
                )
            if self.ratelimit_headers:
                headers = decision.headers()
        try:
            body, uploads = await self._read_body(request)
            flags = body.get("flags", 0) & SETTABLE_FLAGS
            msg = self._new_message(cid, body, uploads, msg_type=0, flags=flags)
        except _Reject as rej:
            return rej.response(headers)
        self.messages[cid].append(msg)
        self.posts_per_channel[cid] += 1
        return _json(200, msg, headers)

    async def _channel_message(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["cid"])
        mid = int(request.match_info["mid"])
        msg = self._all_messages.get(mid)
        if msg is None or int(msg["channel_id"]) != cid or msg["flags"] & P.EPHEMERAL:
            return _json(404, P.error_body(10008, "Unknown Message"))
        if request.method == "GET":
            return _json(200, msg)
        if request.method == "DELETE":
            self._delete_message(mid, via="channel")
            return web.Response(status=204)
        if request.method == "PATCH":
            try:
                body, uploads = await self._read_body(request)
                self._edit_message(msg, body, uploads, via="channel")
            except _Reject as rej:
                return rej.response()
            return _json(200, msg)
        return await self._unknown(request)

    async def _get_attachment(self, request: web.Request) -> web.Response:
        aid = request.match_info["aid"]
        filename = request.match_info["filename"]
        for msg in self._all_messages.values():
            for att in msg["attachments"]:
                if att["id"] == aid and att["filename"] == filename:
                    data = self.attachments_data[(int(msg["id"]), filename)]
                    ctype = att.get("content_type") or "application/octet-stream"
                    return web.Response(body=data, content_type=ctype)
        return web.Response(status=404, text="Not Found")

    # ------------------------------------------------------------------ messages

    def _new_message(
        self,
        channel_id: int,
        body: JSON,
        uploads: dict[int, _Upload],
        *,
        msg_type: int,
        flags: int,
        webhook: bool = False,
        allow_empty: bool = False,
    ) -> JSON:
        mid = self._ids.next()
        msg = P.message(mid, channel_id, self.bot_user, msg_type=msg_type)
        msg["flags"] = flags
        if webhook:
            msg["webhook_id"] = str(self.app_id)
            msg["application_id"] = str(self.app_id)
        self._apply_body(msg, body, uploads, creating=True, allow_empty=allow_empty)
        self._all_messages[mid] = msg
        return msg

    def _apply_body(
        self,
        msg: JSON,
        body: JSON,
        uploads: dict[int, _Upload],
        *,
        creating: bool,
        allow_empty: bool = False,
        prefix: Sequence[str] = (),
    ) -> None:
        """Validate, then apply a create/edit body to `msg` (only keys present in the body change)."""
        errors = FormErrors()
        P.validate_message(body, errors, prefix)
        for upload in uploads.values():
            if len(upload.data) > P.ATTACHMENT_SIZE_LIMIT:
                raise _Reject(413, P.error_body(40005, "Request entity too large"))
        existing = {a["id"]: a for a in msg["attachments"]} if not creating else {}
        entries = body.get("attachments")
        plan: list[JSON | tuple[_Upload, JSON]] = []
        if isinstance(entries, list):
            for i, entry in enumerate(entries):
                key = str(entry.get("id"))
                if key in existing:
                    plan.append(existing[key])
                elif key.isdigit() and int(key) in uploads:
                    plan.append((uploads[int(key)], entry))
                else:
                    errors.add(
                        [*prefix, "attachments", i, "id"], "ATTACHMENT_NOT_FOUND", f"Unknown attachment {key}"
                    )
        elif uploads:
            plan = list(msg["attachments"]) + [(uploads[i], {}) for i in sorted(uploads)]
        if errors:
            raise _Reject(400, errors.body())
        will_have = [
            body.get("content", msg["content"]),
            body.get("embeds", msg["embeds"]),
            body.get("components", msg["components"]),
            plan if (entries is not None or uploads) else msg["attachments"],
            body.get("sticker_ids"),
            body.get("poll", msg.get("poll")),
        ]
        if not allow_empty and not any(will_have):
            raise _Reject(400, P.error_body(50006, "Cannot send an empty message"))

        mid = int(msg["id"])
        if entries is not None or uploads:
            attachments = []
            for item in plan:
                if isinstance(item, tuple):
                    upload, entry = item
                    attachments.append(self._store_attachment(msg, upload, entry))
                else:
                    attachments.append(item)
            msg["attachments"] = attachments
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = [self._normalize_embed(e, msg["attachments"]) for e in body["embeds"] or []]
        if "components" in body:
            components = copy.deepcopy(body["components"] or [])
            P.number_components(components)
            msg["components"] = components
        if "poll" in body:
            msg["poll"] = body["poll"]
        if not creating and mid in self._all_messages:
            msg["edited_timestamp"] = P.iso_now()

    def _store_attachment(self, msg: JSON, upload: _Upload, entry: JSON) -> JSON:
        aid = self._ids.next()
        filename = entry.get("filename") or upload.filename
        url = f"{self.url}/attachments/{msg['channel_id']}/{aid}/{filename}"
        self.attachments_data[(int(msg["id"]), filename)] = upload.data
        att: JSON = {
            "id": str(aid),
            "filename": filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
        }
        if entry.get("description"):
            att["description"] = entry["description"]
        if msg["flags"] & P.EPHEMERAL:
            att["ephemeral"] = True
        return att

    @staticmethod
    def _normalize_embed(embed: JSON, attachments: list[JSON]) -> JSON:
        out = copy.deepcopy(embed)
        out.setdefault("type", "rich")
        by_name = {a["filename"]: a for a in attachments}
        for key in ("image", "thumbnail"):
            media = out.get(key)
            if isinstance(media, dict) and str(media.get("url", "")).startswith("attachment://"):
                # Discord rewrites attachment:// references to the uploaded file's CDN URL.
                att = by_name.get(media["url"][len("attachment://") :])
                if att is not None:
                    media.update(url=att["url"], proxy_url=att["proxy_url"])
        return out

    def _edit_message(
        self,
        msg: JSON,
        body: JSON,
        uploads: dict[int, _Upload],
        *,
        via: str,
        interaction_id: str | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        self._apply_body(msg, body, uploads, creating=False, prefix=prefix)
        self.edits.append(
            {
                "message_id": msg["id"],
                "channel_id": msg["channel_id"],
                "via": via,
                "interaction_id": interaction_id,
                "body": body,
                "at": time.monotonic(),
            }
        )

    def _delete_message(self, mid: int, *, via: str, interaction_id: str | None = None) -> JSON:
        msg = self._all_messages.pop(mid)
        cid = int(msg["channel_id"])
        if msg in self.messages.get(cid, []):
            self.messages[cid].remove(msg)
        self.deletions.append(
            {
                "message_id": msg["id"],
                "channel_id": msg["channel_id"],
                "via": via,
                "interaction_id": interaction_id,
                "message": msg,
                "at": time.monotonic(),
            }
        )
        return msg

    def channel_history(self, channel: str | int) -> list[JSON]:
        """Every live bot message in the channel, channel posts and interaction messages alike."""
        cid = self.channel_id(channel)
        return sorted(
            (m for m in self._all_messages.values() if int(m["channel_id"]) == cid),
            key=lambda m: int(m["id"]),
        )

    def message(self, message_id: int | str) -> JSON:
        try:
            return self._all_messages[int(message_id)]
        except KeyError:
            raise AssertionError(f"no live message {message_id}") from None

    # ------------------------------------------------------------------ interactions: REST side

    def _record(
        self,
        state: _InteractionState,
        kind: str,
        *,
        data: Any,
        ctype: int | None = None,
        msg: JSON | None = None,
        uploads: Mapping[int, _Upload] | None = None,
    ) -> None:
        now = time.monotonic()
        self.responses[state.handle.id].append(
            {
                "kind": kind,
                "type": ctype,
                "data": data,
                "at": now,
                "elapsed": now - state.handle.sent_at,
                "message": copy.deepcopy(msg) if msg is not None else None,
                "files": [u.filename for u in (uploads or {}).values()],
            }
        )

    def _interaction_metadata(self, state: _InteractionState) -> JSON:
        payload = state.handle.payload
        user = payload.get("member", {}).get("user") or payload.get("user")
        meta: JSON = {
            "id": state.handle.id,
            "type": state.handle.type,
            "user": user,
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
        }
        if state.handle.type == MESSAGE_COMPONENT and "message" in payload:
            meta["interacted_message_id"] = payload["message"]["id"]
        elif state.original_id is not None:
            meta["original_response_message_id"] = str(state.original_id)
        return meta

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        iid = request.match_info["iid"]
        state = self._states.get(iid)
        if state is None or state.handle.token != request.match_info["token"]:
            return _json(404, P.error_body(10062, "Unknown interaction"))
        try:
            body, uploads = await self._read_body(request)
        except _Reject as rej:
            return rej.response()
        if state.callback_type is not None:
            return _json(400, P.error_body(40060, "Interaction has already been acknowledged."))
        elapsed = time.monotonic() - state.handle.sent_at
        if elapsed > self.interaction_deadline:
            log.info("fake discord: callback for %s after %.2fs: Unknown interaction", iid, elapsed)
            return _json(404, P.error_body(10062, "Unknown interaction"))
        ctype = body.get("type")
        data = body.get("data") or {}
        if ctype not in ALLOWED_CALLBACKS.get(state.handle.type, frozenset()):
            errors = FormErrors()
            errors.add(
                ["type"],
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Invalid interaction response type {ctype} for interaction type {state.handle.type}",
            )
            return _json(400, errors.body())
        try:
            msg = self._apply_callback(state, int(ctype), data, uploads)
        except _Reject as rej:
            return rej.response()
        state.callback_type = int(ctype)
        self._record(state, "callback", data=data, ctype=int(ctype), msg=msg, uploads=uploads)
        interaction: JSON = {"id": iid, "type": state.handle.type}
        resource: JSON = {"type": ctype}
        if msg is not None:
            interaction.update(
                response_message_id=msg["id"],
                response_message_loading=bool(msg["flags"] & P.LOADING),
                response_message_ephemeral=bool(msg["flags"] & P.EPHEMERAL),
            )
            resource["message"] = msg
        # with_response=1 (always sent by discord.py 2.7): the message id is how a View gets bound.
        if request.query.get("with_response") in ("1", "true", "True"):
            return _json(200, {"interaction": interaction, "resource": resource})
        return web.Response(status=204)

    def _apply_callback(
        self, state: _InteractionState, ctype: int, data: JSON, uploads: dict[int, _Upload]
    ) -> JSON | None:
        handle = state.handle
        if ctype == CHANNEL_MESSAGE:
            flags = data.get("flags", 0) & (SETTABLE_FLAGS | P.EPHEMERAL)
            msg_type = CHAT_INPUT_COMMAND_MESSAGE if handle.type == APPLICATION_COMMAND else 0
            msg = self._new_message(
                handle.channel_id, data, uploads, msg_type=msg_type, flags=flags, webhook=True
            )
            self._adopt(state, msg, original=True)
            return msg
        if ctype == DEFERRED_CHANNEL_MESSAGE:
            flags = P.LOADING | (data.get("flags", 0) & P.EPHEMERAL)
            msg_type = CHAT_INPUT_COMMAND_MESSAGE if handle.type == APPLICATION_COMMAND else 0
            msg = self._new_message(
                handle.channel_id, {}, {}, msg_type=msg_type, flags=flags, webhook=True, allow_empty=True
            )
            state.loading = True
            self._adopt(state, msg, original=True)
            return msg
        if ctype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            target = self._component_message(state)
            if target is None:
                raise _Reject(400, P.error_body(50035, "This interaction has no message to update"))
            state.original_id = int(target["id"])
            if ctype == UPDATE_MESSAGE:
                self._edit_message(
                    target, data, uploads, via="callback", interaction_id=handle.id, prefix=["data"]
                )
            return target
        if ctype == AUTOCOMPLETE_RESULT:
            errors = FormErrors()
            P.validate_choices(data.get("choices"), errors)
            if errors:
                raise _Reject(400, errors.body())
            return None
        if ctype == MODAL:
            errors = FormErrors()
            if not data.get("custom_id"):
                errors.add(["data", "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
            title = data.get("title")
            if not title or len(title) > 45:
                errors.add(["data", "title"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
            if errors:
                raise _Reject(400, errors.body())
            return None
        raise _Reject(400, P.error_body(50035, f"Unsupported interaction response type {ctype}"))

    def _adopt(self, state: _InteractionState, msg: JSON, *, original: bool) -> None:
        mid = int(msg["id"])
        msg["interaction_metadata"] = self._interaction_metadata(state)
        if original:
            state.original_id = mid
        state.message_ids.append(mid)
        self._message_owner[mid] = state.handle.user_id
        self.interaction_messages[state.handle.id].append(msg)

    def _component_message(self, state: _InteractionState) -> JSON | None:
        message = state.handle.payload.get("message")
        if not isinstance(message, dict):
            return None
        return self._all_messages.get(int(message["id"]))

    def _token_state(self, request: web.Request) -> _InteractionState:
        state = self._by_token.get(request.match_info["token"])
        if int(request.match_info["app"]) != self.app_id or state is None:
            raise _Reject(404, P.error_body(10015, "Unknown Webhook"))
        if time.monotonic() - state.handle.sent_at > self.token_ttl:
            raise _Reject(401, P.error_body(50027, "Invalid Webhook Token"))
        if state.callback_type is None:
            # Discord only creates the interaction webhook once the interaction is acknowledged.
            raise _Reject(404, P.error_body(10015, "Unknown Webhook"))
        return state

    async def _followup(self, request: web.Request) -> web.Response:
        try:
            state = self._token_state(request)
            body, uploads = await self._read_body(request)
            if state.loading and state.original_id is not None:
                # The first followup after a type-5 defer resolves the "thinking" message instead of
                # posting a new one, and the defer decided ephemerality (discord-api-docs#2742).
                msg = self._all_messages[state.original_id]
                self._apply_body(msg, body, uploads, creating=False)
                keep = msg["flags"] & P.EPHEMERAL
                msg["flags"] = keep | (body.get("flags", 0) & SETTABLE_FLAGS)
                state.loading = False
                self._record(state, "followup", data=body, msg=msg, uploads=uploads)
                self.responses[state.handle.id][-1]["resolved_defer"] = True
            else:
                flags = body.get("flags", 0) & (SETTABLE_FLAGS | P.EPHEMERAL)
                msg = self._new_message(
                    state.handle.channel_id, body, uploads, msg_type=0, flags=flags, webhook=True
                )
                self._adopt(state, msg, original=False)
                self._record(state, "followup", data=body, msg=msg, uploads=uploads)
        except _Reject as rej:
            return rej.response()
        if request.query.get("wait") in ("1", "true", "True"):
            return _json(200, msg)
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        try:
            state = self._token_state(request)
            which = request.match_info["mid"]
            original = which == "@original"
            mid = state.original_id if original else int(which)
            if (
                mid is None
                or mid not in self._all_messages
                or (not original and mid not in state.message_ids and mid != state.original_id)
            ):
                raise _Reject(404, P.error_body(10008, "Unknown Message"))
            msg = self._all_messages[mid]
            kind = "original" if original or mid == state.original_id else "followup"
            if request.method == "GET":
                return _json(200, msg)
            if request.method == "DELETE":
                self._delete_message(mid, via="webhook", interaction_id=state.handle.id)
                self._record(state, f"delete_{kind}", data=None, msg=msg)
                return web.Response(status=204)
            if request.method == "PATCH":
                body, uploads = await self._read_body(request)
                self._edit_message(msg, body, uploads, via="webhook", interaction_id=state.handle.id)
                if kind == "original" and state.loading:
                    msg["flags"] &= ~P.LOADING
                    state.loading = False
                self._record(state, f"edit_{kind}", data=body, msg=msg, uploads=uploads)
                return _json(200, msg)
        except _Reject as rej:
            return rej.response()
        return await self._unknown(request)

    # ------------------------------------------------------------------ interactions: driving side

    async def slash(
        self,
        name: str,
        options: Mapping[str, object] | None = None,
        *,
        user_id: int,
        roles: Sequence[int] = (),
        guild: bool = True,
        channel: str | int = "commands",
        username: str = "alice",
        subcommand: str | None = None,
        strict: bool = True,
        locale: str = "en-US",
    ) -> SentInteraction:
        """Invoke a chat-input command as a user would. Option types come from the synced schema
        (str -> 3, int -> 4, bool -> 5, float -> 10 without one). With `strict`, what Discord's client
        would refuse raises CommandRejected: unknown/missing options, wrong types, choices, ranges,
        a command hidden by default_member_permissions, a guild-only context used in a DM.
        `subcommand` is "sub" or "group sub"."""
        data = self._command_data(
            name,
            options or {},
            subcommand=subcommand,
            user_roles=roles,
            guild=guild,
            strict=strict,
            focused=None,
        )
        return await self._send_interaction(
            APPLICATION_COMMAND,
            data,
            user_id=user_id,
            roles=roles,
            guild=guild,
            channel=channel,
            username=username,
            locale=locale,
        )

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, object],
        focused: str,
        *,
        user_id: int,
        roles: Sequence[int] = (),
        guild: bool = True,
        channel: str | int = "commands",
        username: str = "alice",
        subcommand: str | None = None,
        strict: bool = True,
    ) -> SentInteraction:
        """Type 4: the user is typing into option `focused` (its value is the partial text)."""
        if focused not in options:
            raise AssertionError(f"focused option {focused!r} must be in options")
        data = self._command_data(
            name,
            options,
            subcommand=subcommand,
            user_roles=roles,
            guild=guild,
            strict=strict,
            focused=focused,
        )
        return await self._send_interaction(
            AUTOCOMPLETE, data, user_id=user_id, roles=roles, guild=guild, channel=channel, username=username
        )

    async def click(
        self,
        message: JSON | int | str,
        custom_id: str,
        *,
        user_id: int,
        roles: Sequence[int] = (),
        values: Sequence[str] | None = None,
        username: str = "alice",
        strict: bool = True,
    ) -> SentInteraction:
        """Type 3 on a component of a bot message (looked up live, so edits since are seen)."""
        mid = int(message["id"]) if isinstance(message, dict) else int(message)
        live = self._all_messages.get(mid)
        if live is None:
            raise AssertionError(f"message {mid} does not exist (deleted, or not sent by the bot)")
        component = P.find_component(live["components"], custom_id)
        if component is None:
            ids = P.custom_ids(live["components"])
            raise AssertionError(f"message {mid} has no component {custom_id!r}; it has {ids}")
        if strict and component.get("disabled"):
            raise CommandRejected(f"component {custom_id!r} is disabled")
        owner = self._message_owner.get(mid)
        if strict and live["flags"] & P.EPHEMERAL and owner is not None and owner != user_id:
            raise CommandRejected(f"message {mid} is ephemeral: only user {owner} can see it")
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        cid = int(live["channel_id"])
        guild = cid in self.channels.values()
        return await self._send_interaction(
            MESSAGE_COMPONENT,
            data,
            user_id=user_id,
            roles=roles,
            guild=guild,
            channel=cid,
            username=username,
            message=live,
        )

    async def user_message(
        self,
        content: str,
        *,
        user_id: int,
        channel: str | int = "commands",
        roles: Sequence[int] = (),
        username: str = "alice",
    ) -> JSON:
        """MESSAGE_CREATE from a user (prefix commands; `channel` may be `dm_channel_id(user)`). As on
        Discord it is only sent with the GUILD_MESSAGES / DIRECT_MESSAGES intent, and its content is
        blanked unless the bot has MESSAGE_CONTENT, is mentioned, or it is a DM. Returns the payload,
        with "delivered" telling whether it was sent at all."""
        cid = self.channel_id(channel)
        in_guild = cid in self.channels.values()
        author = P.user(user_id, username, global_name=username.title())
        msg = P.message(self._ids.next(), cid, author)
        session = self.gateway.current
        intents = session.intents if session is not None else 0
        mentioned = f"<@{self.bot_user_id}>" in content
        visible = intents & MESSAGE_CONTENT_INTENT or mentioned or not in_guild
        msg["content"] = content if visible else ""
        if mentioned:
            msg["mentions"] = [self.bot_user]
        if in_guild:
            msg["guild_id"] = str(self.guild_id)
            msg["member"] = P.member(None, roles)
        self.user_messages.append(msg)
        if intents & (GUILD_MESSAGES_INTENT if in_guild else DIRECT_MESSAGES_INTENT):
            await self.gateway.dispatch("MESSAGE_CREATE", msg)
            return {**msg, "delivered": True}
        return {**msg, "delivered": False}

    async def dispatch(self, event: str, data: Any) -> bool:
        """Send any gateway event to the bot (e.g. GUILD_MEMBER_UPDATE)."""
        return await self.gateway.dispatch(event, data)

    def _find_command(self, name: str, *, guild: bool) -> tuple[JSON | None, int | None]:
        scopes: list[int | None] = [self.guild_id, None] if guild else [None, self.guild_id]
        for scope in scopes:
            for command in self.synced_commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        return None, None

    def _command_data(
        self,
        name: str,
        values: Mapping[str, object],
        *,
        subcommand: str | None,
        user_roles: Sequence[int],
        guild: bool,
        strict: bool,
        focused: str | None,
    ) -> JSON:
        command, scope = self._find_command(name, guild=guild)
        problems: list[str] = []
        if command is not None and strict:
            required = command.get("default_member_permissions")
            perms = self.member_permissions(user_roles) if guild else ALL_PERMISSIONS
            if required is not None and perms & int(required) != int(required):
                problems.append(f"/{name} is hidden from this user: default_member_permissions={required}")
            contexts = command.get("contexts")
            if contexts is not None and (0 if guild else 1) not in contexts:
                where = "guilds" if guild else "DMs"
                problems.append(f"/{name} is not available in {where} (contexts={contexts})")
            if scope is not None and not guild:
                problems.append(f"/{name} is a guild command: it cannot be used in a DM")
        # Walk down to the (sub)command whose options we fill.
        spec_options: list[JSON] | None = command.get("options", []) if command is not None else None
        path = subcommand.split() if subcommand else []
        leaf: list[JSON] = []
        container = leaf
        for part in path:
            sub: JSON = {"name": part, "type": P.OPT_SUB_COMMAND, "options": []}
            if spec_options is not None:
                found = next(
                    (
                        o
                        for o in spec_options
                        if o["name"] == part and o["type"] in (P.OPT_SUB_COMMAND, P.OPT_SUB_COMMAND_GROUP)
                    ),
                    None,
                )
                if found is None:
                    problems.append(f"/{name} has no subcommand {part!r}")
                    spec_options = None
                else:
                    sub["type"] = found["type"]
                    spec_options = found.get("options", [])
            elif part != path[-1]:
                sub["type"] = P.OPT_SUB_COMMAND_GROUP
            container.append(sub)
            container = sub["options"]
        if (
            spec_options is not None
            and strict
            and any(o["type"] in (P.OPT_SUB_COMMAND, P.OPT_SUB_COMMAND_GROUP) for o in spec_options)
        ):
            problems.append(f"/{name} needs a subcommand (one of {[o['name'] for o in spec_options]})")
        resolved: JSON = {}
        container.extend(
            self._build_options(
                spec_options, values, problems, resolved, strict=strict, focused=focused, guild=guild
            )
        )
        if strict and problems:
            raise CommandRejected("; ".join(problems))
        data: JSON = {"id": command["id"] if command else str(self._ids.next()), "name": name, "type": 1}
        if leaf:
            data["options"] = leaf
        if scope is not None:
            data["guild_id"] = str(scope)
        elif command is None and guild:
            # No synced schema: treat it as a guild command; discord.py falls back to global ones anyway.
            data["guild_id"] = str(self.guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    def _build_options(
        self,
        spec: list[JSON] | None,
        values: Mapping[str, object],
        problems: list[str],
        resolved: JSON,
        *,
        strict: bool,
        focused: str | None,
        guild: bool,
    ) -> list[JSON]:
        by_name = {o["name"]: o for o in spec or []}
        out: list[JSON] = []
        for opt_name, value in values.items():
            option = by_name.get(opt_name)
            if spec is not None and option is None:
                problems.append(f"unknown option {opt_name!r} (schema has {sorted(by_name)})")
            otype = option["type"] if option is not None else P.infer_option_type(value)
            entry: JSON = {"name": opt_name, "type": otype}
            if opt_name == focused:
                entry["value"] = value if isinstance(value, str) else str(value)
                entry["focused"] = True
            else:
                entry["value"] = self._option_value(otype, value, resolved, problems, guild=guild)
                if option is not None and strict:
                    P.check_option(option, value, problems)
            out.append(entry)
        if spec is not None and focused is None:
            for option in spec:
                if option.get("required") and option["name"] not in values:
                    problems.append(f"missing required option {option['name']!r}")
        return out

    def _option_value(
        self, otype: int, value: object, resolved: JSON, problems: list[str], *, guild: bool
    ) -> object:
        if otype == P.OPT_CHANNEL:
            by_name = isinstance(value, str) and not value.isdigit()
            cid = self.channel_id(str(value)) if by_name else int(str(value))
            payload = self._channel_payload(cid)
            if payload is None:
                problems.append(f"unknown channel {value!r}")
                return str(cid)
            payload["permissions"] = str(P.EVERYONE_PERMISSIONS)
            resolved.setdefault("channels", {})[str(cid)] = payload
            return str(cid)
        if otype == P.OPT_ROLE:
            by_name = isinstance(value, str) and not value.isdigit()
            rid = self.role_id(str(value)) if by_name else int(str(value))
            name = next((n for n, r in self.roles.items() if r == rid), None)
            if name is None:
                problems.append(f"unknown role {value!r}")
                return str(rid)
            resolved.setdefault("roles", {})[str(rid)] = P.role(
                rid, name, permissions=self.role_permissions.get(rid, 0), position=1
            )
            return str(rid)
        if otype in (P.OPT_USER, P.OPT_MENTIONABLE):
            uid = int(str(value))
            resolved.setdefault("users", {})[str(uid)] = P.user(uid, f"user{uid}")
            if guild:
                resolved.setdefault("members", {})[str(uid)] = P.member(
                    None, [], permissions=P.EVERYONE_PERMISSIONS
                )
            return str(uid)
        return value

    async def _send_interaction(
        self,
        itype: int,
        data: JSON,
        *,
        user_id: int,
        roles: Sequence[int],
        guild: bool,
        channel: str | int,
        username: str,
        locale: str = "en-US",
        message: JSON | None = None,
    ) -> SentInteraction:
        if self.gateway.current is None:
            raise AssertionError("no bot session: the bot has not IDENTIFIED with the fake gateway yet")
        iid = str(self._ids.next())
        token = "itoken-" + secrets.token_urlsafe(32)
        user = P.user(user_id, username, global_name=username.title())
        payload: JSON = {
            "id": iid,
            "application_id": str(self.app_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": P.ATTACHMENT_SIZE_LIMIT,
            "app_permissions": str(P.BOT_PERMISSIONS),
        }
        if guild:
            cid = self.channel_id(channel)
            channel_payload = self._channel_payload(cid)
            if channel_payload is None:
                raise AssertionError(f"channel {cid} is not a guild channel of the fake")
            payload.update(
                guild_id=str(self.guild_id),
                guild={"id": str(self.guild_id), "locale": "en-US", "features": []},
                channel=channel_payload,
                channel_id=str(cid),
                member=P.member(user, roles, permissions=self.member_permissions(roles)),
                guild_locale="en-US",
                authorizing_integration_owners={"0": str(self.guild_id)},
                context=0,
            )
        else:
            cid = self.dm_channel_id(user_id)
            payload.update(
                channel=P.dm_channel(cid, user),
                channel_id=str(cid),
                user=user,
                # For a guild-installed app used in its bot's DM, Discord reports owner "0".
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        # Registered before the frame goes out: the bot may answer before dispatch() returns.
        handle = SentInteraction(
            id=iid,
            token=token,
            type=itype,
            sent_at=time.monotonic(),
            payload=payload,
            channel_id=cid,
            user_id=user_id,
        )
        state = _InteractionState(handle=handle)
        self._states[iid] = state
        self._by_token[token] = state
        self.interactions[iid] = handle
        self.responses[iid] = []
        handle.delivered = await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return handle

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, predicate: Callable[[], bool], timeout: float, describe: Callable[[], str]) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(describe())
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.25))

    async def wait_response(
        self, interaction: SentInteraction | str, timeout: float = 5.0, count: int = 1
    ) -> list[JSON]:
        iid = interaction if isinstance(interaction, str) else interaction.id

        def describe() -> str:
            got = [(r["kind"], r["type"]) for r in self.responses.get(iid, [])]
            related = [
                e
                for e in self.error_responses
                if iid in e["path"]
                or (isinstance(interaction, SentInteraction) and interaction.token in e["path"])
            ]
            return (
                f"interaction {iid} got {len(got)} response(s) {got}, wanted {count} within {timeout}s; "
                f"errors answered for it: {related}; fake crashes: {self.server_errors}; "
                f"connected: {self.connected}"
            )

        await self._wait(lambda: len(self.responses.get(iid, [])) >= count, timeout, describe)
        return list(self.responses[iid])

    def response_message(self, interaction: SentInteraction | str) -> JSON:
        """The live message the interaction's callback created or updated (what @original names)."""
        iid = interaction if isinstance(interaction, str) else interaction.id
        state = self._states.get(iid)
        if state is None or state.original_id is None:
            got = self.responses.get(iid)
            raise AssertionError(f"interaction {iid} has no response message (responses: {got})")
        return self.message(state.original_id)

    def followups(self, interaction: SentInteraction | str) -> list[JSON]:
        iid = interaction if isinstance(interaction, str) else interaction.id
        state = self._states[iid]
        return [
            self._all_messages[m]
            for m in state.message_ids
            if m != state.original_id and m in self._all_messages
        ]

    async def wait_messages(self, channel: str | int, count: int, timeout: float = 10.0) -> list[JSON]:
        cid = self.channel_id(channel)
        await self._wait(
            lambda: len(self.messages.get(cid, [])) >= count,
            timeout,
            lambda: (
                f"channel {channel} has {len(self.messages.get(cid, []))} message(s), "
                f"wanted {count} within {timeout}s; 429s: {self.rate_limited_429s}; "
                f"errors: {self.error_responses[-5:]}"
            ),
        )
        return list(self.messages[cid])

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        await self._wait(predicate, timeout, lambda: f"timed out after {timeout}s waiting for {what}")

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Until a socket has a live identified/resumed session."""
        await self._wait(
            lambda: self.connected,
            timeout,
            lambda: (
                f"no live gateway session after {timeout}s "
                f"(connections={self.connections}, identifies={self.identifies})"
            ),
        )

    # ------------------------------------------------------------------ gateway faults

    async def send_reconnect(self, *, wait: bool = True, timeout: float = 10.0) -> None:
        """op 7: discord.py closes and RESUMEs on resume_gateway_url; waits for RESUMED by default."""
        before = self.identifies + self.resumes
        await self.gateway.send_op(RECONNECT, None)
        if wait:
            await self._wait(
                lambda: self.identifies + self.resumes > before and self.connected,
                timeout,
                lambda: f"bot did not come back within {timeout}s after op 7",
            )

    async def drop_gateway(
        self, *, code: int | None = None, wait: bool = True, timeout: float = 15.0
    ) -> None:
        """Kill the socket (TCP abort, or a close frame with `code`); waits for RESUME/IDENTIFY.
        discord.py reconnects at once after an abort; after other failures it backs off (random, growing)."""
        before = self.identifies + self.resumes
        await self.gateway.drop(code)
        if wait:
            await self._wait(
                lambda: self.identifies + self.resumes > before and self.connected,
                timeout,
                lambda: f"bot did not come back within {timeout}s after the drop",
            )

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """op 9: resumable=False makes the bot IDENTIFY again (a fresh READY/GUILD_CREATE)."""
        await self.gateway.invalidate(resumable)


# ---------------------------------------------------------------------- helpers

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ORIGINAL_ROUTE_BASE = discord.http.Route.BASE
_ORIGINAL_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


class _Reject(Exception):
    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body

    def response(self, headers: Mapping[str, str] | None = None) -> web.Response:
        return _json(self.status, self.body, headers)


def _json(status: int, body: object, headers: Mapping[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py's json_or_text compares the header verbatim, and
    # aiohttp's json_response would add "; charset=utf-8" and make it hand back a str.
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def free_port() -> int:
    """A port nothing listens on right now (for "Discord is down at start" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
