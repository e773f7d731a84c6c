"""One cog per feature; each command body is the shared command layer."""

from bot.discord.cogs.account import AccountCog
from bot.discord.cogs.control import ControlCog
from bot.discord.cogs.market import MarketCog
from bot.discord.cogs.orders import OrdersCog
from bot.discord.cogs.subscriptions import SubscriptionsCog

COGS = (SubscriptionsCog, OrdersCog, AccountCog, ControlCog, MarketCog)
