"""Batch forms of the momentum family (:mod:`engine.indicators.momentum`): MOM, ROC, CMO,
STOCHRSI, CCI and WILLR over (symbols, time), rows spread over cores with ``prange``, each
row the exact 1-D kernel (see the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.momentum import _cci, _mom_roc, _rsi, _stochrsi, _willr

__all__ = ["cci_2d", "cmo_2d", "mom_2d", "roc_2d", "stochrsi_2d", "willr_2d"]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _mom_roc2(x, p, roc):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _mom_roc(x[r], p, roc, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _cmo2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _rsi(x[r], p, True, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _stochrsi2(x, p, fk, fd):
    # the 1-D kernel writes (fastk, fastd, rsi scratch) as the rows of one (3, n) block:
    # one such block per row, its first two rows copied out
    k = np.empty(x.shape)
    d = np.empty(x.shape)
    for r in prange(x.shape[0]):
        buf = np.empty((3, x.shape[1]))
        _stochrsi(x[r], p, fk, fd, buf)
        k[r] = buf[0]
        d[r] = buf[1]
    return k, d


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _cci2(h, lo, c, p):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _cci(h[r], lo[r], c[r], p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _willr2(h, lo, c, p):
    # the 1-D kernel needs a second row of scratch beside its output
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        buf = np.empty((2, c.shape[1]))
        _willr(h[r], lo[r], c[r], p, buf)
        out[r] = buf[0]
    return out


def mom_2d(close: Any, period: int = 10) -> F64:
    """Row-wise :func:`engine.indicators.mom` over (symbols, time)."""
    return _mom_roc2(v.as_f64_2d(close, "close"), v.period(period), False)


def roc_2d(close: Any, period: int = 10) -> F64:
    """Row-wise :func:`engine.indicators.roc` over (symbols, time)."""
    return _mom_roc2(v.as_f64_2d(close, "close"), v.period(period), True)


def cmo_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.cmo` over (symbols, time)."""
    return _cmo2(v.as_f64_2d(close, "close"), v.period(period))


def stochrsi_2d(
    close: Any, period: int = 14, fastk_period: int = 5, fastd_period: int = 3
) -> tuple[F64, F64]:
    """Row-wise :func:`engine.indicators.stochrsi` over (symbols, time)."""
    return _stochrsi2(
        v.as_f64_2d(close, "close"), v.period(period), v.period(fastk_period, "fastk_period"),
        v.period(fastd_period, "fastd_period"),
    )


def cci_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.cci` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _cci2(h, lo, c, v.period(period))


def willr_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.willr` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _willr2(h, lo, c, v.period(period))
