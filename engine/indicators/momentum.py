"""Momentum family: RSI and friends (Wilder smoothing, TA-Lib seeding)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import (
    CHUNK,
    EXT_CHUNK,
    extreme_chunk,
    fill_nan,
    first_valid1,
    first_valid3,
    fma,
    is_zero_scaled,
    sliding_max_into,
    sliding_min_into,
)
from engine.indicators._validate import F64
from engine.indicators.oscillators import stoch_into
from engine.indicators.volatility import _hlc

__all__ = ["cci", "cmo", "macd", "mom", "roc", "rsi", "stochrsi", "willr"]


@njit(cache=True, nogil=True, error_model="numpy")
def rsi_into(x, start, period, out, cmo=False):
    """Wilder RSI of ``x[start:]``, seeded with simple averages of the first ``period``
    changes, first value at ``start + period``; TA-Lib (0.6+) reports 0 when gain + loss is
    zero or NaN (a flat market), and so do we. With ``cmo`` the output is Chande's momentum
    oscillator ``100 * (gain - loss) / (gain + loss)`` on the same smoothed sums (TA-Lib's
    CMO, which also reports 0 for a zero or NaN sum)."""
    n = x.shape[0]
    first = start + period
    fill_nan(out, first)
    if first >= n:
        return
    inv = 1.0 / period
    keep = (period - 1) * inv
    gain = 0.0
    loss = 0.0
    prev = x[start]
    for i in range(start + 1, first + 1):
        cur = x[i]
        d = cur - prev
        prev = cur
        if d < 0.0:
            loss -= d
        else:
            gain += d
    gain = gain / period
    loss = loss / period
    s = gain + loss
    if cmo:
        out[first] = 100.0 * ((gain - loss) / s) if s > 0.0 else 0.0
    else:
        out[first] = 100.0 * (gain / s) if s > 0.0 else 0.0
    # smoothing of a chunk into two small buffers, then its divisions vectorised (CHUNK)
    gb = np.empty(min(CHUNK, n - first))
    sb = np.empty(min(CHUNK, n - first))
    xs = x[first + 1 :]
    os = out[first + 1 :]
    m = xs.shape[0]
    for c0 in range(0, m, CHUNK):
        xc = xs[c0 : c0 + CHUNK]
        k = xc.shape[0]
        for j in range(k):
            cur = xc[j]
            d = cur - prev
            prev = cur
            up = 0.0 if d < 0.0 else d  # a NaN change lands in gain, as in TA-Lib
            dn = -d if d < 0.0 else 0.0
            gain = fma(gain, keep, up * inv)
            loss = fma(loss, keep, dn * inv)
            gb[j] = gain - loss if cmo else gain
            sb[j] = gain + loss
        oc = os[c0 : c0 + k]
        for j in range(k):
            s = sb[j]
            oc[j] = 100.0 * (gb[j] / s) if s > 0.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _rsi(x, period, cmo, out):
    rsi_into(x, first_valid1(x), period, out, cmo)


def rsi(close: Any, period: int = 14) -> F64:
    """Relative Strength Index (Wilder); first value at index ``period`` (TA-Lib ``RSI``)."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _rsi(x, v.period(period), False, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def macd_into(x, start, fast, slow, signal, macd_out, signal_out, hist_out):
    """TA-Lib MACD: both EMAs start at ``slow - 1`` (the fast one seeded with the SMA of
    the ``fast`` values ending there), the signal EMA is seeded with the SMA of the first
    ``signal`` MACD values; all three outputs start at ``slow + signal - 2``."""
    if slow < fast:
        fast, slow = slow, fast
    n = x.shape[0]
    first = start + slow - 1
    out0 = first + signal - 1
    fill_nan(macd_out, out0)
    fill_nan(signal_out, out0)
    fill_nan(hist_out, out0)
    if out0 >= n:
        return
    kf = 2.0 / (fast + 1)
    kf1 = 1.0 - kf
    ks = 2.0 / (slow + 1)
    ks1 = 1.0 - ks
    kg = 2.0 / (signal + 1)
    kg1 = 1.0 - kg
    tf = 0.0
    for i in range(first - fast + 1, first + 1):
        tf += x[i]
    ts = 0.0
    for i in range(start, first + 1):
        ts += x[i]
    ef = tf / fast
    es = ts / slow
    tg = ef - es
    for i in range(first + 1, out0 + 1):
        xi = x[i]
        ef = fma(ef, kf1, xi * kf)
        es = fma(es, ks1, xi * ks)
        tg += ef - es
    sig = tg / signal
    m = ef - es
    macd_out[out0] = m
    signal_out[out0] = sig
    hist_out[out0] = m - sig
    xs = x[out0 + 1 :]
    mo = macd_out[out0 + 1 :]
    so = signal_out[out0 + 1 :]
    ho = hist_out[out0 + 1 :]
    for j in range(xs.shape[0]):
        xi = xs[j]
        ef = fma(ef, kf1, xi * kf)
        es = fma(es, ks1, xi * ks)
        m = ef - es
        sig = fma(sig, kg1, m * kg)
        mo[j] = m
        so[j] = sig
        ho[j] = m - sig


@njit(cache=True, nogil=True, error_model="numpy")
def _macd(x, fast, slow, signal, out):
    macd_into(x, first_valid1(x), fast, slow, signal, out[0], out[1], out[2])


def macd(
    close: Any, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9
) -> tuple[F64, F64, F64]:
    """MACD ``(macd, signal, hist)`` with TA-Lib's seeding; for (12, 26, 9) the first
    value is at index 33 (TA-Lib ``MACD``)."""
    x = v.as_f64(close, "close")
    out = np.empty((3, x.shape[0]))
    _macd(
        x, v.period(fastperiod, "fastperiod"), v.period(slowperiod, "slowperiod"),
        v.period(signalperiod, "signalperiod"), out,
    )
    return out[0], out[1], out[2]


@njit(cache=True, nogil=True, error_model="numpy")
def _mom_roc(x, period, roc, out):
    n = x.shape[0]
    start = first_valid1(x)
    first = start + period
    fill_nan(out, first)
    if first >= n:
        return
    xs = x[first:]
    ps = x[start : n - period]
    os = out[first:]
    if roc:
        for j in range(xs.shape[0]):
            prev = ps[j]
            os[j] = ((xs[j] / prev) - 1.0) * 100.0 if prev != 0.0 else 0.0
    else:
        for j in range(xs.shape[0]):
            os[j] = xs[j] - ps[j]


def mom(close: Any, period: int = 10) -> F64:
    """Momentum ``close - close[period ago]`` (TA-Lib ``MOM``)."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _mom_roc(x, v.period(period), False, out)
    return out


def roc(close: Any, period: int = 10) -> F64:
    """Rate of change in percent; 0 where the old close is 0 (TA-Lib ``ROC``)."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _mom_roc(x, v.period(period), True, out)
    return out


def cmo(close: Any, period: int = 14) -> F64:
    """Chande momentum oscillator in [-100, 100] on Wilder-smoothed gains and losses
    (TA-Lib ``CMO``); first value at index ``period``."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _rsi(x, v.period(period), True, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _stochrsi(x, period, fk, fd, out):
    """Rows 0, 1: fast %K, %D of the RSI, which is written to row 2 (scratch)."""
    n = x.shape[0]
    r = out[2]
    start = first_valid1(x)
    rsi_into(x, start, period, r)
    stoch_into(r, r, r, min(start + period, n), fk, 1, fd, out[0], out[1])


def stochrsi(
    close: Any, period: int = 14, fastk_period: int = 5, fastd_period: int = 3
) -> tuple[F64, F64]:
    """Stochastic RSI ``(fastk, fastd)``: the fast stochastic of the RSI (TA-Lib
    ``STOCHRSI`` with SMA for %D)."""
    x = v.as_f64(close, "close")
    out = np.empty((3, x.shape[0]))
    _stochrsi(
        x, v.period(period), v.period(fastk_period, "fastk_period"),
        v.period(fastd_period, "fastd_period"), out,
    )
    return out[0], out[1]


@njit(cache=True, nogil=True, error_model="numpy")
def _cci(high, low, close, period, out):
    """TA-Lib CCI: typical price ``(h + l + c) / 3``, its mean and mean absolute deviation
    over the window (both recomputed from the window each step, as TA-Lib does: a running
    mean would need the deviations again anyway), ``(tp - mean) / (0.015 * meandev)``;
    0 when either is within 1e-14 of the mean's magnitude (TA-Lib 0.8's scaled zero).
    The typical prices of the window sit in a small ring buffer."""
    n = close.shape[0]
    start = first_valid3(high, low, close)
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    ring = np.empty(period)
    for j in range(period - 1):
        i = start + j
        ring[j] = (high[i] + low[i] + close[i]) / 3.0
    inv = 1.0 / period
    slot = period - 1
    for i in range(first, n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        ring[slot] = tp
        slot += 1
        if slot == period:
            slot = 0
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        j = 0
        while j + 4 <= period:  # four accumulators: no single long add chain
            a0 += ring[j]
            a1 += ring[j + 1]
            a2 += ring[j + 2]
            a3 += ring[j + 3]
            j += 4
        while j < period:
            a0 += ring[j]
            j += 1
        mean = ((a0 + a1) + (a2 + a3)) / period
        d0 = 0.0
        d1 = 0.0
        d2 = 0.0
        d3 = 0.0
        j = 0
        while j + 4 <= period:
            d0 += abs(ring[j] - mean)
            d1 += abs(ring[j + 1] - mean)
            d2 += abs(ring[j + 2] - mean)
            d3 += abs(ring[j + 3] - mean)
            j += 4
        while j < period:
            d0 += abs(ring[j] - mean)
            j += 1
        dev = ((d0 + d1) + (d2 + d3)) * inv
        diff = tp - mean
        scale = abs(mean)
        flat = is_zero_scaled(diff, scale) or is_zero_scaled(dev, scale)  # TA-Lib 0.8
        out[i] = diff / (0.015 * dev) if not flat else 0.0


def cci(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Commodity channel index (TA-Lib ``CCI``); first value at ``period - 1``."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty(c.shape[0])
    _cci(h, lo, c, v.period(period), out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _willr(high, low, close, period, out):
    """Williams %R in [-100, 0]: ``(highest - close) / (highest - lowest) * -100`` over the
    window (0 when the window is flat to 1e-14), computed as TA-Lib does (divide by
    ``range / -100``). Chunk by chunk (sparse-table extremes, then one vectorised loop);
    input with NaN takes the whole-array path, whose extremes follow TA-Lib's NaN rule.
    ``out`` has two rows, the second is scratch."""
    n = close.shape[0]
    res = out[0]
    start = first_valid3(high, low, close)
    first = start + period - 1
    fill_nan(res, first)
    if first >= n:
        return
    size = min(EXT_CHUNK, n - first)  # small inputs, small buffers: per-call overhead
    hb = np.empty(size)
    lb = np.empty(size)
    a_buf = np.empty(size + period)
    b_buf = np.empty(size + period)
    for c0 in range(first, n, EXT_CHUNK):
        c1 = min(c0 + EXT_CHUNK, n)
        k = c1 - c0
        bad = extreme_chunk(high, c0, c1, period, 1.0, a_buf, b_buf, hb[:k])
        bad |= extreme_chunk(low, c0, c1, period, -1.0, a_buf, b_buf, lb[:k])
        if bad:
            sliding_max_into(high, start, period, res)
            sliding_min_into(low, start, period, out[1])
            _willr_from(res, out[1], close, first, n, res)
            return
        _willr_from(hb[:k], lb[:k], close[c0:c1], 0, k, res[c0:c1])


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _willr_from(hh_, ll_, close, a, b, res):
    for i in range(a, b):
        hh = hh_[i]
        ll = ll_[i]
        diff = (hh - ll) / (-100.0)
        flat = is_zero_scaled(hh - ll, abs(hh) + abs(ll))  # TA-Lib 0.8's flat window
        res[i] = (hh - close[i]) / diff if not flat else 0.0


def willr(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Williams %R (TA-Lib ``WILLR``); first value at ``period - 1``."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty((2, c.shape[0]))
    _willr(h, lo, c, v.period(period), out)
    return out[0]
