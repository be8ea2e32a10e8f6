"""Linear regression family, VAR and z-score.

LINEARREG value, intercept and slope are compared with TA-Lib (slopes cross zero, so their
floor is 1e-9 x 1e-3 of the price level). TA-Lib 0.8 keeps running sums for the slope and
drifts ~1e-8 absolute at BTC prices, while we refit each window (~1e-11), so the slope is
also checked against an exact rational reference, and the angle (atan of the slope,
whose error TA-Lib's drift dominates) against our slope. VAR and z-score are compared
with exact (fsum) references: TA-Lib 0.8's VAR restarts its running sums where its own
drift control decides, so where an interior NaN stops poisoning the output differs from
ours (documented in ``var``)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")

LR = [
    (ind.linearreg, talib.LINEARREG), (ind.linearreg_slope, talib.LINEARREG_SLOPE),
    (ind.linearreg_intercept, talib.LINEARREG_INTERCEPT),
]


@pytest.mark.parametrize("fn, ref", LR, ids=[r.__name__ for _, r in LR])
@pytest.mark.parametrize("period", [2, 3, 14, 50])
def test_linearreg(candles: Candles, fn, ref, period: int) -> None:  # type: ignore[no-untyped-def]
    c = candles.close
    assert_same(fn(c, period), ref(c, period), scale=1e-3 * float(np.max(np.abs(c))))


@pytest.mark.parametrize("period", [2, 3, 14])
def test_linearreg_slope_and_angle_exact(candles: Candles, period: int) -> None:
    x = candles.close[:1500]
    p = period
    sx = Fraction(p * (p - 1), 2)
    div = sx * sx - p * Fraction(p * (p - 1) * (2 * p - 1), 6)
    exact = np.full(x.shape, np.nan)
    for t in range(p - 1, x.shape[0]):
        sy = sum(Fraction(x[t - i]) for i in range(p))
        sxy = sum(i * Fraction(x[t - i]) for i in range(p))
        exact[t] = float((p * sxy - sx * sy) / div)
    slope = ind.linearreg_slope(x, p)
    assert_same(slope, exact, scale=1e-6 * float(np.max(np.abs(x))))
    ref_angle = np.degrees(np.arctan(slope))
    assert_same(ind.linearreg_angle(x, p), ref_angle, rtol=1e-14)
    # and TA-Lib's angle, within what its slope drift allows
    assert_same(ind.linearreg_angle(x, p), talib.LINEARREG_ANGLE(x, p), rtol=1e-5, scale=1e-3)


def test_linearreg_on_a_line() -> None:
    x = 3.0 + 0.5 * np.arange(40.0)
    np.testing.assert_allclose(ind.linearreg_slope(x, 10)[9:], 0.5)
    np.testing.assert_allclose(ind.linearreg(x, 10)[9:], x[9:])
    np.testing.assert_allclose(ind.linearreg_intercept(x, 10)[9:], x[:-9])
    np.testing.assert_allclose(ind.linearreg_angle(x, 10)[9:], math.degrees(math.atan(0.5)))
    with pytest.raises(ValueError, match=">= 2"):
        ind.linearreg(x, 1)


def _exact(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    mean = np.full(x.shape, np.nan)
    var = np.full(x.shape, np.nan)
    for i in range(period - 1, x.shape[0]):
        w = x[i - period + 1 : i + 1]
        mean[i] = math.fsum(w) / period
        var[i] = math.fsum((w - mean[i]) ** 2) / period
    return mean, var


@pytest.mark.parametrize("period", [2, 5, 20])
def test_var_and_zscore_exact(candles: Candles, period: int) -> None:
    x = candles.close[:6000]
    mean, var = _exact(x, period)
    floor = 1e-6 * float(np.max(x)) ** 2
    assert_same(ind.var(x, period), var, scale=floor)
    assert_same(ind.var(x, period), talib.VAR(x, period), scale=floor)
    sd = np.sqrt(var)
    z = np.divide(x - mean, sd, out=np.zeros_like(x), where=sd > 0)
    z[np.isnan(var)] = np.nan
    assert_same(ind.zscore(x, period), z, rtol=1e-6, scale=1.0)


def test_flat_window_zscore_is_zero() -> None:
    x = np.r_[np.linspace(1.0, 2.0, 10), np.full(30, 2.0)]
    z = ind.zscore(x, 5)
    assert (z[14:] == 0.0).all() and np.isnan(z[:4]).all()
    assert (ind.var(x, 5)[14:] == 0.0).all()
