"""Small kernels shared by the indicator families.

TA-Lib's Python wrapper skips leading NaNs: it finds the first index where every input is
a number, runs the C function from there and pads the front with NaN. The ``first_valid``
helpers reproduce that (returning ``n`` when no candle is complete, so an all-NaN input
gives an all-NaN output) so NaN input behaves exactly as it does in TA-Lib; a NaN after
the start is fed to the arithmetic like any other value, as TA-Lib does.

Speed notes, shared by every family:

* Recurrences (EMA, Wilder smoothing) are written ``fma(prev, keep, x * k)``: only one
  fused multiply-add sits on the loop-carried dependency chain (4 cycles instead of 8 for
  a multiply then an add). The FMA is explicit (:func:`fma`), never left to the optimiser
  (``fastmath``), so the result is the same on every run and the streaming classes can
  repeat it bit for bit (:func:`engine.indicators._fma.fma`).
* Running sums (SMA) restart from an exact sum at fixed block boundaries, and four blocks
  are advanced side by side: four independent dependency chains instead of one.
* Several outputs of one indicator are rows of one ``(k, n)`` block: one allocation
  instead of ``k``. With separate 8 MB arrays glibc returns the freed memory to the OS
  after every call and the next call pays the page faults again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from engine.indicators import _cache  # noqa: F401  (stamps caches before any @njit below)

NAN = np.nan

# SMA running sums restart from an exact sum every SMA_BLOCK outputs (or 16 periods for
# long periods, so the restart stays a small fraction of the work).
SMA_BLOCK = 1 << 14

# Kernels with a division per output run their recurrence over CHUNK steps into a small
# buffer, then divide the chunk in one vectorised loop (a scalar division per step costs
# more than the recurrence itself). 512 values keep the buffers in L1.
CHUNK = 512
EXT_CHUNK = 2048  # sliding max/min: longer chunks amortise the per-chunk lookback


def _fma_typer(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * 3)
        fn = builder.module.declare_intrinsic("llvm.fma", [ir.DoubleType()], fnty)
        return builder.call(fn, args)

    return sig, codegen


fma = cast(Callable[[float, float, float], float], intrinsic(_fma_typer))
"""``a * b + c`` with a single rounding, inside kernels (LLVM ``llvm.fma.f64``: the FMA
instruction where the CPU has one, the correctly rounded libm ``fma`` otherwise)."""


# TA-Lib 0.8's "is zero" for a difference of two comparable numbers: within 1e-14 of
# their magnitude (~90 ulp), so a window flat to 15 digits counts as flat at any price.
EPS_SCALED = 1e-14


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def is_zero_scaled(v, scale):
    """TA-Lib's ``TA_IS_ZERO_SCALED(v, scale)``: ``|v| <= 1e-14 * scale``."""
    return abs(v) <= EPS_SCALED * scale


def sma_block(period: int) -> int:
    """Outputs between two exact restarts of the SMA running sum (see :func:`sma_into`)."""
    return max(SMA_BLOCK, 16 * period)


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid1(a):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i]:
            return i
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid2(a, b):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i]:
            return i
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid3(a, b, c):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i] and c[i] == c[i]:
            return i
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def first_valid4(a, b, c, d):
    n = a.shape[0]
    for i in range(n):
        if a[i] == a[i] and b[i] == b[i] and c[i] == c[i] and d[i] == d[i]:
            return i
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def fill_nan(out, stop):
    """Write NaN into ``out[:stop]`` (clipped to the array)."""
    m = min(stop, out.shape[0])
    for i in range(m):
        out[i] = NAN


@njit(cache=True, nogil=True, error_model="numpy")
def window_sum(x, i, period):
    """Exact left-to-right sum of ``x[i-period+1 : i+1]`` (the SMA restart value)."""
    total = 0.0
    for j in range(i - period + 1, i + 1):
        total += x[j]
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def sma_into(x, start, period, out):
    """TA-Lib's SMA of ``x[start:]`` written to ``out`` (NaN before ``start+period-1``).

    A running sum, as in TA-Lib, restarted from an exact window sum at the start of every
    block of ``sma_block(period)`` outputs; four blocks run side by side (four independent
    dependency chains). The restarts keep the drift below TA-Lib's own. TA-Lib's running
    sum never recovers from a NaN, so once a block ends on NaN everything after is NaN.
    ``SMAStream`` restarts at the same indices, so it reproduces these values exactly.
    """
    n = x.shape[0]
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    inv = 1.0 / period
    blk = max(SMA_BLOCK, 16 * period)  # == sma_block(period)
    m = n - first
    nfull = m // blk
    b = 0
    # hot loops index views with a 0-based counter: numba then emits no negative-index
    # wraparound code and LLVM keeps the loop body to the arithmetic
    while b + 4 <= nfull:
        i0 = first + b * blk
        i1 = i0 + blk
        i2 = i1 + blk
        i3 = i2 + blk
        t0 = window_sum(x, i0, period)
        t1 = window_sum(x, i1, period)
        t2 = window_sum(x, i2, period)
        t3 = window_sum(x, i3, period)
        out[i0] = t0 * inv
        out[i1] = t1 * inv
        out[i2] = t2 * inv
        out[i3] = t3 * inv
        a0 = x[i0 + 1 : i0 + blk]
        a1 = x[i1 + 1 : i1 + blk]
        a2 = x[i2 + 1 : i2 + blk]
        a3 = x[i3 + 1 : i3 + blk]
        d0 = x[i0 + 1 - period : i0 + blk - period]
        d1 = x[i1 + 1 - period : i1 + blk - period]
        d2 = x[i2 + 1 - period : i2 + blk - period]
        d3 = x[i3 + 1 - period : i3 + blk - period]
        o0 = out[i0 + 1 : i0 + blk]
        o1 = out[i1 + 1 : i1 + blk]
        o2 = out[i2 + 1 : i2 + blk]
        o3 = out[i3 + 1 : i3 + blk]
        for j in range(blk - 1):
            t0 += a0[j] - d0[j]
            t1 += a1[j] - d1[j]
            t2 += a2[j] - d2[j]
            t3 += a3[j] - d3[j]
            o0[j] = t0 * inv
            o1[j] = t1 * inv
            o2[j] = t2 * inv
            o3[j] = t3 * inv
        b += 4
    while first + b * blk < n:
        i0 = first + b * blk
        t0 = window_sum(x, i0, period)
        out[i0] = t0 * inv
        stop = min(i0 + blk, n)
        a0 = x[i0 + 1 : stop]
        d0 = x[i0 + 1 - period : stop - period]
        o0 = out[i0 + 1 : stop]
        for j in range(a0.shape[0]):
            t0 += a0[j] - d0[j]
            o0[j] = t0 * inv
        b += 1
    # TA-Lib: NaN in the running sum stays for good
    for e in range(first + blk - 1, n - 1, blk):
        if out[e] != out[e]:
            for i in range(e + 1, n):
                out[i] = NAN
            break


@njit(cache=True, nogil=True, error_model="numpy")
def ema_into(x, start, period, out):
    """TA-Lib's EMA of ``x[start:]``: seeded with the SMA of the first ``period`` values,
    then ``prev * (1 - k) + x * k`` with ``k = 2 / (period + 1)`` as one FMA."""
    n = x.shape[0]
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    k = 2.0 / (period + 1)
    k1 = 1.0 - k
    total = 0.0
    for i in range(start, first + 1):
        total += x[i]
    prev = total / period
    out[first] = prev
    xs = x[first + 1 :]
    os = out[first + 1 :]
    for j in range(xs.shape[0]):
        prev = fma(prev, k1, xs[j] * k)
        os[j] = prev


@njit(cache=True, nogil=True, error_model="numpy")
def wilder_into(x, start, period, out):
    """Wilder's smoothing (SMMA/RMA) of ``x[start:]``: SMA seed, then alpha ``1/period``."""
    n = x.shape[0]
    first = start + period - 1
    fill_nan(out, first)
    if first >= n:
        return
    total = 0.0
    for i in range(start, first + 1):
        total += x[i]
    prev = total / period
    out[first] = prev
    inv = 1.0 / period
    keep = (period - 1) * inv
    xs = x[first + 1 :]
    os = out[first + 1 :]
    for j in range(xs.shape[0]):
        prev = fma(prev, keep, xs[j] * inv)
        os[j] = prev


@njit(cache=True, nogil=True, error_model="numpy")
def sliding_max_into(x, start, period, out):
    """Highest of the last ``period`` values of ``x[start:]`` (TA-Lib ``MAX``)."""
    _sliding_extreme(x, start, period, out, 1.0)


@njit(cache=True, nogil=True, error_model="numpy")
def sliding_min_into(x, start, period, out):
    """Lowest of the last ``period`` values (TA-Lib ``MIN``): the maximum of the negated
    values, negated back (negation is exact)."""
    _sliding_extreme(x, start, period, out, -1.0)


@njit(cache=True, nogil=True, error_model="numpy")
def _sliding_extreme(x, start, period, out, sgn):
    """Sliding maximum of ``sgn * x`` times ``sgn`` over ``x[start:]``, chunk by chunk
    (:func:`extreme_chunk`). The sparse-table maximum and TA-Lib's agree exactly on
    numbers; with NaN in the input TA-Lib's result depends on how its maximum is formed,
    so that case runs TA-Lib's own scheme (:func:`_vanherk_nan`)."""
    n = x.shape[0]
    p = period
    first = start + p - 1
    fill_nan(out, first)
    if first >= n:
        return
    size = min(EXT_CHUNK, n - first) + p  # small inputs, small buffers
    a_buf = np.empty(size)
    b_buf = np.empty(size)
    bad = False
    for c0 in range(first, n, EXT_CHUNK):
        c1 = min(c0 + EXT_CHUNK, n)
        bad |= extreme_chunk(x, c0, c1, p, sgn, a_buf, b_buf, out[c0:c1])
    if bad:
        _vanherk_nan(x, start, period, out, sgn)


@njit(cache=True, nogil=True, error_model="numpy")
def extreme_chunk(x, c0, c1, p, sgn, a_buf, b_buf, ov):
    """Maxima of ``sgn * x`` over the windows ending at ``c0 .. c1 - 1`` (times ``sgn``)
    into ``ov``; returns whether the inputs read hold a NaN. ``a_buf``/``b_buf`` hold
    ``c1 - c0 + p`` values.

    The maximum of every window of 2, 4, ..., h values is built by doubling (each level
    one vectorised pass over L1-resident buffers); four windows of ``h`` cover any ``p``
    (they may overlap: harmless for a maximum). O(log p) per output, no data-dependent
    branch, where TA-Lib's forward/backward running maxima are serial chains."""
    w = 1
    while w * 2 <= p:
        w *= 2
    h = max(w // 2, 1)
    k = c1 - c0
    m = k + p - 1
    xv = x[c0 - p + 1 : c1]
    bad = False
    for i in range(m):
        v = xv[i]
        bad |= v != v
    if p < 4:  # one to three values: directly
        x2 = xv[p // 2 :]
        x3 = xv[p - 1 :]
        for j in range(k):
            a = sgn * xv[j]
            b = sgn * x2[j]
            c = sgn * x3[j]
            a = a if a > b else b
            ov[j] = sgn * (a if a > c else c)
        return bad
    # windows of 2 (or 4) straight from x, then doubling up to h
    x1 = xv[1:]
    if h >= 4:
        cnt = m - 3
        x2 = xv[2:]
        x3 = xv[3:]
        for i in range(cnt):
            a = sgn * xv[i]
            b = sgn * x1[i]
            c = sgn * x2[i]
            d = sgn * x3[i]
            a = a if a > b else b
            c = c if c > d else d
            a_buf[i] = a if a > c else c
        s = 4
    else:
        cnt = m - 1
        for i in range(cnt):
            a = sgn * xv[i]
            b = sgn * x1[i]
            a_buf[i] = a if a > b else b
        s = 2
    src = a_buf
    dst = b_buf
    while s < h:
        cnt -= s
        u = src[:cnt]
        u2 = src[s : s + cnt]
        d_ = dst[:cnt]
        for i in range(cnt):
            a = u[i]
            b = u2[i]
            d_[i] = a if a > b else b
        src, dst = dst, src
        s *= 2
    r1 = src[:k]
    r2 = src[h : h + k]
    r3 = src[p - 2 * h : p - 2 * h + k]
    r4 = src[p - h : p - h + k]
    for j in range(k):
        a = r1[j]
        b = r2[j]
        c = r3[j]
        d = r4[j]
        a = a if a > b else b
        c = c if c > d else d
        ov[j] = sgn * (a if a > c else c)
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def _vanherk_nan(x, start, period, out, sgn):
    """TA-Lib's own MAX/MIN (van Herk / Gil-Werman, blocks of ``period`` from ``start``)
    with its exact NaN behaviour: running maxima update with ``v if v > m else m`` (a NaN
    value is skipped, a NaN maximum stays), the window is ``f if f > b else b`` of the
    forward and backward maxima. Only taken when the input has NaN."""
    n = x.shape[0]
    p = period
    first = start + p - 1
    bwd = np.empty(n)
    b0 = start
    while b0 < n:  # backward maxima inside each block
        b1 = min(b0 + p, n)
        m = sgn * x[b1 - 1]
        bwd[b1 - 1] = m
        for i in range(b1 - 2, b0 - 1, -1):
            v = sgn * x[i]
            m = v if v > m else m
            bwd[i] = m
        b0 = b1
    f = 0.0
    for i in range(start, n):
        v = sgn * x[i]
        f = v if (i - start) % p == 0 else (v if v > f else f)
        if i >= first:
            b = bwd[i - p + 1]
            out[i] = sgn * (f if f > b else b)
