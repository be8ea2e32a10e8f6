"""Supertrend and Parabolic SAR against TA-Lib; Ichimoku against TA-Lib's MAX/MIN."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("period, mult", [(10, 3.0), (7, 2.0), (2, 0.5)])
def test_supertrend(candles: Candles, period: int, mult: float) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    line, trend = ind.supertrend(h, lo, c, period, mult)
    ref_line, ref_trend = talib.SUPERTREND(h, lo, c, period, mult)
    assert_same(line, ref_line)
    assert trend.dtype == np.int32
    np.testing.assert_array_equal(trend, ref_trend)
    assert set(np.unique(trend[period:])) <= {-1, 1}


@pytest.mark.parametrize("accel, maximum", [(0.02, 0.2), (0.05, 0.1), (0.3, 0.2)])
def test_sar(candles: Candles, accel: float, maximum: float) -> None:
    assert_same(ind.sar(candles.high, candles.low, accel, maximum),
                talib.SAR(candles.high, candles.low, accel, maximum))


def test_ichimoku(candles: Candles) -> None:
    h, lo = candles.high, candles.low
    tenkan, kijun, span_a, span_b = ind.ichimoku(h, lo)

    def mid(p: int) -> np.ndarray:
        return (talib.MAX(h, p) + talib.MIN(lo, p)) / 2

    def later(x: np.ndarray) -> np.ndarray:
        return np.r_[np.full(26, np.nan), x[:-26]]

    assert_same(tenkan, mid(9))
    assert_same(kijun, mid(26))
    assert_same(span_a, later((mid(9) + mid(26)) / 2))
    assert_same(span_b, later(mid(52)))


def test_nan_as_talib() -> None:
    rng = np.random.default_rng(4)
    c = 100 + np.cumsum(rng.standard_normal(400))
    h, lo = c + rng.uniform(0, 2, 400), c - rng.uniform(0, 2, 400)
    h[:3] = np.nan
    lo[200] = np.nan
    c[250] = np.nan
    line, trend = ind.supertrend(h, lo, c, 7, 2.0)
    ref_line, ref_trend = talib.SUPERTREND(h, lo, c, 7, 2.0)
    assert_same(line, ref_line)
    np.testing.assert_array_equal(trend, ref_trend)
    assert_same(ind.sar(h, lo), talib.SAR(h, lo))


def test_validation() -> None:
    x = np.ones(20)
    with pytest.raises(ValueError, match="acceleration"):
        ind.sar(x, x, -0.1, 0.2)
    with pytest.raises(ValueError, match="same candles"):
        ind.ichimoku(x, x[:5])
    with pytest.raises(ValueError, match="multiplier"):
        ind.supertrend(x, x, x, 5, float("nan"))
