"""/forcelong, /forceshort and /cancel against the real engine (paper broker, manual
clock): a forced entry passes the risk checks or is refused with the reason; a short
on spot is refused; /cancel stops a resting order or an algo, and says why when not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from commands import dispatch
from commands.base import Ctx, Identity
from commands.orders import Cancel, Twap
from commands.reply import Reply
from engine.clock import ManualClock
from engine.execution.paper import Quote
from engine.service.engine import Engine
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.migrate import upgrade
from engine.storage.models import Order

Say = Callable[..., Awaitable[Reply]]


@pytest.fixture
async def eng(tmp_path: Path) -> AsyncIterator[Engine]:
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    upgrade(url)
    settings = Settings(database={"url": url}, exchange={"mode": "paper", "slippage_bps": 0},
                        bots=[{"name": "main", "symbols": ["BTC/USDT"]}],
                        risk={"max_open_trades": 1})
    e = Engine(settings, SessionFactory(make_engine(url)),
               clock=ManualClock(datetime(2025, 10, 1, 12, tzinfo=UTC)))
    await e.start()
    e.quotes["BTC/USDT"] = Quote(Decimal("60000"))
    yield e
    await e.close()


@pytest.fixture
def say(eng: Engine) -> Say:
    async def run(text: str, role: str = "trader") -> Reply:
        name, *args = text.removeprefix("/").split()
        return await dispatch(Ctx(eng, Identity("telegram", "7", "bob", role)), name, args)
    return run


async def test_forcelong_accepted_then_refused_by_risk(eng: Engine, say: Say) -> None:
    r = await say("/forcelong BTC/USDT")
    # fixed_pct 5 % of 10,000 = 500 USDT at 60,000
    assert r.ok and r.text.startswith("Force long BTC/USDT (market): bought 0.00833333 @ "
                                      "60,000.0000"), r.text
    [t] = eng.open_trades()
    assert t.bot_id is not None and abs(t.amount * 60000 - 500) < Decimal("1e-9")
    r = await say("/forcelong BTC/USDT")
    assert not r.ok and r.text == ("force long BTC/USDT refused by risk: 1 open trades >= "
                                   "max 1")
    assert len(eng.open_trades()) == 1
    await eng.force_exit(None, "test")
    eng.settings.risk.blacklist.append("BTC/USDT")  # what /blacklist does
    r = await say("/forcelong BTC/USDT")
    assert r.text == "force long BTC/USDT refused by risk: BTC/USDT is blacklisted"


async def test_forceshort_needs_futures_and_viewer_is_refused(eng: Engine, say: Say) -> None:
    r = await say("/forceshort BTC/USDT")
    assert not r.ok and "shorts need a futures market" in r.text
    assert "\n" not in r.text
    assert not eng.open_trades()
    r = await say("/forcelong BTC/USDT", role="viewer")
    assert r.text == "/forcelong needs the trader role."
    r = await say("/cancel 1", role="viewer")
    assert r.text == "/cancel needs the trader role."
    assert (await say("/forcelong BTCUSDT")).text.startswith("usage: /forcelong")


async def test_cancel_a_resting_order_and_an_algo(eng: Engine, say: Say) -> None:
    r = await say("/forcelong BTC/USDT 59000")  # a limit under the market: rests
    assert r.ok and "order open" in r.text, r.text
    with eng.sessions() as s:
        oid = s.exec(select(Order.id)).one()
    r = await say(f"/cancel {oid}")
    assert r.ok and r.text.startswith(f"Order #{oid} BTC/USDT buy") and "canceled" in r.text
    r = await say(f"/cancel {oid}")
    assert not r.ok and r.text == f"order #{oid} is already canceled: nothing to cancel"
    assert (await say("/cancel 99")).text.startswith("no order #99")
    # an algo: by its a-id; its number alone says how
    r = await say("/twap BTC/USDT buy 0.01 1h")
    assert r.ok and r.text.startswith("TWAP a1 started"), r.text
    r = await say("/cancel 1")
    assert not r.ok and r.text.endswith("To stop algo a1, send /cancel a1.")
    r = await say("/cancel a1")
    assert r.ok and r.text.startswith("Canceled a1 TWAP buy BTC/USDT") and "canceled" in r.text
    assert eng.get_algo(1).state == "canceled"
    assert not (await say("/cancel a1")).ok


def test_parsing() -> None:
    t = Twap().parse(["btc/usdt", "SELL", "0.5", "90m", "limit", "65000.5"])
    assert (t.pair, t.side, t.amount, t.slices, t.limit) == (
        "BTC/USDT", "sell", Decimal("0.5"), 18, Decimal("65000.5"))
    assert Twap().parse(["BTC/USDT", "buy", "1", "2h", "slices", "7"]).slices == 7
    for bad in (["BTC/USDT", "buy", "1e3", "1h"], ["BTC/USDT", "hold", "1", "1h"],
                ["BTC/USDT", "buy", "1", "1h", "slices"], ["BTC/USDT", "buy", "NaN", "1h"],
                ["BTC/USDT", "buy", "1", "9d"], ["BTC/USDT", "buy", "1", "1h", "slices", "0"]):
        with pytest.raises(ValueError):
            Twap().parse(bad)
    assert Cancel().parse(["a3"]).algo and Cancel().parse(["#12"]).id == 12


async def test_ordertypes_says_which_types_are_native_and_which_emulated(say: Say) -> None:
    r = await say("/ordertypes", role="viewer")
    assert r.ok and "stop-limit: native on paper" in r.text
    assert "trailing stop: native on paper" in r.text and "time in force:" in r.text


def test_a_ccxt_exchange_without_trailing_gets_it_emulated() -> None:
    """Binance in ccxt: stops and take-profits native, the trailing stop emulated
    (ccxt marks Binance's trailingDelta as non-standard)."""
    import ccxt.async_support as ccxt_async

    from engine.execution.ordertypes import capabilities

    lines = capabilities(ccxt_async.binance()).lines()
    assert "stop-limit: native on binance" in lines
    assert "trailing stop: emulated on binance" in lines
