"""Batch forms of the trend family (see the package docstring): each row runs the 1-D
kernel of :mod:`engine.indicators.trend` itself, so row ``r`` equals the 1-D function on
row ``r`` bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._common import first_valid1, wilder_into
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.trend import _hma, _kama, _multi_ema, _vwma, wma_into

__all__ = [
    "dema_2d", "hma_2d", "kama_2d", "rma_2d", "smma_2d", "tema_2d", "vwma_2d", "wma_2d",
    "zlema_2d",
]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _wma2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        wma_into(x[r], first_valid1(x[r]), p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _smma2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        wilder_into(x[r], first_valid1(x[r]), p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _multi_ema2(x, p, mode):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _multi_ema(x[r], p, mode, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _kama2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _kama(x[r], p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _hma2(x, p):
    """``_hma`` wants a (2, n) block (result and scratch); each row gets its own, so the
    rows stay independent across threads."""
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        buf = np.empty((2, x.shape[1]))
        _hma(x[r], p, buf)
        out[r, :] = buf[0]
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _vwma2(c, vol, p):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _vwma(c[r], vol[r], p, out[r])
    return out


def wma_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trend.wma` over (symbols, time)."""
    return _wma2(v.as_f64_2d(close, "close"), v.period(period))


def smma_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.trend.smma` over (symbols, time)."""
    return _smma2(v.as_f64_2d(close, "close"), v.period(period))


rma_2d = smma_2d


def dema_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trend.dema` over (symbols, time)."""
    return _multi_ema2(v.as_f64_2d(close, "close"), v.period(period), 1)


def tema_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trend.tema` over (symbols, time)."""
    return _multi_ema2(v.as_f64_2d(close, "close"), v.period(period), 2)


def zlema_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trend.zlema` over (symbols, time)."""
    return _multi_ema2(v.as_f64_2d(close, "close"), v.period(period), 0)


def kama_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trend.kama` over (symbols, time); period 1 is a
    copy of the input, as in the 1-D wrapper (a copy even when the input is already a
    contiguous float64 array, so the caller's array is never handed back)."""
    x = v.as_f64_2d(close, "close")
    p = v.period(period)
    return x.copy() if p == 1 else _kama2(x, p)


def hma_2d(close: Any, period: int = 20) -> F64:
    """Row-wise :func:`engine.indicators.trend.hma` over (symbols, time); period 1 is a
    copy of the input, as in the 1-D wrapper."""
    x = v.as_f64_2d(close, "close")
    p = v.period(period)
    return x.copy() if p == 1 else _hma2(x, p)


def vwma_2d(close: Any, volume: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trend.vwma` over (symbols, time)."""
    c, vol = arrays_2d(close=close, volume=volume)
    return _vwma2(c, vol, v.period(period))
