"""Live = backtest for the strategy families (`engine.strategy.families`): a replay
through the live engine, which asks the strategy on each closed candle over its
trailing window, makes exactly the backtester's trades over the same candles."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from engine.backtest._paths import shared_data
from engine.backtest.runner import run_backtest
from engine.data.candles import load_candles
from engine.signals.regime import regime_columns, regime_name
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


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "start", "end", "min_trades"), [
    ("regime_switch", "2025-03-01", "2025-03-08", 20),
    ("pattern_breakout", "2025-03-01", "2025-03-06", 10),
    ("mtf_trend", "2025-03-01", "2025-03-16", 10),
])
async def test_family_replays_make_the_backtests_trades(
        tmp_path: Path, strategy: str, start: str, end: str, min_trades: int) -> None:
    pairs = ["BTC/USDT", "ETH/USDT"]
    s_ms, e_ms = _ms(start), _ms(end)
    candles = {p: c.between(s_ms, e_ms) for p, c in load_candles(BINANCE, pairs, "5m").items()}
    bt = run_backtest(candles, strategy, stake=1000.0, fee=0.001, wallet=1_000_000.0,
                      max_open_trades=-1, compute_metrics=False)
    settings = parity_settings(f"sqlite:///{tmp_path / 'live.db'}", BINANCE, pairs, strategy,
                               "USDT", "1000")
    eng = await replay_live(settings, pairs, start_ms=s_ms, end_ms=e_ms)
    live = live_rows(eng)
    regimes = eng.market_regimes()
    health = eng.health()
    png = await eng.chart("BTC/USDT")
    market = eng.market_context()
    eng.sessions.engine.dispose()
    assert len(bt.trades) >= min_trades  # a real workload, not an empty one
    assert_same_trades(live, backtest_rows(bt),
                       {p: int(c.open_time[-1]) for p, c in candles.items()})
    assert png.startswith(b"\x89PNG") and len(png) > 10_000  # /chart drew the candles
    # the LLM scorer's market view: last price and a day's change from the runtime's closes
    btc = candles["BTC/USDT"]
    assert set(market) == {"BTC", "ETH"} and market["BTC"].price == float(btc.close[-1])
    assert abs(market["BTC"].change_24h_pct
               - 100 * (btc.close[-1] / btc.close[-289] - 1)) < 1e-9
    # /health: each series' last closed candle, on the engine's (replay) clock
    assert {k: int(v.timestamp() * 1000) for k, v in health.last_candles.items()} == {
        f"{p} 5m": int(c.close_time[-1]) for p, c in candles.items()}
    # /status's regime per series: the last closed candle's, over the runtime's candles
    for p, c in candles.items():
        want = regime_columns(c.high[-2000:], c.low[-2000:], c.close[-2000:])["regime"][-1]
        assert regimes[f"{p} 5m"] == regime_name(int(want))
