"""Batch forms of the oscillator family (see the package docstring): STOCHF, TRIX, PPO,
ULTOSC and the DMI group. ``stoch_2d`` is in :mod:`engine.indicators.batch.core`.

Each row runs the 1-D kernel itself (the kernels find each row's first valid candle on
their own), so row ``r`` equals the 1-D function on row ``r`` bit for bit. Kernels that
write several rows of one block (PPO's scratch row, DMI's three lines) are handed a
``(rows, symbols, time)`` block's slice ``out[:, r]``, so that each output comes back as
one contiguous ``(symbols, time)`` array.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._common import first_valid3
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.oscillators import MA_TYPES, _dmi, _ppo, _ultosc, stoch_into
from engine.indicators.trend import _multi_ema

__all__ = [
    "adx_2d", "dmi_2d", "dx_2d", "minus_di_2d", "plus_di_2d", "ppo_2d", "stochf_2d",
    "trix_2d", "ultosc_2d",
]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _stochf2(h, lo, c, fk, fd):
    k = np.empty(c.shape)
    d = np.empty(c.shape)
    for r in prange(c.shape[0]):
        stoch_into(h[r], lo[r], c[r], first_valid3(h[r], lo[r], c[r]), fk, 1, fd, k[r], d[r])
    return k, d


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _trix2(x, p):
    out = np.empty(x.shape)
    for r in prange(x.shape[0]):
        _multi_ema(x[r], p, 3, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ppo2(x, fast, slow, matype):
    out = np.empty((2, x.shape[0], x.shape[1]))  # row 1 is the kernel's scratch
    for r in prange(x.shape[0]):
        _ppo(x[r], fast, slow, matype, out[:, r])
    return out[0]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ultosc2(h, lo, c, p1, p2, p3):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _ultosc(h[r], lo[r], c[r], p1, p2, p3, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _dmi2(h, lo, c, p, mode, rows):
    out = np.empty((rows, c.shape[0], c.shape[1]))
    for r in prange(c.shape[0]):
        _dmi(h[r], lo[r], c[r], p, mode, out[:, r])
    return out


def _hlc_2d(high: Any, low: Any, close: Any) -> list[F64]:
    return arrays_2d(high=high, low=low, close=close)


def stochf_2d(
    high: Any, low: Any, close: Any, fastk_period: int = 5, fastd_period: int = 3
) -> tuple[F64, F64]:
    """Row-wise :func:`engine.indicators.stochf` over (symbols, time)."""
    h, lo, c = _hlc_2d(high, low, close)
    return _stochf2(
        h, lo, c, v.period(fastk_period, "fastk_period"), v.period(fastd_period, "fastd_period")
    )


def trix_2d(close: Any, period: int = 30) -> F64:
    """Row-wise :func:`engine.indicators.trix` over (symbols, time)."""
    return _trix2(v.as_f64_2d(close, "close"), v.period(period))


def ppo_2d(close: Any, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> F64:
    """Row-wise :func:`engine.indicators.ppo` over (symbols, time)."""
    if matype not in MA_TYPES:
        raise ValueError(f"matype must be one of {MA_TYPES} (TA-Lib numbering), got {matype!r}")
    return _ppo2(
        v.as_f64_2d(close, "close"), v.period(fastperiod, "fastperiod"),
        v.period(slowperiod, "slowperiod"), int(matype),
    )


def ultosc_2d(
    high: Any, low: Any, close: Any, timeperiod1: int = 7, timeperiod2: int = 14,
    timeperiod3: int = 28,
) -> F64:
    """Row-wise :func:`engine.indicators.ultosc` over (symbols, time)."""
    h, lo, c = _hlc_2d(high, low, close)
    return _ultosc2(
        h, lo, c, v.period(timeperiod1, "timeperiod1"), v.period(timeperiod2, "timeperiod2"),
        v.period(timeperiod3, "timeperiod3"),
    )


def _dmi_2d(high: Any, low: Any, close: Any, period: int, mode: int) -> Any:
    h, lo, c = _hlc_2d(high, low, close)
    return _dmi2(h, lo, c, v.period(period), mode, 3 if mode == 4 else 1)


def adx_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.adx` over (symbols, time)."""
    return _dmi_2d(high, low, close, period, 0)[0]


def plus_di_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.plus_di` over (symbols, time)."""
    return _dmi_2d(high, low, close, period, 1)[0]


def minus_di_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.minus_di` over (symbols, time)."""
    return _dmi_2d(high, low, close, period, 2)[0]


def dx_2d(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.dx` over (symbols, time)."""
    return _dmi_2d(high, low, close, period, 3)[0]


def dmi_2d(high: Any, low: Any, close: Any, period: int = 14) -> tuple[F64, F64, F64]:
    """Row-wise :func:`engine.indicators.dmi` over (symbols, time)."""
    pdi, mdi, a = _dmi_2d(high, low, close, period, 4)
    return pdi, mdi, a
