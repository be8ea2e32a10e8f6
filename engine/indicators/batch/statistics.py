"""Batch forms of the statistics family (:mod:`engine.indicators.statistics`): the linear
regression outputs, VAR and ZSCORE over (symbols, time), rows spread over cores with
``prange``, each row the exact 1-D kernel (see the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._validate import F64
from engine.indicators.statistics import _linreg, _var, _zscore

__all__ = [
    "linearreg_2d", "linearreg_angle_2d", "linearreg_intercept_2d", "linearreg_slope_2d",
    "var_2d", "zscore_2d",
]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _linreg2(x, p, mode):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _linreg(x[r], p, mode, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _var2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _var(x[r], p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _zscore2(x, p):
    # the 1-D kernel works in a (2, n) block (z-score over the mean, variance beside it):
    # one such block per row, its first row copied out
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        buf = np.empty((2, x.shape[1]))
        _zscore(x[r], p, buf)
        out[r] = buf[0]
    return out


def _lr2(close: Any, period: int, mode: int) -> F64:
    return _linreg2(v.as_f64_2d(close, "close"), v.period(period, minimum=2), mode)


def linearreg_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.linearreg` over (symbols, time)."""
    return _lr2(close, period, 0)


def linearreg_slope_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.linearreg_slope` over (symbols, time)."""
    return _lr2(close, period, 1)


def linearreg_angle_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.linearreg_angle` over (symbols, time)."""
    return _lr2(close, period, 2)


def linearreg_intercept_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.linearreg_intercept` over (symbols, time)."""
    return _lr2(close, period, 3)


def var_2d(close: Any, period: int = 5) -> F64:
    """Row-wise :func:`engine.indicators.var` over (symbols, time)."""
    return _var2(v.as_f64_2d(close, "close"), v.period(period))


def zscore_2d(close: Any, period: int = 20) -> F64:
    """Row-wise :func:`engine.indicators.zscore` over (symbols, time)."""
    return _zscore2(v.as_f64_2d(close, "close"), v.period(period))
