"""Volume family: OBV, MFI, VWAP (rolling and session), AD, ADOSC, CMF."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import fill_nan, first_valid2
from engine.indicators._validate import F64

__all__ = ["obv"]


@njit(cache=True, nogil=True)
def obv_into(close, volume, start, out):
    """TA-Lib OBV: starts at the first candle's volume, adds or subtracts each volume by
    the sign of the close change (unchanged close: unchanged OBV)."""
    n = close.shape[0]
    fill_nan(out, start)
    if n == 0:
        return
    acc = volume[start]
    prev = close[start]
    for i in range(start, n):
        c = close[i]
        # branch-free: a random-walk close mispredicts an if/elif half the time
        acc += volume[i] * (np.float64(c > prev) - np.float64(c < prev))
        out[i] = acc
        prev = c


@njit(cache=True, nogil=True)
def _obv(close, volume):
    out = np.empty(close.shape[0])
    obv_into(close, volume, first_valid2(close, volume), out)
    return out


def obv(close: Any, volume: Any) -> F64:
    """On-Balance Volume (TA-Lib ``OBV``)."""
    c = v.as_f64(close, "close")
    vol = v.as_f64(volume, "volume")
    if c.shape != vol.shape:
        v.same_length(("close", c), ("volume", vol))
    return _obv(c, vol)
