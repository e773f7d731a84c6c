"""Pre-trade risk: limits on order size, position size, open positions, the daily loss, and halt.

Checks are pure functions of the portfolio and the order, so the order manager can run them
under its lock in the same step that reserves cash.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.instruments import Instrument
from engine.krx.prices import limit_price_problem
from engine.ordertypes import Side
from engine.portfolio import Portfolio


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_value: int = 2_000_000
    max_position_value: int = 3_000_000
    max_open_positions: int = 5
    daily_loss_limit: int = 300_000


READY = "ready"
CONNECTING = "connecting to the broker"


@dataclass(slots=True)
class TradingControls:
    """Switches that gate orders: the kill switch, the daily loss block, the session's entries."""

    halted: bool = False
    halt_reason: str = ""
    loss_blocked: bool = False
    entries_open: bool = True
    # Set by the trading schedule; without one (TRADING_HOURS=always) the market is always open.
    session_open: bool = True
    closed_reason: str = ""
    # When the halt began (epoch ns): a hand sell placed after it flattens and is left alone.
    halted_ns: int = 0
    # False until the broker has answered and been reconciled, and again while it is away:
    # with its state unknown, no order may go out.
    broker_ready: bool = True
    broker_state: str = "ready"  # READY, or why orders are refused

    def halt_cancels(self, origin: str, side: Side, created_ns: int) -> bool:
        """Whether a halt takes this order back: every order, except a person's sell placed
        after the halt began (allowed, to flatten)."""
        manual_sell = origin.startswith("manual") and side == Side.SELL
        return not (manual_sell and created_ns >= self.halted_ns)


@dataclass(frozen=True, slots=True)
class RiskRejection:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class OrderCheck:
    symbol: str
    side: Side
    qty: int
    price: int | None  # None = market
    is_auto: bool  # from a strategy, not a person


def reference_price(instrument: Instrument, price: int | None, last: int | None) -> int:
    """The price an order is valued at: its limit, else the last trade, else the previous close."""
    if price is not None:
        return price
    return last if last is not None else instrument.prev_close


def check_price(instrument: Instrument, price: int | None) -> RiskRejection | None:
    if price is None:
        return None
    problem = limit_price_problem(price, instrument.prev_close)
    if problem is None:
        return None
    return RiskRejection(problem.code, f"{instrument.code} {instrument.name}: {problem.message}")


def broker_problem(controls: TradingControls) -> RiskRejection | None:
    if controls.broker_ready:
        return None
    return RiskRejection(
        "broker_unavailable", f"no orders while the broker's state is unknown: {controls.broker_state}"
    )


def check_order(
    limits: RiskLimits,
    portfolio: Portfolio,
    instrument: Instrument,
    order: OrderCheck,
    controls: TradingControls,
) -> RiskRejection | None:
    """None when the order may go out; otherwise why not, in words a user can act on.

    A halt blocks every buy and every strategy order; a person may still sell by hand to
    flatten, because refusing that would trap them in a position they want out of.
    """
    if order.qty <= 0:
        return RiskRejection("bad_quantity", f"quantity must be at least 1, got {order.qty}")
    problem = broker_problem(controls)
    if problem is not None:
        return problem
    if not controls.session_open:
        return RiskRejection("market_closed", controls.closed_reason or "the market is closed")
    if controls.halted and (order.side == Side.BUY or order.is_auto):
        return RiskRejection(
            "halted", "trading is halted: no orders from strategies and no buys until an admin runs /resume"
        )
    if order.side == Side.BUY and order.is_auto and not controls.entries_open:
        return RiskRejection("entries_closed", "new entries are closed for this session")
    if controls.loss_blocked and order.side == Side.BUY:
        return RiskRejection(
            "daily_loss_limit",
            f"the daily loss limit ({limits.daily_loss_limit:,} KRW) was reached: no new entries today",
        )
    problem = check_price(instrument, order.price)
    if problem is not None:
        return problem
    px = reference_price(instrument, order.price, portfolio.last_price(order.symbol))
    value = px * order.qty
    if order.side == Side.SELL:
        available = portfolio.sellable(order.symbol)
        if order.qty > available:
            return RiskRejection(
                "insufficient_shares",
                f"cannot sell {order.qty:,} {order.symbol}: {available:,} shares are available "
                "(held minus those already in open sell orders)",
            )
        return None
    if value > limits.max_order_value:
        most = max(limits.max_order_value // px, 0)
        return RiskRejection(
            "max_order_value",
            f"order value {value:,} KRW is above the {limits.max_order_value:,} KRW limit per "
            f"order: at {px:,} KRW at most {most:,} shares",
        )
    held_value = portfolio.position_value(order.symbol, px) + portfolio.open_buy_value(order.symbol)
    if held_value + value > limits.max_position_value:
        room = max(limits.max_position_value - held_value, 0)
        return RiskRejection(
            "max_position_value",
            f"{order.symbol} would reach {held_value + value:,} KRW, above the "
            f"{limits.max_position_value:,} KRW limit per symbol: room for {room // px:,} shares",
        )
    if not portfolio.holds_or_buying(order.symbol) and (
        portfolio.open_position_count() >= limits.max_open_positions
    ):
        return RiskRejection(
            "max_open_positions",
            f"{portfolio.open_position_count()} positions are open, the limit is "
            f"{limits.max_open_positions}: close one first",
        )
    return None
