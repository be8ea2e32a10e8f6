"""Batch forms of the custom family (Supertrend, Parabolic SAR, Ichimoku) over
(symbols, time) arrays (see the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.custom import _ichimoku, _sar, _supertrend

__all__ = ["ichimoku_2d", "sar_2d", "supertrend_2d"]

I32 = np.ndarray


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _supertrend2(h, lo, c, period, mult):
    n = c.shape[1]
    line = np.empty(c.shape)
    trend = np.zeros(c.shape, dtype=np.int32)
    for r in prange(c.shape[0]):
        # the kernel takes a (2, n) block (line, ATR scratch) as the 1-D wrapper gives it
        rows = np.empty((2, n))
        _supertrend(h[r], lo[r], c[r], period, mult, rows, trend[r])
        line[r] = rows[0]
    return line, trend


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _sar2(h, lo, accel, maximum):
    out = np.empty(h.shape)
    for r in prange(h.shape[0]):
        _sar(h[r], lo[r], accel, maximum, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ichimoku2(h, lo, tenkan, kijun, senkou, shift):
    n = h.shape[1]
    t = np.empty(h.shape)
    k = np.empty(h.shape)
    a = np.empty(h.shape)
    b = np.empty(h.shape)
    for r in prange(h.shape[0]):
        rows = np.empty((5, n))  # the kernel's four outputs and its scratch row
        _ichimoku(h[r], lo[r], tenkan, kijun, senkou, shift, rows)
        t[r] = rows[0]
        k[r] = rows[1]
        a[r] = rows[2]
        b[r] = rows[3]
    return t, k, a, b


def supertrend_2d(
    high: Any, low: Any, close: Any, period: int = 10, multiplier: float = 3.0
) -> tuple[F64, I32]:
    """Row-wise :func:`engine.indicators.supertrend` over (symbols, time); the direction
    is int32 as in the 1-D form."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _supertrend2(h, lo, c, v.period(period), v.number(multiplier, "multiplier"))


def sar_2d(high: Any, low: Any, acceleration: float = 0.02, maximum: float = 0.2) -> F64:
    """Row-wise :func:`engine.indicators.sar` over (symbols, time)."""
    h, lo = arrays_2d(high=high, low=low)
    acc = v.number(acceleration, "acceleration")
    mx = v.number(maximum, "maximum")
    if acc < 0.0 or mx < 0.0:
        raise ValueError(f"acceleration and maximum must be >= 0, got {acc} and {mx}")
    return _sar2(h, lo, acc, mx)


def ichimoku_2d(
    high: Any, low: Any, tenkan: int = 9, kijun: int = 26, senkou: int = 52,
    displacement: int = 26,
) -> tuple[F64, F64, F64, F64]:
    """Row-wise :func:`engine.indicators.ichimoku` over (symbols, time)."""
    h, lo = arrays_2d(high=high, low=low)
    return _ichimoku2(
        h, lo, v.period(tenkan, "tenkan"), v.period(kijun, "kijun"),
        v.period(senkou, "senkou"), v.period(displacement, "displacement", minimum=0),
    )
