"""Batch forms of the nine core indicators (see the package docstring)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._common import ema_into, first_valid1, first_valid2, first_valid3, sma_into
from engine.indicators._validate import F64
from engine.indicators.momentum import macd_into, rsi_into
from engine.indicators.oscillators import stoch_into
from engine.indicators.volatility import atr_into, bbands_into, stddev_into
from engine.indicators.volume import obv_into

__all__ = [
    "atr_2d", "bbands_2d", "ema_2d", "macd_2d", "obv_2d", "rsi_2d", "sma_2d", "stddev_2d",
    "stoch_2d",
]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _sma2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        sma_into(x[r], first_valid1(x[r]), p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ema2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        ema_into(x[r], first_valid1(x[r]), p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _rsi2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        rsi_into(x[r], first_valid1(x[r]), p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _stddev2(x, p, nbdev):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        stddev_into(x[r], first_valid1(x[r]), p, nbdev, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _macd2(x, f, s, g):
    m = np.empty(x.shape)
    sg = np.empty(x.shape)
    h = np.empty(x.shape)
    for r in prange(x.shape[0]):
        macd_into(x[r], first_valid1(x[r]), f, s, g, m[r], sg[r], h[r])
    return m, sg, h


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _bbands2(x, p, up, dn):
    u = np.empty(x.shape)
    m = np.empty(x.shape)
    lo = np.empty(x.shape)
    for r in prange(x.shape[0]):
        bbands_into(x[r], first_valid1(x[r]), p, up, dn, u[r], m[r], lo[r])
    return u, m, lo


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _atr2(h, lo, c, p):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        atr_into(h[r], lo[r], c[r], first_valid3(h[r], lo[r], c[r]), p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _stoch2(h, lo, c, fk, sk, sd):
    k = np.empty(c.shape)
    d = np.empty(c.shape)
    for r in prange(c.shape[0]):
        stoch_into(h[r], lo[r], c[r], first_valid3(h[r], lo[r], c[r]), fk, sk, sd, k[r], d[r])
    return k, d


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _obv2(c, vol):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        obv_into(c[r], vol[r], first_valid2(c[r], vol[r]), out[r])
    return out


def arrays_2d(**named: Any) -> list[F64]:
    """The named inputs as contiguous 2-D float64 arrays, refused unless they describe the
    same (symbols, time) grid."""
    out = [v.as_f64_2d(a, k) for k, a in named.items()]
    items = list(zip(named, out, strict=True))
    v.same_length(*items)
    return out


def sma_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.sma` over (symbols, time)."""
    return _sma2(v.as_f64_2d(close, "close"), v.period(period))


def ema_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.ema` over (symbols, time)."""
    return _ema2(v.as_f64_2d(close, "close"), v.period(period))


def rsi_2d(close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.rsi` over (symbols, time)."""
    return _rsi2(v.as_f64_2d(close, "close"), v.period(period))


def stddev_2d(close: Any, period: int = 5, nbdev: float = 1.0) -> F64:
    """Row-wise :func:`engine.indicators.stddev` over (symbols, time)."""
    return _stddev2(
        v.as_f64_2d(close, "close"), v.period(period), v.number(nbdev, "nbdev")
    )


def macd_2d(
    close: Any, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
) -> tuple[F64, F64, F64]:
    """Row-wise :func:`engine.indicators.macd` over (symbols, time)."""
    return _macd2(
        v.as_f64_2d(close, "close"), v.period(fastperiod, "fastperiod"),
        v.period(slowperiod, "slowperiod"), v.period(signalperiod, "signalperiod"),
    )


def bbands_2d(
    close: Any, period: int = 5, nbdevup: float = 2.0, nbdevdn: float = 2.0
) -> tuple[F64, F64, F64]:
    """Row-wise :func:`engine.indicators.bbands` over (symbols, time)."""
    return _bbands2(
        v.as_f64_2d(close, "close"), v.period(period), v.number(nbdevup, "nbdevup"),
        v.number(nbdevdn, "nbdevdn"),
    )


def atr_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.atr` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _atr2(h, lo, c, v.period(period))


def stoch_2d(
    high: Any, low: Any, close: Any, fastk_period: int = 5, slowk_period: int = 3,
    slowd_period: int = 3,
) -> tuple[F64, F64]:
    """Row-wise :func:`engine.indicators.stoch` over (symbols, time)."""
    h, lo, c = arrays_2d(high=high, low=low, close=close)
    return _stoch2(
        h, lo, c, v.period(fastk_period, "fastk_period"),
        v.period(slowk_period, "slowk_period"), v.period(slowd_period, "slowd_period"),
    )


def obv_2d(close: Any, volume: Any) -> F64:
    """Row-wise :func:`engine.indicators.obv` over (symbols, time)."""
    c, vol = arrays_2d(close=close, volume=volume)
    return _obv2(c, vol)
