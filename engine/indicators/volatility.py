"""Volatility family: Bollinger Bands, ATR/NATR, true range, standard deviation, Keltner
and Donchian channels.

Rolling variance is the one place we deliberately do *not* copy TA-Lib's arithmetic:
TA-Lib keeps a running sum of squares of raw prices, which at BTC prices (~1e5) drifts by
~1e-7 relative over a year of 5m candles. We slide a Welford (mean, M2) pair instead and
recompute it exactly every block of candles, so the error scales with the variance and
stays ~1e-13 while the hot loop stays short.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import (
    CHUNK,
    ema_into,
    fill_nan,
    first_valid1,
    first_valid2,
    first_valid3,
    fma,
    sliding_max_into,
    sliding_min_into,
)
from engine.indicators._validate import F64

__all__ = ["atr", "bbands", "donchian", "keltner", "natr", "stddev", "trange"]


# Rounding error of the sliding update is about 1e-16 x the sum of |update| since the last
# exact recompute; recomputing once that sum exceeds RECOMPUTE x M2 keeps the variance
# within ~1e-13 relative even when volatility collapses after a spike.
RECOMPUTE = 1000.0


@njit(cache=True, nogil=True, error_model="numpy")
def window_moments(x, i, period):
    """Two-pass mean and sum of squared deviations of ``x[i-period+1 : i+1]``."""
    total = 0.0
    for j in range(i - period + 1, i + 1):
        total += x[j]
    mean = total / period
    m2 = 0.0
    for j in range(i - period + 1, i + 1):
        d = x[j] - mean
        m2 += d * d
    return mean, m2


@njit(cache=True, nogil=True, error_model="numpy")
def moments_into(x, start, period, mode, up, dn, o1, o2, o3):
    """Rolling mean and deviation of ``x[start:]`` in one pass.

    A sliding Welford update whose error scales with the variance (TA-Lib's running sum
    of squares scales with price squared), with an exact recompute whenever the
    accumulated update magnitude makes the result doubtful. A NaN stays in the sums for
    good, as in TA-Lib. ``mode`` picks the outputs (loop-invariant, so it is hoisted):
    0 -> (mean, population variance) in o1, o2; 1 -> Bollinger (upper, middle, lower);
    2 -> ``up`` x standard deviation in o1; 3 -> population variance in o1."""
    n = x.shape[0]
    first = start + period - 1
    fill_nan(o1, first)
    if mode < 2:
        fill_nan(o2, first)
    if mode == 1:
        fill_nan(o3, first)
    if first >= n:
        return
    inv = 1.0 / period
    mean, m2 = window_moments(x, first, period)
    err = 0.0
    mb = np.empty(CHUNK)
    vb = np.empty(CHUNK)
    mb[0] = mean
    vb[0] = m2 * inv
    _moments_out(mode, up, dn, mb[:1], vb[:1], o1[first:], o2[first:], o3[first:])
    xa = x[first + 1 :]
    xb = x[first + 1 - period : n - period]
    m = xa.shape[0]
    # the sliding update of a chunk into two small buffers, then the square roots and
    # outputs of the chunk vectorised (CHUNK)
    for c0 in range(0, m, CHUNK):
        av = xa[c0 : c0 + CHUNK]
        bv = xb[c0 : c0 + CHUNK]
        k = av.shape[0]
        for j in range(k):
            a = av[j]
            b = bv[j]
            d = a - b
            nm = mean + d * inv
            t = d * ((a - nm) + (b - mean))
            m2 += t
            mean = nm
            err += abs(t)
            if err > RECOMPUTE * m2:
                mean, m2 = window_moments(x, first + 1 + c0 + j, period)
                err = 0.0
            mb[j] = mean
            vb[j] = m2 * inv
        lo = first + 1 + c0
        _moments_out(mode, up, dn, mb[:k], vb[:k], o1[lo:], o2[lo:], o3[lo:])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _moments_out(mode, up, dn, mb, vb, o1, o2, o3):
    """Write a chunk of (mean, variance) as the outputs ``mode`` asks for. TA-Lib: a
    variance <= 0 gives a deviation of 0 (and a variance of 0); NaN stays NaN."""
    k = mb.shape[0]
    if mode == 0:
        for j in range(k):
            var = vb[j]
            o1[j] = mb[j]
            o2[j] = var if var > 0.0 else (0.0 if var <= 0.0 else var)
    elif mode == 3:
        for j in range(k):
            var = vb[j]
            o1[j] = var if var > 0.0 else (0.0 if var <= 0.0 else var)
    elif mode == 1:
        for j in range(k):
            var = vb[j]
            sd = math.sqrt(var) if var > 0.0 else (0.0 if var <= 0.0 else var)
            mean = mb[j]
            o1[j] = mean + sd * up
            o2[j] = mean
            o3[j] = mean - sd * dn
    else:
        for j in range(k):
            var = vb[j]
            sd = math.sqrt(var) if var > 0.0 else (0.0 if var <= 0.0 else var)
            o1[j] = sd * up


@njit(cache=True, nogil=True, error_model="numpy")
def bbands_into(x, start, period, up, dn, upper, middle, lower):
    """Bollinger Bands on the SMA: mean and deviation in one pass (``moments_into``)."""
    moments_into(x, start, period, 1, up, dn, upper, middle, lower)


@njit(cache=True, nogil=True, error_model="numpy")
def stddev_into(x, start, period, nbdev, out):
    moments_into(x, start, period, 2, nbdev, nbdev, out, out, out)


@njit(cache=True, nogil=True, error_model="numpy")
def true_range(h, lo, pc):
    """TA-Lib's TRUE_RANGE macro (NaN in, NaN out)."""
    g = h - lo
    v2 = abs(pc - h)
    if v2 > g:
        g = v2
    v3 = abs(pc - lo)
    if v3 > g:
        g = v3
    return g


@njit(cache=True, nogil=True, error_model="numpy")
def atr_into(high, low, close, start, period, out, norm=False):
    """Wilder ATR: first value at ``start + period`` = mean of the first ``period`` true
    ranges (the first candle has no previous close, so no true range). With ``norm`` the
    output is NATR, ``ATR / close * 100`` in the same pass (0 where the close is 0, as in
    TA-Lib)."""
    n = close.shape[0]
    first = start + period
    fill_nan(out, first)
    if first >= n:
        return
    inv = 1.0 / period
    keep = (period - 1) * inv
    total = 0.0
    for i in range(start + 1, first + 1):
        total += true_range(high[i], low[i], close[i - 1])
    prev = total / period
    hs = high[first + 1 :]
    ls = low[first + 1 :]
    pcs = close[first : n - 1]
    os = out[first + 1 :]
    m = hs.shape[0]
    if not norm:
        out[first] = prev
        for j in range(m):
            prev = fma(prev, keep, true_range(hs[j], ls[j], pcs[j]) * inv)
            os[j] = prev
        return
    out[first] = _natr_of(prev, close[first])
    cs = close[first + 1 :]
    buf = np.empty(CHUNK)  # ATR of a chunk, then its divisions vectorised (CHUNK)
    for c0 in range(0, m, CHUNK):
        hv = hs[c0 : c0 + CHUNK]
        lv = ls[c0 : c0 + CHUNK]
        pv = pcs[c0 : c0 + CHUNK]
        k = hv.shape[0]
        for j in range(k):
            prev = fma(prev, keep, true_range(hv[j], lv[j], pv[j]) * inv)
            buf[j] = prev
        cv = cs[c0 : c0 + k]
        ov = os[c0 : c0 + k]
        for j in range(k):
            ov[j] = _natr_of(buf[j], cv[j])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _natr_of(atr, c):
    return (atr / c) * 100.0 if c != 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _atr(high, low, close, period, norm, out):
    atr_into(high, low, close, first_valid3(high, low, close), period, out, norm)


@njit(cache=True, nogil=True, error_model="numpy")
def _trange(high, low, close, out):
    n = close.shape[0]
    start = first_valid3(high, low, close)
    fill_nan(out, start + 1)
    if start + 1 >= n:
        return
    hs = high[start + 1 :]
    ls = low[start + 1 :]
    pcs = close[start : n - 1]
    os = out[start + 1 :]
    for j in range(hs.shape[0]):
        os[j] = true_range(hs[j], ls[j], pcs[j])


@njit(cache=True, nogil=True, error_model="numpy")
def _bbands(x, period, up, dn, out):
    bbands_into(x, first_valid1(x), period, up, dn, out[0], out[1], out[2])


@njit(cache=True, nogil=True, error_model="numpy")
def _stddev(x, period, nbdev, out):
    stddev_into(x, first_valid1(x), period, nbdev, out)


@njit(cache=True, nogil=True, error_model="numpy")
def _donchian(high, low, period, out):
    n = high.shape[0]
    upper = out[0]
    middle = out[1]
    lower = out[2]
    start = first_valid2(high, low)
    sliding_max_into(high, start, period, upper)
    sliding_min_into(low, start, period, lower)
    for i in range(n):
        middle[i] = (upper[i] + lower[i]) * 0.5


@njit(cache=True, nogil=True, error_model="numpy")
def _keltner(high, low, close, period, atr_period, mult, out):
    upper = out[0]
    middle = out[1]
    lower = out[2]
    start = first_valid3(high, low, close)
    ema_into(close, start, period, middle)
    atr_into(high, low, close, start, atr_period, lower)
    for i in range(close.shape[0]):
        band = lower[i] * mult
        m = middle[i]
        upper[i] = m + band
        lower[i] = m - band


def atr(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Average True Range (Wilder); first value at index ``period`` (TA-Lib ``ATR``)."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty(c.shape[0])
    _atr(h, lo, c, v.period(period), False, out)
    return out


def natr(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """ATR as a percentage of close, comparable across price levels (TA-Lib ``NATR``)."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty(c.shape[0])
    _atr(h, lo, c, v.period(period), True, out)
    return out


def trange(high: Any, low: Any, close: Any) -> F64:
    """True range; first value at index 1 (TA-Lib ``TRANGE``)."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty(c.shape[0])
    _trange(h, lo, c, out)
    return out


def bbands(
    close: Any, period: int = 5, nbdevup: float = 2.0, nbdevdn: float = 2.0
) -> tuple[F64, F64, F64]:
    """Bollinger Bands ``(upper, middle, lower)`` around the SMA with population standard
    deviation (TA-Lib ``BBANDS`` with ``matype=0``)."""
    x = v.as_f64(close, "close")
    out = np.empty((3, x.shape[0]))
    _bbands(x, v.period(period), v.number(nbdevup, "nbdevup"), v.number(nbdevdn, "nbdevdn"),
            out)
    return out[0], out[1], out[2]


def stddev(close: Any, period: int = 5, nbdev: float = 1.0) -> F64:
    """Rolling population standard deviation times ``nbdev`` (TA-Lib ``STDDEV``), computed
    without TA-Lib's running-sum-of-squares drift."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _stddev(x, v.period(period), v.number(nbdev, "nbdev"), out)
    return out


def donchian(high: Any, low: Any, period: int = 20) -> tuple[F64, F64, F64]:
    """Donchian channel ``(upper, middle, lower)``: highest high, midpoint, lowest low of
    the last ``period`` candles (upper/lower equal TA-Lib ``MAX(high)``/``MIN(low)``)."""
    h = v.as_f64(high, "high")
    lo = v.as_f64(low, "low")
    if h.shape != lo.shape:
        v.same_length(("high", h), ("low", lo))
    out = np.empty((3, h.shape[0]))
    _donchian(h, lo, v.period(period), out)
    return out[0], out[1], out[2]


def keltner(
    high: Any, low: Any, close: Any, period: int = 20, atr_period: int = 10,
    multiplier: float = 2.0,
) -> tuple[F64, F64, F64]:
    """Keltner channel ``(upper, middle, lower)``: EMA(close) +/- ``multiplier`` x ATR.
    NaN until both the EMA and the ATR have warmed up."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty((3, c.shape[0]))
    _keltner(
        h, lo, c, v.period(period), v.period(atr_period, "atr_period"),
        v.number(multiplier, "multiplier"), out,
    )
    return out[0], out[1], out[2]


def _hlc(high: Any, low: Any, close: Any) -> tuple[F64, F64, F64]:
    h = v.as_f64(high, "high")
    lo = v.as_f64(low, "low")
    c = v.as_f64(close, "close")
    if h.shape != c.shape or lo.shape != c.shape:
        v.same_length(("high", h), ("low", lo), ("close", c))
    return h, lo, c


