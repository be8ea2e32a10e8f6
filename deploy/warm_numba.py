"""Compile numba's kernels into NUMBA_CACHE_DIR at image build (Dockerfile): a backtest
over the embedded sample touches the indicators, the event loop and the metrics."""

from __future__ import annotations

from engine.backtest.runner import run_backtest
from engine.data.candles import DEMO_DATA_DIR, load_candles  # the sample in the wheel

if __name__ == "__main__":
    candles = load_candles(DEMO_DATA_DIR, ["BTC/USDT"], "5m")
    for name in ("ema_rsi_cross", "ema_rsi_trail", "sentiment_fusion"):
        res = run_backtest(candles, name, stake=1000.0, wallet=100_000.0)
        print(f"warmed {name}: {len(res.trades)} trades")
