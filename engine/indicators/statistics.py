"""Statistical family: linear regression (value, slope, angle, intercept), variance,
z-score.

The regression slides its sums (O(1) per candle) on prices relative to a nearby
reference and restarts them exactly every few dozen candles: a plain running
least-squares update would subtract sums of ~p^2 * price to get a slope of a few units and
lose most of its digits at BTC prices. Variance and z-score use the sliding Welford moments of
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
LR_BLOCK = 64  # candles between exact restarts of the regression's running sums


@njit(cache=True, nogil=True, error_model="numpy")
def _linreg(x, period, mode, out):
    """Least-squares line through each window, x = 0 for the newest value and counting
    back (TA-Lib's convention). ``mode``: 0 value at the newest candle, 1 slope, 2 angle
    in degrees, 3 intercept (the line's value ``period - 1`` candles back).

    O(1) per candle: the window sums ``Sy`` and ``Sxy`` slide (``Sxy += Sy - p * oldest``
    before ``Sy`` takes the new value), on prices taken relative to a reference near the
    window so the sums stay small, and restart exactly from the window every
    ``LR_BLOCK`` candles with a fresh reference. That keeps the slope within ~1e-11 of the
    exact value at BTC prices (TA-Lib 0.8's own running sums drift ~1e-8)."""
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
    blk = max(LR_BLOCK, 4 * p)
    inv_div = 1.0 / divisor
    inv_p = 1.0 / p
    for b0 in range(first, n, blk):
        b1 = min(b0 + blk, n)
        ref = x[b0]
        sy = 0.0
        sxy = 0.0
        for j in range(p):  # exact restart: the window ending at b0, oldest first
            y = x[b0 - p + 1 + j] - ref
            sy += y
            sxy += (p - 1 - j) * y
        xs = x[b0:b1]
        xo = x[b0 - p + 1 : b1 - p + 1]  # xo[j - 1] leaves the window at b0 + j
        os = out[b0:b1]
        for j in range(b1 - b0):
            if j > 0:
                old = xo[j - 1] - ref
                sxy += sy - p * old
                sy += (xs[j] - ref) - old
            m = (p * sxy - sum_x * sy) * inv_div
            if mode == 1:
                os[j] = m
            elif mode == 2:
                os[j] = math.atan(m) * _DEG
            else:
                b = (sy - m * sum_x) * inv_p
                os[j] = (b + m * (p - 1)) + ref if mode == 0 else b + ref


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


@njit(cache=True, nogil=True, error_model="numpy")
def _moments(x, period, out):
    moments_into(x, first_valid1(x), period, 0, 1.0, 1.0, out[0], out[1], out[1])


def var(close: Any, period: int = 5) -> F64:
    """Rolling population variance (TA-Lib ``VAR``, whose ``nbdev`` argument has no
    effect), from sliding Welford moments with exact restarts. A NaN in the input makes
    every later value NaN; TA-Lib 0.8 recovers at points its own drift control picks."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _var(x, v.period(period), out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _var(x, period, out):
    moments_into(x, first_valid1(x), period, 3, 1.0, 1.0, out, out, out)


@njit(cache=True, nogil=True, error_model="numpy")
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
