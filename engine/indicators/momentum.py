"""Momentum family: RSI and friends (Wilder smoothing, TA-Lib seeding)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import fill_nan, first_valid1
from engine.indicators._validate import F64

__all__ = ["rsi"]


@njit(cache=True, nogil=True)
def rsi_into(x, start, period, out):
    """Wilder RSI of ``x[start:]``, seeded with simple averages of the first ``period``
    changes, first value at ``start + period``; TA-Lib (0.6+) reports 0 when gain + loss is
    zero or NaN (a flat market), and so do we."""
    n = x.shape[0]
    first = start + period
    fill_nan(out, first)
    if first >= n:
        return
    inv = 1.0 / period
    keep = (period - 1) * inv
    gain = 0.0
    loss = 0.0
    prev = x[start]
    for i in range(start + 1, first + 1):
        cur = x[i]
        d = cur - prev
        prev = cur
        if d < 0.0:
            loss -= d
        else:
            gain += d
    gain = gain / period
    loss = loss / period
    s = gain + loss
    out[first] = 100.0 * (gain / s) if s > 0.0 else 0.0
    for i in range(first + 1, n):
        cur = x[i]
        d = cur - prev
        prev = cur
        up = 0.0 if d < 0.0 else d  # a NaN change lands in gain, as in TA-Lib
        dn = -d if d < 0.0 else 0.0
        gain = gain * keep + up * inv
        loss = loss * keep + dn * inv
        s = gain + loss
        out[i] = 100.0 * (gain / s) if s > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _rsi(x, period):
    out = np.empty(x.shape[0])
    rsi_into(x, first_valid1(x), period, out)
    return out


def rsi(close: Any, period: int = 14) -> F64:
    """Relative Strength Index (Wilder); first value at index ``period`` (TA-Lib ``RSI``)."""
    return _rsi(v.as_f64(close, "close"), v.period(period))
