"""Candle patterns with TA-Lib's CDL semantics: int32 arrays, +100 bullish, -100
bearish (ENGULFING: +/-80 when the bodies share an end), 0 otherwise and during warm-up.

"Long", "short", "doji" and "near" are TA-Lib's candle settings (its defaults): a body is
short when it is at most the average body of the previous 10 candles, a doji when it is at
most 10 % of their average high-low range, and so on. The averages are running sums over
the candles *before* the one judged, updated in TA-Lib's order (add today's range,
subtract the trailing one, in one statement), because a pattern is a comparison and a
last-bit difference in the average could flip it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import first_valid4

__all__ = ["cdldoji", "cdlengulfing", "cdlhammer", "cdlmorningstar", "cdlshootingstar"]

I32 = np.ndarray

# TA-Lib range types and default candle settings: (range type, average period, factor)
_BODY, _HL, _SHADOWS = 0, 1, 2
BODY_LONG = (_BODY, 10, 1.0)
BODY_SHORT = (_BODY, 10, 1.0)
BODY_DOJI = (_HL, 10, 0.1)
SHADOW_LONG = (_BODY, 0, 1.0)
SHADOW_VERY_SHORT = (_HL, 10, 0.1)
NEAR = (_HL, 5, 0.2)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _rng(kind, o, h, lo, c):
    """TA_CANDLERANGE of one candle: real body, high-low range or both shadows. Helpers
    take the candle's values, never the arrays: a jitted helper taking arrays costs a
    reference-count update per call, several times the arithmetic here."""
    if kind == _BODY:
        return abs(c - o)
    if kind == _HL:
        return h - lo
    top = c if c >= o else o
    bot = o if c >= o else c
    return (h - top) + (bot - lo)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _avg(kind, period, factor, total, own):
    """TA_CANDLEAVERAGE: ``factor * average / (2 for shadows)``; with period 0 the
    candle's own range ``own``."""
    base = total / period if period != 0 else own
    return factor * base / (2.0 if kind == _SHADOWS else 1.0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _upper(o, h, c):
    return h - (c if c >= o else o)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _lower(o, lo, c):
    return (o if c >= o else c) - lo


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _color(o, c):
    return 1 if c >= o else -1


@njit(cache=True, nogil=True, error_model="numpy")
def _sum(kind, o, h, lo, c, a, b):
    total = 0.0
    for j in range(a, b):
        total += _rng(kind, o[j], h[j], lo[j], c[j])
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _engulfing(o, h, lo, c, out):
    n = c.shape[0]
    for i in range(first_valid4(o, h, lo, c) + 1, n):
        o0 = o[i - 1]
        c0 = c[i - 1]
        o1 = o[i]
        c1 = c[i]
        col0 = _color(o0, c0)
        col1 = _color(o1, c1)
        white = (col1 == 1 and col0 == -1
                 and ((c1 >= o0 and o1 < c0) or (c1 > o0 and o1 <= c0)))
        black = (col1 == -1 and col0 == 1
                 and ((o1 >= c0 and c1 < o0) or (o1 > c0 and c1 <= o0)))
        if white or black:
            full = o1 != c0 and c1 != o0
            out[i] = col1 * (100 if full else 80)


@njit(cache=True, nogil=True, error_model="numpy")
def _doji(o, h, lo, c, out):
    n = c.shape[0]
    kind, per, fac = BODY_DOJI
    start = first_valid4(o, h, lo, c) + per
    if start >= n:
        return
    total = _sum(kind, o, h, lo, c, start - per, start)
    # 0-based views: numba emits no negative-index code for a range() counter
    o0, h0, l0, c0, out0 = o[start:], h[start:], lo[start:], c[start:], out[start:]
    ot, ht, lt, ct = o[start - per :], h[start - per :], lo[start - per :], c[start - per :]
    for j in range(n - start):
        own = _rng(kind, o0[j], h0[j], l0[j], c0[j])
        out0[j] = 100 * (abs(c0[j] - o0[j]) <= _avg(kind, per, fac, total, own))
        total += own - _rng(kind, ot[j], ht[j], lt[j], ct[j])


@njit(cache=True, nogil=True, error_model="numpy")
def _hammer_star(o, h, lo, c, star, out):
    """Hammer (``star`` False): small body, long lower shadow, almost no upper shadow,
    body at or near the previous low. Shooting star: small body, long upper shadow,
    almost no lower shadow, body gapping above the previous body."""
    n = c.shape[0]
    bk, bp, bf = BODY_SHORT
    lk, lp, lf = SHADOW_LONG
    sk, sp, sf = SHADOW_VERY_SHORT
    nk, np_, nf = NEAR
    assert lp == 0  # the loop below relies on ShadowLong being the candle's own body
    start = first_valid4(o, h, lo, c) + max(bp, lp, sp, 0 if star else np_) + 1
    if start >= n:
        return
    tb = _sum(bk, o, h, lo, c, start - bp, start)
    tl = _sum(lk, o, h, lo, c, start - lp, start)
    ts = _sum(sk, o, h, lo, c, start - sp, start)
    tn = _sum(nk, o, h, lo, c, start - 1 - np_, start - 1)
    # 0-based views at each offset the loop reads (no negative-index code)
    m = n - start
    o0, h0, l0, c0, out0 = o[start:], h[start:], lo[start:], c[start:], out[start:]
    o1, h1, l1, c1 = o[start - 1 :], h[start - 1 :], lo[start - 1 :], c[start - 1 :]
    ob, hb, lb, cb = o[start - bp :], h[start - bp :], lo[start - bp :], c[start - bp :]
    os_, hs, ls, cs = o[start - sp :], h[start - sp :], lo[start - sp :], c[start - sp :]
    q = start - 1 - np_
    on, hn, ln, cn = o[q:], h[q:], lo[q:], c[q:]
    for j in range(m):
        oi = o0[j]
        hi = h0[j]
        li = l0[j]
        ci = c0[j]
        body = abs(ci - oi)
        small = body < _avg(bk, bp, bf, tb, _rng(bk, oi, hi, li, ci))
        up = _upper(oi, hi, ci)
        down = _lower(oi, li, ci)
        long_ = _avg(lk, lp, lf, tl, _rng(lk, oi, hi, li, ci))
        tiny = _avg(sk, sp, sf, ts, _rng(sk, oi, hi, li, ci))
        # conditions combined with & (no short-circuit): a branch per condition would be
        # mispredicted on real candles far more often than evaluating all of them costs
        if star:
            gap = min(oi, ci) > max(o1[j], c1[j])
            out0[j] = -100 * (small & (up > long_) & (down < tiny) & gap)
        else:
            body_low = ci if ci < oi else oi
            near = _avg(nk, np_, nf, tn, _rng(nk, o1[j], h1[j], l1[j], c1[j]))
            out0[j] = 100 * (small & (down > long_) & (up < tiny)
                             & (body_low <= l1[j] + near))
        tb += _rng(bk, oi, hi, li, ci) - _rng(bk, ob[j], hb[j], lb[j], cb[j])
        ts += _rng(sk, oi, hi, li, ci) - _rng(sk, os_[j], hs[j], ls[j], cs[j])
        if not star:
            tn += _rng(nk, o1[j], h1[j], l1[j], c1[j]) - _rng(nk, on[j], hn[j], ln[j], cn[j])


@njit(cache=True, nogil=True, error_model="numpy")
def _morningstar(o, h, lo, c, penetration, out):
    """A long black candle, a short body gapping down, then a white candle (longer than
    short) closing more than ``penetration`` of the first body back into it."""
    n = c.shape[0]
    lk, lp, lf = BODY_LONG
    sk, sp, sf = BODY_SHORT
    start = first_valid4(o, h, lo, c) + max(lp, sp) + 2
    if start >= n:
        return
    tl = _sum(lk, o, h, lo, c, start - 2 - lp, start - 2)
    ts = _sum(sk, o, h, lo, c, start - 1 - sp, start - 1)
    ts2 = _sum(sk, o, h, lo, c, start - sp, start)
    # 0-based views at each offset the loop reads: numba emits no negative-index code for
    # a range() counter indexing a view (indexing ``o[i - k]`` costs that check each time)
    m = n - start
    o0, h0, l0, c0, out0 = o[start:], h[start:], lo[start:], c[start:], out[start:]
    o1, h1, l1, c1 = o[start - 1 :], h[start - 1 :], lo[start - 1 :], c[start - 1 :]
    o2, h2, l2, c2 = o[start - 2 :], h[start - 2 :], lo[start - 2 :], c[start - 2 :]
    q = start - 2 - lp
    ol, hl, ll, cl = o[q:], h[q:], lo[q:], c[q:]
    q = start - 1 - sp
    os_, hs, ls, cs = o[q:], h[q:], lo[q:], c[q:]
    q = start - sp
    os2, hs2, ls2, cs2 = o[q:], h[q:], lo[q:], c[q:]
    for j in range(m):
        a2, b2, d2, e2 = o2[j], h2[j], l2[j], c2[j]
        a1, b1, d1, e1 = o1[j], h1[j], l1[j], c1[j]
        a0, b0, d0, e0 = o0[j], h0[j], l0[j], c0[j]
        rb2 = abs(e2 - a2)
        ok = ((rb2 > _avg(lk, lp, lf, tl, _rng(lk, a2, b2, d2, e2)))
              & (e2 < a2)
              & (abs(e1 - a1) <= _avg(sk, sp, sf, ts, _rng(sk, a1, b1, d1, e1)))
              & (max(a1, e1) < min(a2, e2))
              & (abs(e0 - a0) > _avg(sk, sp, sf, ts2, _rng(sk, a0, b0, d0, e0)))
              & (e0 >= a0)
              & (e0 > e2 + rb2 * penetration))
        out0[j] = 100 * ok
        tl += _rng(lk, a2, b2, d2, e2) - _rng(lk, ol[j], hl[j], ll[j], cl[j])
        ts += _rng(sk, a1, b1, d1, e1) - _rng(sk, os_[j], hs[j], ls[j], cs[j])
        ts2 += _rng(sk, a0, b0, d0, e0) - _rng(sk, os2[j], hs2[j], ls2[j], cs2[j])


def _ohlc(open_: Any, high: Any, low: Any, close: Any) -> tuple[Any, Any, Any, Any]:
    o = v.as_f64(open_, "open")
    h = v.as_f64(high, "high")
    lo = v.as_f64(low, "low")
    c = v.as_f64(close, "close")
    if not (o.shape == h.shape == lo.shape == c.shape):
        v.same_length(("open", o), ("high", h), ("low", lo), ("close", c))
    return o, h, lo, c


def _run(kernel: Any, open_: Any, high: Any, low: Any, close: Any, *args: Any) -> I32:
    o, h, lo, c = _ohlc(open_, high, low, close)
    out = np.zeros(c.shape[0], dtype=np.int32)
    kernel(o, h, lo, c, *args, out)
    return out


def cdlengulfing(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Engulfing (TA-Lib ``CDLENGULFING``): the body of a candle of the opposite colour
    engulfs the previous body; +/-100, or +/-80 when the bodies share one end."""
    return _run(_engulfing, open_, high, low, close)


def cdldoji(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Doji (TA-Lib ``CDLDOJI``): a body at most 10 % of the average high-low range of
    the previous 10 candles; 100 or 0."""
    return _run(_doji, open_, high, low, close)


def cdlhammer(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Hammer (TA-Lib ``CDLHAMMER``); 100 or 0."""
    return _run(_hammer_star, open_, high, low, close, False)


def cdlshootingstar(open_: Any, high: Any, low: Any, close: Any) -> I32:
    """Shooting star (TA-Lib ``CDLSHOOTINGSTAR``); -100 or 0."""
    return _run(_hammer_star, open_, high, low, close, True)


def cdlmorningstar(
    open_: Any, high: Any, low: Any, close: Any, penetration: float = 0.3
) -> I32:
    """Morning star (TA-Lib ``CDLMORNINGSTAR``); 100 or 0."""
    pen = v.number(penetration, "penetration")
    if pen < 0.0:
        raise ValueError(f"penetration must be >= 0, got {pen}")
    return _run(_morningstar, open_, high, low, close, pen)
