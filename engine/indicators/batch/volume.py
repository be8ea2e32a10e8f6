"""Batch forms of the volume family (AD, ADOSC, CMF, MFI, VWAP, session VWAP); OBV lives
in :mod:`engine.indicators.batch.core`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from engine.indicators import _validate as v
from engine.indicators._common import first_valid4
from engine.indicators._validate import F64
from engine.indicators.batch.core import arrays_2d
from engine.indicators.volume import _adosc, _cmf, _mfi, _vwap, ad_into

__all__ = ["ad_2d", "adosc_2d", "cmf_2d", "mfi_2d", "vwap_2d", "vwap_session_2d"]


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ad2(h, lo, c, vol):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        ad_into(h[r], lo[r], c[r], vol[r], first_valid4(h[r], lo[r], c[r], vol[r]), out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _adosc2(h, lo, c, vol, fast, slow):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _adosc(h[r], lo[r], c[r], vol[r], fast, slow, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _cmf2(h, lo, c, vol, p):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _cmf(h[r], lo[r], c[r], vol[r], p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _mfi2(h, lo, c, vol, p):
    out = np.empty(c.shape)
    for r in prange(c.shape[0]):
        _mfi(h[r], lo[r], c[r], vol[r], p, out[r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _vwap2(h, lo, c, vol, p, key):
    """``key``: (1, time) shared by every row, (symbols, time) one per row, or (1, 0)
    for no sessions (``p > 0`` or plain cumulative VWAP)."""
    out = np.empty(c.shape)
    shared = key.shape[0] <= 1
    for r in prange(c.shape[0]):
        kr = key[0] if shared else key[r]
        _vwap(h[r], lo[r], c[r], vol[r], p, kr, out[r])
    return out


def ad_2d(high: Any, low: Any, close: Any, volume: Any) -> F64:
    """Row-wise :func:`engine.indicators.ad` over (symbols, time)."""
    return _ad2(*arrays_2d(high=high, low=low, close=close, volume=volume))


def adosc_2d(
    high: Any, low: Any, close: Any, volume: Any, fastperiod: int = 3, slowperiod: int = 10
) -> F64:
    """Row-wise :func:`engine.indicators.adosc` over (symbols, time)."""
    h, lo, c, vol = arrays_2d(high=high, low=low, close=close, volume=volume)
    return _adosc2(h, lo, c, vol, v.period(fastperiod, "fastperiod"),
                   v.period(slowperiod, "slowperiod"))


def cmf_2d(high: Any, low: Any, close: Any, volume: Any, period: int = 20) -> F64:
    """Row-wise :func:`engine.indicators.cmf` over (symbols, time)."""
    h, lo, c, vol = arrays_2d(high=high, low=low, close=close, volume=volume)
    return _cmf2(h, lo, c, vol, v.period(period))


def mfi_2d(high: Any, low: Any, close: Any, volume: Any, period: int = 14) -> F64:
    """Row-wise :func:`engine.indicators.mfi` over (symbols, time)."""
    h, lo, c, vol = arrays_2d(high=high, low=low, close=close, volume=volume)
    return _mfi2(h, lo, c, vol, v.period(period))


def vwap_2d(
    high: Any, low: Any, close: Any, volume: Any, period: int | None = None
) -> F64:
    """Row-wise :func:`engine.indicators.vwap` over (symbols, time)."""
    h, lo, c, vol = arrays_2d(high=high, low=low, close=close, volume=volume)
    p = 0 if period is None else v.period(period)
    return _vwap2(h, lo, c, vol, p, np.empty((1, 0), dtype=np.int64))


def vwap_session_2d(
    high: Any, low: Any, close: Any, volume: Any, timestamps: Any,
    session_ms: int = 86_400_000, offset_ms: int = 0, stamp: str = "close",
) -> F64:
    """Row-wise :func:`engine.indicators.vwap_session` over (symbols, time).

    ``timestamps`` is one (time,) row shared by every symbol, which is what aligned
    candles have (column t is the same candle time for every symbol); a (symbols, time)
    array gives each row its own stamps instead (unaligned feeds). Either way row r equals
    ``vwap_session(high[r], ..., timestamps_of_row_r)``."""
    h, lo, c, vol = arrays_2d(high=high, low=low, close=close, volume=volume)
    try:
        ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"timestamps must be integer ms since the epoch: {exc}") from None
    if ts.ndim == 1:
        ok = ts.shape[0] == c.shape[1]
        ts = ts.reshape(1, -1)
    else:
        ok = ts.shape == c.shape
    if not ok:
        raise ValueError(
            f"timestamps has shape {ts.shape} but close has shape {c.shape}: timestamps "
            "must be one (time,) row shared by all symbols or one row per symbol"
        )
    length = v.period(session_ms, "session_ms")
    if stamp not in ("close", "open"):
        raise ValueError(f'stamp must be "close" or "open", got {stamp!r}')
    shift = int(offset_ms) + (1 if stamp == "close" else 0)
    key = (ts - shift) // length
    return _vwap2(h, lo, c, vol, 0, key)
