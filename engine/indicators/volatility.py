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
# outputs between exact restarts of the sliding moments (16 periods for long periods)
MOMENT_BLOCK = 1 << 13


def moments_block(period: int) -> int:
    """Outputs between two exact restarts of the sliding moments (see ``moments_into``)."""
    return max(MOMENT_BLOCK, 16 * period)


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
    """Rolling mean and deviation of ``x[start:]``.

    A sliding Welford update whose error scales with the variance (TA-Lib's running sum
    of squares scales with price squared), with an exact recompute whenever the
    accumulated update magnitude makes the result doubtful, and at the start of every
    block of ``moments_block(period)`` outputs; four blocks run side by side (four
    independent dependency chains). ``StdDevStream``/``BBandsStream`` restart at the same
    outputs, so they reproduce these values exactly. A NaN stays in the sums for good, as
    in TA-Lib's BBANDS. ``mode`` picks the outputs (loop-invariant, hoisted):
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
    blk = max(MOMENT_BLOCK, 16 * period)
    nblocks = (n - first + blk - 1) // blk
    mb = np.empty((4, min(CHUNK, n - first)))
    vb = np.empty((4, min(CHUNK, n - first)))
    b = 0
    while b + 4 <= nblocks and first + (b + 4) * blk <= n:  # four full blocks in lockstep
        s0 = first + b * blk
        s1 = s0 + blk
        s2 = s1 + blk
        s3 = s2 + blk
        mean0, m20 = window_moments(x, s0, period)
        mean1, m21 = window_moments(x, s1, period)
        mean2, m22 = window_moments(x, s2, period)
        mean3, m23 = window_moments(x, s3, period)
        e0 = 0.0
        e1 = 0.0
        e2 = 0.0
        e3 = 0.0
        # 0-based views; the value leaving the window at step j is xo[j - 1]
        xa0, xo0 = x[s0 : s0 + blk], x[s0 - period + 1 : s0 + blk - period + 1]
        xa1, xo1 = x[s1 : s1 + blk], x[s1 - period + 1 : s1 + blk - period + 1]
        xa2, xo2 = x[s2 : s2 + blk], x[s2 - period + 1 : s2 + blk - period + 1]
        xa3, xo3 = x[s3 : s3 + blk], x[s3 - period + 1 : s3 + blk - period + 1]
        for c0 in range(0, blk, CHUNK):
            k = min(CHUNK, blk - c0)
            for jj in range(k):
                j = c0 + jj
                if j > 0:
                    mean0, m20, e0 = _welford(xa0[j], xo0[j - 1], inv, mean0, m20, e0)
                    mean1, m21, e1 = _welford(xa1[j], xo1[j - 1], inv, mean1, m21, e1)
                    mean2, m22, e2 = _welford(xa2[j], xo2[j - 1], inv, mean2, m22, e2)
                    mean3, m23, e3 = _welford(xa3[j], xo3[j - 1], inv, mean3, m23, e3)
                    if e0 > RECOMPUTE * m20:
                        mean0, m20 = window_moments(x, s0 + j, period)
                        e0 = 0.0
                    if e1 > RECOMPUTE * m21:
                        mean1, m21 = window_moments(x, s1 + j, period)
                        e1 = 0.0
                    if e2 > RECOMPUTE * m22:
                        mean2, m22 = window_moments(x, s2 + j, period)
                        e2 = 0.0
                    if e3 > RECOMPUTE * m23:
                        mean3, m23 = window_moments(x, s3 + j, period)
                        e3 = 0.0
                if mode == 3:  # variance only: straight to the output, no buffer pass
                    o1[s0 + j] = _clamp0(m20 * inv)
                    o1[s1 + j] = _clamp0(m21 * inv)
                    o1[s2 + j] = _clamp0(m22 * inv)
                    o1[s3 + j] = _clamp0(m23 * inv)
                    continue
                mb[0, jj] = mean0
                vb[0, jj] = m20 * inv
                mb[1, jj] = mean1
                vb[1, jj] = m21 * inv
                mb[2, jj] = mean2
                vb[2, jj] = m22 * inv
                mb[3, jj] = mean3
                vb[3, jj] = m23 * inv
            if mode != 3:
                for lane in range(4):
                    q = s0 + lane * blk + c0
                    _moments_out(mode, up, dn, mb[lane, :k], vb[lane, :k], o1[q:], o2[q:],
                                 o3[q:])
        b += 4
    while b < nblocks:  # the rest, one block at a time
        s0 = first + b * blk
        e = min(s0 + blk, n)
        mean0, m20 = window_moments(x, s0, period)
        e0 = 0.0
        xa0, xo0 = x[s0:e], x[s0 - period + 1 : e - period + 1]
        for c0 in range(0, e - s0, CHUNK):
            k = min(CHUNK, e - s0 - c0)
            for jj in range(k):
                j = c0 + jj
                if j > 0:
                    mean0, m20, e0 = _welford(xa0[j], xo0[j - 1], inv, mean0, m20, e0)
                    if e0 > RECOMPUTE * m20:
                        mean0, m20 = window_moments(x, s0 + j, period)
                        e0 = 0.0
                mb[0, jj] = mean0
                vb[0, jj] = m20 * inv
            q = s0 + c0
            _moments_out(mode, up, dn, mb[0, :k], vb[0, :k], o1[q:], o2[q:], o3[q:])
        b += 1
    # TA-Lib's BBANDS never recovers from a NaN: once a block ends on NaN, so does the rest
    for e in range(first + blk - 1, n - 1, blk):
        if o1[e] != o1[e]:
            for i in range(e + 1, n):
                o1[i] = np.nan
                if mode < 2:
                    o2[i] = np.nan
                if mode == 1:
                    o3[i] = np.nan
            break


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _clamp0(var):
    """TA-Lib: a variance <= 0 is 0; NaN stays NaN."""
    return var if var > 0.0 else (0.0 if var <= 0.0 else var)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _welford(a, b, inv, mean, m2, err):
    """One sliding step (``a`` in, ``b`` out): new mean, M2 and accumulated update
    magnitude (scalars only: a helper taking arrays costs a refcount update per call)."""
    d = a - b
    nm = mean + d * inv
    t = d * ((a - nm) + (b - mean))
    return nm, m2 + t, err + abs(t)


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
    # the division sits beside the 4-cycle FMA chain, off the critical path
    for j in range(m):
        prev = fma(prev, keep, true_range(hs[j], ls[j], pcs[j]) * inv)
        os[j] = _natr_of(prev, cs[j])


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
    n = c.shape[0]
    if h.shape[0] != n or lo.shape[0] != n:  # all 1-D already: lengths decide
        v.same_length(("high", h), ("low", lo), ("close", c))
    return h, lo, c


