"""Statistical family: linear regression (value, slope, angle, intercept), variance,
z-score.

The regression is refitted on every window, as TA-Lib does: a running least-squares
update would subtract sums of ~p^2 * price to get a slope of a few units, losing most of
its digits at BTC prices. Variance and z-score use the sliding Welford moments of
:mod:`engine.indicators.volatility` (exact restarts, no sum-of-squares drift).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import fill_nan, first_valid1
from engine.indicators._validate import F64
from engine.indicators.volatility import moments_into

__all__ = [
    "linearreg", "linearreg_angle", "linearreg_intercept", "linearreg_slope", "var", "zscore",
]

_DEG = 180.0 / math.pi


@njit(cache=True, nogil=True)
def _linreg(x, period, mode, out):
    """Least-squares line through each window, x = 0 for the newest value and counting
    back (TA-Lib's convention). ``mode``: 0 value at the newest candle, 1 slope, 2 angle
    in degrees, 3 intercept (the line's value ``period - 1`` candles back)."""
    n = x.shape[0]
    start = first_valid1(x)
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    p = period
    sum_x = p * (p - 1) * 0.5
    sum_xx = p * (p - 1) * (2 * p - 1) / 6.0
    divisor = sum_x * sum_x - p * sum_xx
    for today in range(first, n):
        w = x[today - p + 1 : today + 1]  # w[j] has x-coordinate p - 1 - j
        sy0 = 0.0
        sy1 = 0.0
        sxy0 = 0.0
        sxy1 = 0.0
        j = 0
        while j + 2 <= p:  # two accumulators each: half the dependency chain
            a = w[j]
            b = w[j + 1]
            sy0 += a
            sy1 += b
            sxy0 += (p - 1 - j) * a
            sxy1 += (p - 2 - j) * b
            j += 2
        if j < p:
            sy0 += w[j]
            sxy0 += (p - 1 - j) * w[j]
        sy = sy0 + sy1
        sxy = sxy0 + sxy1
        m = (p * sxy - sum_x * sy) / divisor
        b = (sy - m * sum_x) / p
        if mode == 0:
            out[today] = b + m * (p - 1)
        elif mode == 1:
            out[today] = m
        elif mode == 2:
            out[today] = math.atan(m) * _DEG
        else:
            out[today] = b


def _lr(close: Any, period: int, mode: int) -> F64:
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _linreg(x, v.period(period, minimum=2), mode, out)
    return out


def linearreg(close: Any, period: int = 14) -> F64:
    """The regression line's value at the newest candle (TA-Lib ``LINEARREG``); first
    value at ``period - 1``."""
    return _lr(close, period, 0)


def linearreg_slope(close: Any, period: int = 14) -> F64:
    """Slope of the regression line, price units per candle (TA-Lib
    ``LINEARREG_SLOPE``)."""
    return _lr(close, period, 1)


def linearreg_angle(close: Any, period: int = 14) -> F64:
    """Angle of the regression line in degrees, ``atan(slope)`` (TA-Lib
    ``LINEARREG_ANGLE``; the angle depends on the price unit)."""
    return _lr(close, period, 2)


def linearreg_intercept(close: Any, period: int = 14) -> F64:
    """The regression line's value at the oldest candle of the window (TA-Lib
    ``LINEARREG_INTERCEPT``)."""
    return _lr(close, period, 3)


@njit(cache=True, nogil=True)
def _moments(x, period, out):
    moments_into(x, first_valid1(x), period, 0, 1.0, 1.0, out[0], out[1], out[1])


def var(close: Any, period: int = 5) -> F64:
    """Rolling population variance (TA-Lib ``VAR``, whose ``nbdev`` argument has no
    effect), from sliding Welford moments with exact restarts. A NaN in the input makes
    every later value NaN; TA-Lib 0.8 recovers at points its own drift control picks."""
    x = v.as_f64(close, "close")
    out = np.empty((2, x.shape[0]))
    _moments(x, v.period(period), out)
    return out[1]


@njit(cache=True, nogil=True)
def _zscore(x, period, mv):
    _moments(x, period, mv)
    out = mv[0]
    var_ = mv[1]
    for i in range(x.shape[0]):
        s = var_[i]
        if s > 0.0:
            out[i] = (x[i] - out[i]) / math.sqrt(s)
        elif s == 0.0:
            out[i] = 0.0  # a flat window: the value is at its mean
        else:
            out[i] = s  # NaN (warm-up or a NaN in the window)


def zscore(close: Any, period: int = 20) -> F64:
    """How many population standard deviations the close is from the mean of the last
    ``period`` closes (0 for a flat window); first value at ``period - 1``. Not in
    TA-Lib."""
    x = v.as_f64(close, "close")
    out = np.empty((2, x.shape[0]))
    _zscore(x, v.period(period), out)
    return out[0]
