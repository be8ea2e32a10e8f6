"""SMA, EMA and RSI against TA-Lib on real candles at three price scales."""

from __future__ import annotations

import numpy as np
import pytest

from engine.indicators import ema, rsi, sma
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("period", [1, 2, 5, 14, 200])
def test_sma_matches_talib(candles: Candles, period: int) -> None:
    if period == 1:  # TA-Lib refuses period 1; SMA(1) is the input itself
        assert_same(sma(candles.close, 1), candles.close)
        return
    assert_same(sma(candles.close, period), talib.SMA(candles.close, period))


@pytest.mark.parametrize("period", [2, 9, 20, 200])
def test_ema_matches_talib(candles: Candles, period: int) -> None:
    assert_same(ema(candles.close, period), talib.EMA(candles.close, period))


def test_ema_seed_is_sma_of_first_n() -> None:
    x = np.arange(1.0, 11.0)
    out = ema(x, 4)
    assert np.isnan(out[:3]).all()
    assert out[3] == pytest.approx(2.5)
    assert out[4] == pytest.approx(2.5 + (5 - 2.5) * 2 / 5)


@pytest.mark.parametrize("period", [2, 6, 14, 50])
def test_rsi_matches_talib(candles: Candles, period: int) -> None:
    out = rsi(candles.close, period)
    assert np.isnan(out[:period]).all() and not np.isnan(out[period])
    assert_same(out, talib.RSI(candles.close, period))


@pytest.mark.parametrize("fn, ref", [(sma, "SMA"), (ema, "EMA"), (rsi, "RSI")])
def test_nan_input_behaves_as_talib(fn, ref) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    x = 100 + np.cumsum(rng.standard_normal(300))
    x[:17] = np.nan  # leading run is skipped
    x[150] = np.nan  # an interior NaN is fed to the arithmetic
    assert_same(fn(x, 10), getattr(talib, ref)(x, 10))


@pytest.mark.parametrize("fn", [sma, ema, rsi])
def test_validation(fn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="period must be >= 1"):
        fn(np.ones(10), 0)
    with pytest.raises(ValueError, match="1-D"):
        fn(np.ones((2, 10)), 3)
    with pytest.raises(ValueError, match="integer"):
        fn(np.ones(10), 2.5)
    # integer input is converted, not refused
    assert_same(fn(np.arange(30), 5), fn(np.arange(30, dtype=np.float64), 5))
