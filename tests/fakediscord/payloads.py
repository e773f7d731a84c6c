"""Discord-shaped JSON payloads and Discord's message validation rules.

Shapes follow discord-api-docs and what discord.py 2.7.1's parsers read (state.py, guild.py,
interactions.py, message.py). Snowflakes are strings on the wire, as Discord sends them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (discord-api-docs topics/permissions.mdx).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
# What the bot is granted in every channel (app_permissions): enough to post, embed and attach.
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 6) | (1 << 13)  # + ADD_REACTIONS, MANAGE_MESSAGES

EPHEMERAL = 1 << 6
LOADING = 1 << 7
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Message limits (resources/message.mdx, "Embed Limits").
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_FIELDS = 25
EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
MAX_ACTION_ROWS = 5
MAX_ROW_COMPONENTS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80

# Application command option types (interactions/application-commands.mdx).
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10


class Snowflakes:
    """Time-based snowflakes, unique within one fake (the low bits count up)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: int, username: str, *, bot: bool = False, global_name: str | None = None) -> JSON:
    payload: JSON = {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }
    if bot:
        payload["bot"] = True
    return payload


def role(role_id: int, name: str, *, permissions: int, position: int) -> JSON:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: int, name: str, *, guild_id: int, position: int) -> JSON:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: JSON) -> JSON:
    return {"id": str(channel_id), "type": 1, "recipients": [recipient], "last_message_id": None, "flags": 0}


def member(user_payload: JSON | None, roles: Iterable[int], *, permissions: int | None = None) -> JSON:
    payload: JSON = {
        "roles": [str(r) for r in roles],
        "nick": None,
        "avatar": None,
        "banner": None,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if user_payload is not None:
        payload["user"] = user_payload
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


def guild(
    guild_id: int,
    name: str,
    *,
    roles: Sequence[JSON],
    channels: Sequence[JSON],
    members: Sequence[JSON],
    owner_id: int,
) -> JSON:
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "features": [],
        "roles": list(roles),
        "emojis": [],
        "stickers": [],
        "channels": list(channels),
        "threads": [],
        "members": list(members),
        "member_count": len(members),
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "large": False,
        "unavailable": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "max_members": 500000,
        "lazy": True,
        "application_id": None,
        "incidents_data": None,
    }


def application(app_id: int, owner: JSON) -> JSON:
    return {
        "id": str(app_id),
        "name": "Tradecord Test",
        "description": "fake application",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": owner,
        "verify_key": "00" * 32,
        "team": None,
        "flags": 0,
        "summary": "",
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
    }


def message(message_id: int, channel_id: int, author: JSON, *, msg_type: int = 0) -> JSON:
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "type": msg_type,
        "content": "",
        "embeds": [],
        "attachments": [],
        "components": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "flags": 0,
        "timestamp": iso_now(),
        "edited_timestamp": None,
    }


# --- validation -------------------------------------------------------------------------------


class FormErrors:
    """Collects Discord's 50035 "Invalid Form Body" errors, nested by field path as Discord does
    (discord.py flattens them into the HTTPException text, so the bot side sees the path)."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[str, ...], str, str]] = []

    def add(self, path: Sequence[str | int], code: str, text: str) -> None:
        self.items.append((tuple(str(p) for p in path), code, text))

    def __bool__(self) -> bool:
        return bool(self.items)

    def body(self) -> JSON:
        errors: JSON = {}
        for path, code, text in self.items:
            node = errors
            for key in path:
                node = node.setdefault(key, {})
            node.setdefault("_errors", []).append({"code": code, "message": text})
        return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def _too_long(errors: FormErrors, path: Sequence[str | int], value: object, limit: int) -> int:
    if not isinstance(value, str):
        return 0
    if len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    return len(value)


def validate_message(body: Mapping[str, Any], errors: FormErrors, prefix: Sequence[str] = ()) -> None:
    """Discord's create/edit message limits: content, embeds (per field and the 6000 total) and
    components. Only keys present in `body` are checked, so it serves edits too."""
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        errors.add([*prefix, "content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        if len(embeds) > MAX_EMBEDS:
            errors.add(
                [*prefix, "embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."
            )
        total = 0
        for i, embed in enumerate(embeds):
            if not isinstance(embed, dict):
                errors.add([*prefix, "embeds", i], "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")
                continue
            at: list[str | int] = [*prefix, "embeds", i]
            for key, limit in EMBED_TEXT_LIMITS.items():
                total += _too_long(errors, [*at, key], embed.get(key), limit)
            fields = embed.get("fields") or []
            if len(fields) > MAX_FIELDS:
                errors.add(
                    [*at, "fields"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FIELDS} or fewer in length."
                )
            for j, field in enumerate(fields):
                name, value = field.get("name"), field.get("value")
                if not name or not value:
                    errors.add([*at, "fields", j], "BASE_TYPE_REQUIRED", "This field is required")
                total += _too_long(errors, [*at, "fields", j, "name"], name, MAX_FIELD_NAME)
                total += _too_long(errors, [*at, "fields", j, "value"], value, MAX_FIELD_VALUE)
            footer = embed.get("footer") or {}
            total += _too_long(errors, [*at, "footer", "text"], footer.get("text"), MAX_FOOTER)
            author = embed.get("author") or {}
            total += _too_long(errors, [*at, "author", "name"], author.get("name"), MAX_AUTHOR_NAME)
        if total > MAX_EMBED_TOTAL:
            errors.add(
                [*prefix, "embeds"],
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
            )
    components = body.get("components")
    if isinstance(components, list):
        validate_components(components, errors, [*prefix, "components"])


def validate_components(rows: list[Any], errors: FormErrors, path: Sequence[str | int]) -> None:
    if len(rows) > MAX_ACTION_ROWS:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_ACTION_ROWS} or fewer in length.")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("type") != 1:
            # Components v2 (containers, text displays) are passed through unchecked.
            continue
        children = row.get("components") or []
        if not children or len(children) > MAX_ROW_COMPONENTS:
            errors.add(
                [*path, i, "components"],
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {MAX_ROW_COMPONENTS} in length.",
            )
        for j, child in enumerate(children):
            at = [*path, i, "components", j]
            custom_id = child.get("custom_id")
            if isinstance(custom_id, str):
                _too_long(errors, [*at, "custom_id"], custom_id, MAX_CUSTOM_ID)
                if custom_id in seen:
                    errors.add(
                        [*at, "custom_id"],
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen.add(custom_id)
            elif child.get("type") == 2 and child.get("style") != 5 and child.get("style") != 6:
                errors.add([*at, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
            _too_long(errors, [*at, "label"], child.get("label"), MAX_BUTTON_LABEL)


def number_components(rows: list[Any], start: int = 1) -> None:
    """Discord numbers every component of a message (the `id` field) when the bot leaves it out."""
    counter = itertools.count(start)

    def walk(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, dict):
                if "id" not in item:
                    item["id"] = next(counter)
                inner = item.get("components")
                if isinstance(inner, list):
                    walk(inner)

    walk(rows)


def find_component(rows: list[Any], custom_id: str) -> JSON | None:
    for item in rows:
        if not isinstance(item, dict):
            continue
        if item.get("custom_id") == custom_id:
            return item
        for key in ("components", "accessory"):
            inner = item.get(key)
            if not inner:
                continue
            found = find_component(inner if isinstance(inner, list) else [inner], custom_id)
            if found is not None:
                return found
    return None


def error_body(code: int, text: str) -> JSON:
    return {"message": text, "code": code}


# --- application commands -----------------------------------------------------------------------


def infer_option_type(value: object) -> int:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return OPT_BOOLEAN
    if isinstance(value, int):
        return OPT_INTEGER
    if isinstance(value, float):
        return OPT_NUMBER
    if isinstance(value, str):
        return OPT_STRING
    raise AssertionError(f"cannot infer a Discord option type for {value!r}")


def check_option(option: Mapping[str, Any], value: object, problems: list[str]) -> None:
    """What Discord's client enforces before sending an option value (discord.py does not:
    Range and choices reach the callback unchecked)."""
    name, otype = option["name"], option["type"]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        OPT_STRING: isinstance(value, str),
        OPT_INTEGER: isinstance(value, int) and not isinstance(value, bool),
        OPT_BOOLEAN: isinstance(value, bool),
        OPT_NUMBER: is_number,
    }.get(otype, True)
    if not ok:
        problems.append(f"option {name!r} is type {otype}, got {value!r}")
        return
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        problems.append(f"option {name!r} must be one of {[c['value'] for c in choices]}, got {value!r}")
    if is_number:
        low, high = option.get("min_value"), option.get("max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            problems.append(f"option {name!r} must be within [{low}, {high}], got {value!r}")
    if isinstance(value, str):
        low, high = option.get("min_length"), option.get("max_length")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            problems.append(f"option {name!r} length must be within [{low}, {high}], got {len(value)}")


def custom_ids(rows: list[Any]) -> list[str]:
    found: list[str] = []
    for item in rows:
        if isinstance(item, dict):
            if "custom_id" in item:
                found.append(item["custom_id"])
            found.extend(custom_ids(item.get("components") or []))
    return found


def validate_choices(choices: object, errors: FormErrors) -> None:
    if not isinstance(choices, list):
        errors.add(["data", "choices"], "BASE_TYPE_REQUIRED", "This field is required")
        return
    if len(choices) > 25:
        errors.add(["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, choice in enumerate(choices):
        name = choice.get("name") if isinstance(choice, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.add(
                ["data", "choices", i, "name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        value = choice.get("value") if isinstance(choice, dict) else None
        _too_long(errors, ["data", "choices", i, "value"], value, 100)


def validate_commands(commands: list[Any], errors: FormErrors) -> None:
    """Bulk-overwrite rules, including those discord.py leaves to Discord (required options
    before optional ones, choices together with autocomplete)."""
    if len(commands) > 100:
        errors.add([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    seen: set[tuple[str, int]] = set()
    for i, command in enumerate(commands):
        if not isinstance(command, dict):
            errors.add([i], "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")
            continue
        name, ctype = command.get("name", ""), command.get("type", 1)
        if (name, ctype) in seen:
            errors.add(
                [i, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {name}",
            )
        seen.add((name, ctype))
        if ctype == 1:
            _validate_name(name, [i, "name"], errors)
            if not 1 <= len(command.get("description", "")) <= 100:
                errors.add([i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            _validate_options(command.get("options") or [], [i, "options"], errors)


def _validate_name(name: object, path: list[str | int], errors: FormErrors) -> None:
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= 32
        or name != name.lower()
        or not all(ch.isalnum() or ch in "-_" for ch in name)
    ):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _validate_options(options: list[Any], path: list[str | int], errors: FormErrors) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    optional_seen = False
    for j, option in enumerate(options):
        at = [*path, j]
        _validate_name(option.get("name"), [*at, "name"], errors)
        if not 1 <= len(option.get("description", "")) <= 100:
            errors.add([*at, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if option.get("type") in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP):
            _validate_options(option.get("options") or [], [*at, "options"], errors)
            continue
        if option.get("required"):
            if optional_seen:
                errors.add(
                    [*at, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        if len(option.get("choices") or []) > 25:
            errors.add([*at, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if option.get("choices") and option.get("autocomplete"):
            errors.add(
                [*at, "autocomplete"],
                "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                "Autocomplete cannot be enabled on options with choices",
            )
