"""The slash commands, built from the command declarations (bot/commands/catalog.py).

Nothing about a command is written here: its name, options, help, role, choices and
autocomplete come from its declaration, and every path in (the command, its autocomplete, the
Confirm button) goes through the command layer and its role check.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.commands import CommandError, Role
from bot.commands.catalog import Command, Kind, Option
from bot.commands.layer import COMMANDS
from bot.discord.embeds import error_embed, result_embed
from bot.discord.replies import reply
from bot.discord.views import ConfirmOrder

if TYPE_CHECKING:
    from bot.discord.client import TradecordBot

Callback = Callable[..., Coroutine[Any, Any, None]]
Suggester = Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]


def _annotation(option: Option) -> Any:
    if option.kind is Kind.CHOICE:
        return app_commands.Choice[type(option.choices[0].value)]  # type: ignore[misc]
    if option.kind is Kind.NUMBER:
        return int  # a number pad on a phone; the layer checks the range
    if option.max_length is not None:
        return app_commands.Range[str, 1, option.max_length]
    return str


def _signature(spec: Command) -> inspect.Signature:
    """discord.py reads a slash command's options off its callback's signature."""
    params = [
        inspect.Parameter("itx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)
    ]
    for o in spec.options:
        kind = _annotation(o)
        params.append(
            inspect.Parameter(
                o.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=kind if o.required else kind | None,
                default=inspect.Parameter.empty if o.required else None,
            )
        )
    return inspect.Signature(params)


async def run(bot: TradecordBot, itx: discord.Interaction, spec: Command, args: Mapping[str, Any]) -> None:
    """One command through the layer. Anything that may wait on the broker acknowledges first,
    so the 3-second deadline is met however slow the broker is."""
    inv = bot.invocation(itx)
    if spec.confirm and not (bot.config.skip_confirm_in_paper and bot.engine.broker.paper):
        try:
            preview = await bot.layer.preview_order(inv, spec.name, args)  # type: ignore[arg-type]
        except CommandError as exc:
            await reply(itx, error_embed(exc.message))
            return
        await reply(itx, result_embed(preview), view=ConfirmOrder(bot, itx, inv, spec.name, args))  # type: ignore[arg-type]
        return
    if spec.defer:
        await itx.response.defer(ephemeral=True, thinking=True)
    try:
        result = await bot.layer.execute(inv, spec.name, args)
    except CommandError as exc:
        await reply(itx, error_embed(exc.message))
        return
    await reply(itx, result_embed(result), file=getattr(result, "chart_path", None))


def _suggester(bot: TradecordBot, spec: Command, option: Option) -> Suggester:
    async def suggest(itx: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = await bot.layer.suggest(bot.invocation(itx), spec.name, option.name, current)
        return [app_commands.Choice(name=s.label[:100], value=s.value[:100]) for s in found]

    return suggest


def slash_command(bot: TradecordBot, spec: Command) -> app_commands.Command[Any, ..., None]:
    async def callback(itx: discord.Interaction, **options: Any) -> None:
        args = {k: v.value if isinstance(v, app_commands.Choice) else v for k, v in options.items()}
        await run(bot, itx, spec, args)

    callback.__signature__ = _signature(spec)  # type: ignore[attr-defined]
    described: Callback = callback
    if spec.options:
        described = app_commands.describe(**{o.name: o.help[:100] for o in spec.options})(callback)
    choices = {
        o.name: [app_commands.Choice(name=c.label[:100], value=c.value) for c in o.choices]
        for o in spec.options
        if o.choices
    }
    if choices:
        described = app_commands.choices(**choices)(described)
    role = "" if spec.role <= Role.VIEWER else f" ({spec.role.name.lower()})"
    slash: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name, description=(spec.summary + role)[:100], callback=described
    )
    for o in spec.options:
        if o.suggest is not None:
            slash.autocomplete(o.name)(_suggester(bot, spec, o))
    return slash


def slash_commands(bot: TradecordBot) -> list[app_commands.Command[Any, ..., None]]:
    return [slash_command(bot, spec) for spec in COMMANDS]
