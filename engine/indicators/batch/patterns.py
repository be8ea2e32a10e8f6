"""Batch forms of the candle patterns over (symbols, time) arrays (see the package
docstring); int32 outputs as the 1-D forms, 0 during warm-up."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.patterns import _doji, _engulfing, _hammer_star, _morningstar

__all__ = [
    "cdldoji_2d", "cdlengulfing_2d", "cdlhammer_2d", "cdlmorningstar_2d", "cdlshootingstar_2d",
]

I32 = np.ndarray


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _engulfing2(o, h, lo, c):
    out = np.zeros(c.shape, dtype=np.int32)
    for r in prange(c.shape[0]):
        _engulfing(o[r], h[r], lo[r], c[r], out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _doji2(o, h, lo, c):
    out = np.zeros(c.shape, dtype=np.int32)
    for r in prange(c.shape[0]):
        _doji(o[r], h[r], lo[r], c[r], out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _hammer_star2(o, h, lo, c, star):
    out = np.zeros(c.shape, dtype=np.int32)
    for r in prange(c.shape[0]):
        _hammer_star(o[r], h[r], lo[r], c[r], star, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _morningstar2(o, h, lo, c, penetration):
    out = np.zeros(c.shape, dtype=np.int32)
    for r in prange(c.shape[0]):
        _morningstar(o[r], h[r], lo[r], c[r], penetration, out[r])
    return out


def _ohlc_2d(open_: Any, high: Any, low: Any, close: Any) -> tuple[F64, F64, F64, F64]:
    o, h, lo, c = arrays_2d(open=open_, high=high, low=low, close=close)
    return o, h, lo, c


def cdlengulfing_2d(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Row-wise :func:`engine.indicators.cdlengulfing` over (symbols, time)."""
    return _engulfing2(*_ohlc_2d(open_, high, low, close))


def cdldoji_2d(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Row-wise :func:`engine.indicators.cdldoji` over (symbols, time)."""
    return _doji2(*_ohlc_2d(open_, high, low, close))


def cdlhammer_2d(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Row-wise :func:`engine.indicators.cdlhammer` over (symbols, time)."""
    o, h, lo, c = _ohlc_2d(open_, high, low, close)
    return _hammer_star2(o, h, lo, c, False)


def cdlshootingstar_2d(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Row-wise :func:`engine.indicators.cdlshootingstar` over (symbols, time)."""
    o, h, lo, c = _ohlc_2d(open_, high, low, close)
    return _hammer_star2(o, h, lo, c, True)


def cdlmorningstar_2d(
    open_: Any, high: Any, low: Any, close: Any, penetration: float = 0.3
) -> I32:
    """Row-wise :func:`engine.indicators.cdlmorningstar` over (symbols, time)."""
    pen = v.number(penetration, "penetration")
    if pen < 0.0:
        raise ValueError(f"penetration must be >= 0, got {pen}")
    o, h, lo, c = _ohlc_2d(open_, high, low, close)
    return _morningstar2(o, h, lo, c, pen)
