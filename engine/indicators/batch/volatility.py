"""Batch forms of the volatility family (NATR, TRANGE, Donchian, Keltner); ATR, BBANDS and
STDDEV live in :mod:`engine.indicators.batch.core`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._common import first_valid3
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.volatility import _donchian, _keltner, _trange, atr_into

__all__ = ["donchian_2d", "keltner_2d", "natr_2d", "trange_2d"]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _natr2(h, lo, c, p):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        atr_into(h[r], lo[r], c[r], first_valid3(h[r], lo[r], c[r]), p, out[r], True)
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _trange2(h, lo, c):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _trange(h[r], lo[r], c[r], out[r])
    return out


# Three-output kernels write a (3, symbols, time) block: row r's (3, time) slice is what the
# 1-D kernel fills, and each output comes back as one contiguous (symbols, time) array.


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _donchian2(h, lo, p):
    out = np.empty((3, h.shape[0], h.shape[1]))
    for r in prange(h.shape[0]):
        _donchian(h[r], lo[r], p, out[:, r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _keltner2(h, lo, c, p, atr_p, mult):
    out = np.empty((3, c.shape[0], c.shape[1]))
    for r in prange(c.shape[0]):
        _keltner(h[r], lo[r], c[r], p, atr_p, mult, out[:, r])
    return out


def natr_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.natr` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _natr2(h, lo, c, v.period(period))


def trange_2d(high: Any, low: Any, close: Any) -> F64:
    """Row-wise :func:`engine.indicators.trange` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _trange2(h, lo, c)


def donchian_2d(high: Any, low: Any, period: int = 20) -> tuple[F64, F64, F64]:
    """Row-wise :func:`engine.indicators.donchian` over (symbols, time)."""
    h, lo = arrays_2d(high=high, low=low)
    out = _donchian2(h, lo, v.period(period))
    return out[0], out[1], out[2]


def keltner_2d(
    high: Any, low: Any, close: Any, period: int = 20, atr_period: int = 10,
    multiplier: float = 2.0,
) -> tuple[F64, F64, F64]:
    """Row-wise :func:`engine.indicators.keltner` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    out = _keltner2(
        h, lo, c, v.period(period), v.period(atr_period, "atr_period"),
        v.number(multiplier, "multiplier"),
    )
    return out[0], out[1], out[2]
