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
    the sign of the close change. An unchanged (or NaN) close leaves OBV unchanged without
    reading the volume, so a NaN volume there does not poison the total (as in TA-Lib)."""
    n = close.shape[0]
    fill_nan(out, start)
    if n == 0:
        return
    acc = volume[start]
    prev = close[start]
    cs = close[start:]
    vs = volume[start:]
    os = out[start:]
    for j in range(cs.shape[0]):
        c = cs[j]
        # branch-free: a random-walk close mispredicts an if/elif half the time
        sign = np.float64(c > prev) - np.float64(c < prev)
        step = vs[j] * sign
        acc += step if sign != 0.0 else 0.0
        os[j] = acc
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
