"""Oscillator family: Stochastic, TRIX, PPO, Ultimate Oscillator, ADX/DMI."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import (
    EXT_CHUNK,
    ema_into,
    extreme_chunk,
    fill_nan,
    first_valid1,
    first_valid3,
    fma,
    is_zero_scaled,
    sma_into,
)
from engine.indicators._validate import F64
from engine.indicators.trend import _multi_ema, wma_into
from engine.indicators.volatility import _hlc, true_range

__all__ = [
    "adx", "dmi", "dx", "minus_di", "plus_di", "ppo", "stoch", "stochf", "trix", "ultosc",
]


@njit(cache=True, nogil=True, error_model="numpy")
def stoch_into(high, low, close, start, fk, sk, sd, k_out, d_out):
    """TA-Lib STOCH (SMA smoothing) of ``[start:]``; with ``sk == 1`` it is STOCHF
    (``k_out`` = fast %K, ``d_out`` = fast %D).

    Chunk by chunk: highest high and lowest low of the chunk's windows (sparse-table
    maxima, :func:`extreme_chunk`), fast %K for the whole chunk in one vectorised loop,
    then the two SMAs in small ring buffers. TA-Lib's STOCH finds its extremes with a
    rescanning tracker whose result with NaN in a window depends on its scan order, so
    input with NaN is redone with that tracker."""
    if not _stoch_pass(high, low, close, start, fk, sk, sd, k_out, d_out, False):
        _stoch_pass(high, low, close, start, fk, sk, sd, k_out, d_out, True)


@njit(cache=True, nogil=True, error_model="numpy")
def _stoch_pass(high, low, close, start, fk, sk, sd, k_out, d_out, tracker):
    n = close.shape[0]
    out0 = start + fk - 1 + sk - 1 + sd - 1
    fill_nan(k_out, out0)
    fill_nan(d_out, out0)
    if out0 >= n:
        return True
    first = start + fk - 1
    first_s = first + sk - 1
    size = min(EXT_CHUNK, n - first)  # small inputs, small buffers: per-call overhead
    # one scratch allocation for every buffer (each allocation costs ~0.1 us per call)
    scratch = np.empty(5 * size + 2 * fk + sk + sd + 4)
    hb = scratch[:size]
    lb = scratch[size : 2 * size]
    kb = scratch[2 * size : 3 * size]
    a_buf = scratch[3 * size : 4 * size + fk]
    b_buf = scratch[4 * size + fk : 5 * size + 2 * fk]
    ring_k = scratch[5 * size + 2 * fk : 5 * size + 2 * fk + sk]
    ring_s = scratch[5 * size + 2 * fk + sk : 5 * size + 2 * fk + sk + sd]
    trk = scratch[5 * size + 2 * fk + sk + sd :]  # tracker: hi index, lo index, hi, lo
    ring_k[:] = 0.0
    ring_s[:] = 0.0
    trk[0] = -1.0
    trk[1] = -1.0
    trk[2] = 0.0
    trk[3] = 0.0
    ik = 0
    i_s = 0
    inv_k = 1.0 / sk
    inv_d = 1.0 / sd
    sum_k = 0.0
    sum_s = 0.0
    # short windows are re-summed each step so a flat %K gives exactly 0 or 100
    direct_k = sk <= 16
    direct_d = sd <= 16
    poison = 0.0
    poison_d = 0.0
    for c0 in range(first, n, EXT_CHUNK):
        c1 = min(c0 + EXT_CHUNK, n)
        k = c1 - c0
        cv = close[c0:c1]
        if tracker:
            _track_chunk(high, low, c0, c1, fk, trk, hb, lb)
        else:
            bad = extreme_chunk(high, c0, c1, fk, 1.0, a_buf, b_buf, hb[:k])
            bad |= extreme_chunk(low, c0, c1, fk, -1.0, a_buf, b_buf, lb[:k])
            for j in range(k):
                bad |= cv[j] != cv[j]
            if bad:
                return False
        for j in range(k):  # fast %K, vectorised
            hi = hb[j]
            lo = lb[j]
            diff = (hi - lo) / 100.0
            flat = is_zero_scaled(hi - lo, abs(hi) + abs(lo))  # TA-Lib 0.8's flat window
            kb[j] = (cv[j] - lo) / diff if not flat else 0.0
        for j in range(k):
            today = c0 + j
            kf = kb[j]
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
                    for q in range(sk):
                        sum_k += ring_k[q]
                else:
                    sum_k += kf - old
                # TA-Lib's running sum stays NaN once a NaN entered; the re-summed ring
                # would forget it, so a NaN (or inf) is remembered in ``poison``
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
                for q in range(sd):
                    sum_s += ring_s[q]
                poison_d += ks - ks
            else:
                sum_s += ks - old
            if today >= out0:
                k_out[today] = ks
                d_out[today] = sum_s * inv_d + poison_d
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _track_chunk(high, low, c0, c1, fk, trk, hb, lb):
    """TA-Lib's rescanning highest-high / lowest-low tracker over the windows ending at
    ``c0 .. c1 - 1``; its state (indices and values) carries over in ``trk``."""
    hi_idx = int(trk[0])
    lo_idx = int(trk[1])
    hi = trk[2]
    lo = trk[3]
    for today in range(c0, c1):
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
        hb[today - c0] = hi
        lb[today - c0] = lo
    trk[0] = hi_idx
    trk[1] = lo_idx
    trk[2] = hi
    trk[3] = lo


@njit(cache=True, nogil=True, error_model="numpy")
def _stoch(high, low, close, fk, sk, sd, out):
    stoch_into(high, low, close, first_valid3(high, low, close), fk, sk, sd, out[0], out[1])


def stoch(
    high: Any, low: Any, close: Any, fastk_period: int = 5, slowk_period: int = 3,
    slowd_period: int = 3,
) -> tuple[F64, F64]:
    """Slow stochastic ``(slowk, slowd)`` with SMA smoothing (TA-Lib ``STOCH`` with both
    matypes 0); first value at ``fastk + slowk + slowd - 3``."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty((2, c.shape[0]))
    _stoch(
        h, lo, c, v.period(fastk_period, "fastk_period"),
        v.period(slowk_period, "slowk_period"), v.period(slowd_period, "slowd_period"), out,
    )
    return out[0], out[1]


def stochf(
    high: Any, low: Any, close: Any, fastk_period: int = 5, fastd_period: int = 3
) -> tuple[F64, F64]:
    """Fast stochastic ``(fastk, fastd)`` (TA-Lib ``STOCHF`` with SMA)."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty((2, c.shape[0]))
    _stoch(
        h, lo, c, v.period(fastk_period, "fastk_period"), 1,
        v.period(fastd_period, "fastd_period"), out,
    )
    return out[0], out[1]


def trix(close: Any, period: int = 30) -> F64:
    """Rate of change of the triple-smoothed EMA, in percent (TA-Lib ``TRIX``); first
    value at ``3 * (period - 1) + 1``."""
    x = v.as_f64(close, "close")
    out = np.empty(x.shape[0])
    _multi_ema(x, v.period(period), 3, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _ma_into(x, start, period, matype, out):
    if matype == 0:
        sma_into(x, start, period, out)
    elif matype == 1:
        ema_into(x, start, period, out)
    else:
        wma_into(x, start, period, out)


@njit(cache=True, nogil=True, error_model="numpy")
def _ppo(x, fast, slow, matype, out):
    """TA-Lib PPO: ``(fast MA - slow MA) / slow MA * 100`` with each MA started on its
    own (unlike MACD), 0 where the slow MA is 0; the shorter period is the fast one.
    ``out`` has two rows, the second is scratch."""
    if slow < fast:
        fast, slow = slow, fast
    n = x.shape[0]
    sl = out[1]
    out = out[0]
    start = first_valid1(x)
    _ma_into(x, start, fast, matype, out)
    _ma_into(x, start, slow, matype, sl)
    first = start + slow - 1
    for i in range(first, n):
        s = sl[i]
        out[i] = ((out[i] - s) / s) * 100.0 if s != 0.0 else 0.0
    fill_nan(out, first)


MA_TYPES = {0: "SMA", 1: "EMA", 2: "WMA"}


def ppo(close: Any, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> F64:
    """Percentage price oscillator (TA-Lib ``PPO``; ``matype`` 0 SMA, 1 EMA (TA-Lib's
    default), 2 WMA); first value at ``max(fast, slow) - 1``."""
    if matype not in MA_TYPES:
        raise ValueError(f"matype must be one of {MA_TYPES} (TA-Lib numbering), got {matype!r}")
    x = v.as_f64(close, "close")
    out = np.empty((2, x.shape[0]))
    _ppo(
        x, v.period(fastperiod, "fastperiod"), v.period(slowperiod, "slowperiod"),
        int(matype), out,
    )
    return out[0]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _bp_tr(h, lo, c, pc):
    """Buying pressure ``close - min(low, previous close)`` and the true range (scalars:
    a helper taking arrays costs a refcount update per call)."""
    true_low = lo if lo < pc else pc
    return c - true_low, true_range(h, lo, pc)


@njit(cache=True, nogil=True, error_model="numpy")
def _ultosc(high, low, close, p1, p2, p3, out):
    """TA-Lib ULTOSC: buying-pressure / true-range ratios over three windows (sorted, the
    shortest weighted 4, then 2, then 1), running sums in TA-Lib's order; a window with no
    range contributes 0."""
    if p1 > p2:
        p1, p2 = p2, p1
    if p2 > p3:
        p2, p3 = p3, p2
    if p1 > p2:
        p1, p2 = p2, p1
    n = close.shape[0]
    start = first_valid3(high, low, close)
    first = start + p3
    fill_nan(out, first)
    if first >= n:
        return
    # each candle's buying pressure and true range once, in rings of the longest period
    ring_a = np.empty(p3)
    ring_b = np.empty(p3)
    for q in range(p3 - 1):
        i = first - p3 + 1 + q
        ring_a[q], ring_b[q] = _bp_tr(high[i], low[i], close[i], close[i - 1])
    a1 = 0.0
    b1 = 0.0
    a2 = 0.0
    b2 = 0.0
    a3 = 0.0
    b3 = 0.0
    for q in range(p3 - p1, p3 - 1):  # TA-Lib sums each window oldest first
        a1 += ring_a[q]
        b1 += ring_b[q]
    for q in range(p3 - p2, p3 - 1):
        a2 += ring_a[q]
        b2 += ring_b[q]
    for q in range(p3 - 1):
        a3 += ring_a[q]
        b3 += ring_b[q]
    pos = p3 - 1  # ring slot of the candle being added
    hs, ls, cs, pcs, os = high[first:], low[first:], close[first:], close[first - 1 :], \
        out[first:]
    for j in range(n - first):
        bp, tr = _bp_tr(hs[j], ls[j], cs[j], pcs[j])
        ring_a[pos] = bp
        ring_b[pos] = tr
        a1 += bp
        a2 += bp
        a3 += bp
        b1 += tr
        b2 += tr
        b3 += tr
        o = 0.0
        if b1 > 0.0:  # a NaN range sum (NaN high or low) contributes 0, as in TA-Lib
            o += 4.0 * (a1 / b1)
        if b2 > 0.0:
            o += 2.0 * (a2 / b2)
        if b3 > 0.0:
            o += a3 / b3
        r = pos - p1 + 1
        r = r + p3 if r < 0 else r
        a1 -= ring_a[r]
        b1 -= ring_b[r]
        r = pos - p2 + 1
        r = r + p3 if r < 0 else r
        a2 -= ring_a[r]
        b2 -= ring_b[r]
        r = pos - p3 + 1
        r = r + p3 if r < 0 else r
        a3 -= ring_a[r]
        b3 -= ring_b[r]
        pos = pos + 1 if pos + 1 < p3 else 0
        os[j] = 100.0 * (o / 7.0)


def ultosc(
    high: Any, low: Any, close: Any, timeperiod1: int = 7, timeperiod2: int = 14,
    timeperiod3: int = 28,
) -> F64:
    """Ultimate oscillator (TA-Lib ``ULTOSC``); first value at the longest period."""
    h, lo, c = _hlc(high, low, close)
    out = np.empty(c.shape[0])
    _ultosc(
        h, lo, c, v.period(timeperiod1, "timeperiod1"), v.period(timeperiod2, "timeperiod2"),
        v.period(timeperiod3, "timeperiod3"), out,
    )
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _dmi(high, low, close, period, mode, out):
    """Wilder's directional movement in one pass (TA-Lib PLUS_DI, MINUS_DI, DX, ADX).

    +DM / -DM: the larger of the high's rise and the low's fall, if positive; they and the
    true range are kept as Wilder sums ``s - s / n + x`` (seeded with the sum of the first
    ``n - 1``); DI = 100 * DM sum / TR sum; DX = 100 * |+DI - -DI| / (+DI + -DI); ADX =
    Wilder average of DX seeded with the mean of the first ``n`` DX. ``mode``: 0 ADX,
    1 +DI, 2 -DI, 3 DX, 4 rows (+DI, -DI, ADX)."""
    n = close.shape[0]
    rows = out.shape[0]
    start = first_valid3(high, low, close)
    p = period
    first_di = start + p
    first_adx = start + 2 * p - 1
    for r in range(rows):
        fill_nan(out[r], n)
    if first_di >= n:
        return
    inv = 1.0 / p
    keep = 1.0 - inv
    sp = 0.0
    sm = 0.0
    st = 0.0
    ph = high[start]
    pl = low[start]
    sum_dx = 0.0
    adx = 0.0
    last_dx = 0.0
    for today in range(start + 1, n):
        h = high[today]
        lo = low[today]
        up = h - ph
        dn = pl - lo
        ph = h
        pl = lo
        pdm = up if (up > 0.0 and up > dn) else 0.0
        mdm = dn if (dn > 0.0 and dn > up) else 0.0
        tr = true_range(h, lo, close[today - 1])
        if today < first_di:
            sp += pdm
            sm += mdm
            st += tr
            continue
        sp = fma(sp, keep, pdm)
        sm = fma(sm, keep, mdm)
        st = fma(st, keep, tr)
        # TA-Lib: DI is 0 unless the TR sum is positive (a NaN high or low makes it NaN for
        # good, so DI reads 0 from there); DX is defined only when +DI + -DI > 0, and DX
        # and ADX keep their last value while it is not
        defined = False
        pdi = 0.0
        mdi = 0.0
        dx = last_dx
        if st > 0.0:
            pdi = 100.0 * (sp / st)
            mdi = 100.0 * (sm / st)
            tot = pdi + mdi
            if tot > 0.0:
                dx = 100.0 * (abs(mdi - pdi) / tot)
                last_dx = dx
                defined = True
        if mode == 1:
            out[0, today] = pdi
        elif mode == 2:
            out[0, today] = mdi
        elif mode == 3:
            out[0, today] = dx
        elif mode == 4:
            out[0, today] = pdi
            out[1, today] = mdi
        if mode == 0 or mode == 4:
            if today < first_adx:
                if defined:
                    sum_dx += dx
                continue
            if today == first_adx:
                adx = (sum_dx + dx) / p if defined else sum_dx / p
            elif defined:
                adx = fma(adx, keep, dx * inv)
            out[rows - 1, today] = adx


def _dmi_call(high: Any, low: Any, close: Any, period: int, mode: int) -> Any:
    h, lo, c = _hlc(high, low, close)
    out = np.empty((3 if mode == 4 else 1, c.shape[0]))
    _dmi(h, lo, c, v.period(period), mode, out)
    return out


def adx(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Average directional index (TA-Lib ``ADX``), trend strength 0..100 regardless of
    direction; first value at ``2 * period - 1``."""
    return _dmi_call(high, low, close, period, 0)[0]


def plus_di(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """+DI (TA-Lib ``PLUS_DI``); first value at ``period``."""
    return _dmi_call(high, low, close, period, 1)[0]


def minus_di(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """-DI (TA-Lib ``MINUS_DI``); first value at ``period``."""
    return _dmi_call(high, low, close, period, 2)[0]


def dx(high: Any, low: Any, close: Any, period: int = 14) -> F64:
    """Directional movement index (TA-Lib ``DX``); first value at ``period``."""
    return _dmi_call(high, low, close, period, 3)[0]


def dmi(high: Any, low: Any, close: Any, period: int = 14) -> tuple[F64, F64, F64]:
    """``(plus_di, minus_di, adx)`` in one pass: the DMI system as traders read it."""
    pdi, mdi, a = _dmi_call(high, low, close, period, 4)
    return pdi, mdi, a
