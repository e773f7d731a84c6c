"""A sim restarted on the same state file keeps the account, open orders and dedupe."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import msgspec

from engine.sim.config import SimConfig
from engine.sim.market import Market
from engine.sim.protocol import Account, FillInfo, OrderInfo

from .conftest import SimFactory
from .helpers import wait_for

SAMSUNG = "005930"
# So slow that no trade prints while the test runs: orders placed now stay open.
FROZEN = 1e-6


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, object]) -> OrderInfo:
    resp = await http.post(f"{url}/orders", json=body)
    assert resp.status == 200, await resp.text()
    return msgspec.json.decode(await resp.read(), type=OrderInfo)


async def _get(http: aiohttp.ClientSession, url: str, type_: type) -> object:
    return msgspec.json.decode(await (await http.get(url)).read(), type=type_)


async def test_state_survives_a_restart(
    make_sim: SimFactory, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    state = tmp_path / "sim" / "state.db"
    # The tape is seeded: check that the frozen tape really prints nothing for a long while.
    first_trade = Market.from_config(SimConfig(tick_rate=FROZEN, symbols=(SAMSUNG,)))
    assert first_trade.state(SAMSUNG).until_next > 1_000

    sim = await make_sim(symbols=(SAMSUNG,), tick_rate=FROZEN, state_path=state)
    # Marketable (above the last price) but no trade prints, so it rests.
    buy = {
        "client_order_id": "b1",
        "symbol": SAMSUNG,
        "side": "buy",
        "type": "limit",
        "qty": 10,
        "price": 120_000,
    }
    resting = await _post(http, sim.url, buy)
    assert resting.status == "accepted"
    rejected = await _post(http, sim.url, {**buy, "client_order_id": "r1", "qty": 0})
    assert rejected.status == "rejected"
    await sim.stop()

    # Same file, a live tape: the order that was resting fills after the restart.
    sim = await make_sim(symbols=(SAMSUNG,), tick_rate=200.0, state_path=state)
    again = await _post(http, sim.url, buy)
    assert again.duplicate and again.order_id == resting.order_id
    assert (await _post(http, sim.url, {**buy, "client_order_id": "r1", "qty": 0})).duplicate

    async def filled() -> bool:
        info = await _get(http, f"{sim.url}/orders/{resting.order_id}", OrderInfo)
        return isinstance(info, OrderInfo) and info.status == "filled"

    await wait_for(filled, timeout=3.0)
    account = await _get(http, f"{sim.url}/account", Account)
    assert isinstance(account, Account) and account.positions[0].qty == 10
    newer = await _post(http, sim.url, {**buy, "client_order_id": "b2", "price": 68_400})
    assert newer.order_id == "S00000003"  # numbering continues after the restart
    await sim.stop()

    sim = await make_sim(symbols=(SAMSUNG,), tick_rate=FROZEN, state_path=state, initial_cash=1)
    assert await _get(http, f"{sim.url}/account", Account) == account
    fills = await _get(http, f"{sim.url}/fills", list[FillInfo])
    assert isinstance(fills, list) and sum(f.qty for f in fills) == 10
    assert {f.order_id for f in fills} == {"S00000001"}
    orders = await _get(http, f"{sim.url}/orders?status=all", list[OrderInfo])
    assert isinstance(orders, list)
    assert [(o.order_id, o.status) for o in orders] == [
        ("S00000001", "filled"),
        ("S00000002", "rejected"),
        ("S00000003", "accepted"),
    ]
    open_orders = await _get(http, f"{sim.url}/orders?status=open", list[OrderInfo])
    assert isinstance(open_orders, list)
    assert [o.order_id for o in open_orders] == ["S00000003"]
    resp = await http.delete(f"{sim.url}/orders/S00000003")
    assert resp.status == 200
