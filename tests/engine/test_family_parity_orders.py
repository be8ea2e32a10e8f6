"""Live = backtest for the families that trade through the order hooks (`grid`,
`dca_bot`: limit entries at their lines, orders good for one candle or resting,
``adjust_trade_position`` buying safety orders and selling grid lots): a replay through
the live engine makes exactly the backtester's trades AND fills exactly its orders.

This needs the live engine to run limit orders, ``unfilledtimeout`` and
``adjust_trade_position`` as the order-level backtest does (`engine.backtest.orders`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from engine.backtest._paths import shared_data
from engine.backtest.runner import run_backtest
from engine.data.candles import load_candles
from engine.storage.models import Order
from tests.engine.parity import (
    assert_same_trades,
    backtest_rows,
    live_rows,
    parity_settings,
    replay_live,
)

BINANCE = shared_data() / "ohlcv" / "binance_spot_5m_2025"
needs_data = pytest.mark.skipif(not BINANCE.is_dir(), reason=f"shared data not found at {BINANCE}")


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(f"{day}T00:00:00+00:00").timestamp() * 1000)


def _sig(x: float) -> float:
    return float(f"{x:.12g}")


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "start", "end", "min_orders"), [
    ("grid", "2025-03-01", "2025-03-08", 40),
    ("dca_bot", "2025-03-01", "2025-03-08", 20),
])
async def test_order_family_replays_make_the_backtests_trades_and_orders(
        tmp_path: Path, strategy: str, start: str, end: str, min_orders: int) -> None:
    pairs = ["BTC/USDT", "ETH/USDT"]
    s_ms, e_ms = _ms(start), _ms(end)
    candles = {p: c.between(s_ms, e_ms) for p, c in load_candles(BINANCE, pairs, "5m").items()}
    bt = run_backtest(candles, strategy, stake=1000.0, fee=0.001, wallet=1_000_000.0,
                      max_open_trades=-1, compute_metrics=False)
    settings = parity_settings(f"sqlite:///{tmp_path / 'live.db'}", BINANCE, pairs, strategy,
                               "USDT", "1000")
    eng = await replay_live(settings, pairs, start_ms=s_ms, end_ms=e_ms)
    live = live_rows(eng)
    with eng.sessions() as s:
        filled = s.exec(select(Order).where(Order.state == "filled")
                        .order_by(col(Order.id))).all()
    eng.sessions.engine.dispose()
    # a real workload: both sides of the grid, safety orders
    assert len(bt.orders) >= min_orders
    tags = {r["tag"] for r in bt.orders}
    assert {"grid_buy", "grid_sell"} <= tags if strategy == "grid" else "safety_order" in tags
    assert_same_trades(live, backtest_rows(bt),
                       {p: int(c.open_time[-1]) for p, c in candles.items()})
    # every filled order, per pair in sequence: side, amount, price (the force exits at
    # the end of the backtest have no live counterpart: the replay just stops)
    for p in pairs:
        want = [(r["side"], _sig(float(r["amount"])), _sig(float(r["price"])))
                for r in bt.orders if r["pair"] == p and r["tag"] != "force_exit"]
        got = [(o.side, _sig(float(o.filled)), _sig(float(o.average_price or o.price or 0)))
               for o in filled if o.symbol == p]
        assert got[:len(want)] == want, p
        assert len(got) - len(want) <= 1  # an entry on the pair's last candle at most
