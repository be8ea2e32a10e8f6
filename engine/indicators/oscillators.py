"""Oscillator family: Stochastic, TRIX, PPO, Ultimate Oscillator, ADX/DMI."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import fill_nan, first_valid3, is_zero_scaled
from engine.indicators._validate import F64
from engine.indicators.volatility import _hlc

__all__ = ["stoch", "stochf"]


@njit(cache=True, nogil=True)
def stoch_into(high, low, close, start, fk, sk, sd, k_out, d_out):
    """Fused TA-Lib STOCH (SMA smoothing): raw %K with TA-Lib's rescanning high/low
    tracker, then the two SMAs kept in small ring buffers, one pass over the input.
    With ``sk == 1`` this is STOCHF (``k_out`` = fast %K, ``d_out`` = fast %D)."""
    n = close.shape[0]
    out0 = start + fk - 1 + sk - 1 + sd - 1
    fill_nan(k_out, out0)
    fill_nan(d_out, out0)
    if out0 >= n:
        return
    ring_k = np.zeros(sk)
    ring_s = np.zeros(sd)
    ik = 0
    i_s = 0
    inv_k = 1.0 / sk
    inv_d = 1.0 / sd
    sum_k = 0.0
    sum_s = 0.0
    hi_idx = -1
    lo_idx = -1
    hi = 0.0
    lo = 0.0
    first = start + fk - 1
    first_s = first + sk - 1
    # short windows are re-summed each step so a flat %K gives exactly 0 or 100
    direct_k = sk <= 16
    direct_d = sd <= 16
    poison = 0.0
    poison_d = 0.0
    for today in range(first, n):
        trailing = today - fk + 1
        t = low[today]
        if lo_idx < trailing:
            lo_idx = trailing
            lo = low[lo_idx]
            for j in range(lo_idx + 1, today + 1):
                t = low[j]
                if t < lo:
                    lo_idx = j
                    lo = t
        elif t <= lo:
            lo_idx = today
            lo = t
        t = high[today]
        if hi_idx < trailing:
            hi_idx = trailing
            hi = high[hi_idx]
            for j in range(hi_idx + 1, today + 1):
                t = high[j]
                if t > hi:
                    hi_idx = j
                    hi = t
        elif t >= hi:
            hi_idx = today
            hi = t
        diff = (hi - lo) / 100.0
        flat = is_zero_scaled(hi - lo, abs(hi) + abs(lo))  # TA-Lib 0.8's flat window
        kf = (close[today] - lo) / diff if not flat else 0.0
        if sk == 1:
            ks = kf
        else:
            old = ring_k[ik]
            ring_k[ik] = kf
            ik += 1
            if ik == sk:
                ik = 0
            if direct_k:
                sum_k = 0.0
                for j in range(sk):
                    sum_k += ring_k[j]
            else:
                sum_k += kf - old
            # TA-Lib's running sum stays NaN once a NaN entered; the re-summed ring would
            # forget it, so a NaN (or inf) is remembered in ``poison``
            poison += kf - kf
            if today < first_s:
                continue
            ks = sum_k * inv_k + poison
        old = ring_s[i_s]
        ring_s[i_s] = ks
        i_s += 1
        if i_s == sd:
            i_s = 0
        if direct_d:
            sum_s = 0.0
            for j in range(sd):
                sum_s += ring_s[j]
            poison_d += ks - ks
        else:
            sum_s += ks - old
        if today >= out0:
            k_out[today] = ks
            d_out[today] = sum_s * inv_d + poison_d


@njit(cache=True, nogil=True)
def _stoch(high, low, close, fk, sk, sd):
    out = np.empty((2, close.shape[0]))
    stoch_into(high, low, close, first_valid3(high, low, close), fk, sk, sd, out[0], out[1])
    return out


def stoch(
    high: Any, low: Any, close: Any, fastk_period: int = 5, slowk_period: int = 3,
    slowd_period: int = 3,
) -> tuple[F64, F64]:
    """Slow stochastic ``(slowk, slowd)`` with SMA smoothing (TA-Lib ``STOCH`` with both
    matypes 0); first value at ``fastk + slowk + slowd - 3``."""
    h, lo, c = _hlc(high, low, close)
    k, d = _stoch(
        h, lo, c, v.period(fastk_period, "fastk_period"),
        v.period(slowk_period, "slowk_period"), v.period(slowd_period, "slowd_period"),
    )
    return k, d


def stochf(
    high: Any, low: Any, close: Any, fastk_period: int = 5, fastd_period: int = 3
) -> tuple[F64, F64]:
    """Fast stochastic ``(fastk, fastd)`` (TA-Lib ``STOCHF`` with SMA)."""
    h, lo, c = _hlc(high, low, close)
    k, d = _stoch(
        h, lo, c, v.period(fastk_period, "fastk_period"), 1,
        v.period(fastd_period, "fastd_period"),
    )
    return k, d
