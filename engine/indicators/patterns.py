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


@njit(cache=True, nogil=True, inline="always")
def _rng(kind, o, h, lo, c, i):
    """TA_CANDLERANGE: real body, high-low range or both shadows of candle ``i``."""
    if kind == _BODY:
        return abs(c[i] - o[i])
    if kind == _HL:
        return h[i] - lo[i]
    top = c[i] if c[i] >= o[i] else o[i]
    bot = o[i] if c[i] >= o[i] else c[i]
    return (h[i] - top) + (bot - lo[i])


@njit(cache=True, nogil=True, inline="always")
def _avg(kind, period, factor, total, o, h, lo, c, i):
    """TA_CANDLEAVERAGE: ``factor * average / (2 for shadows)``; with period 0 the
    candle's own range."""
    base = total / period if period != 0 else _rng(kind, o, h, lo, c, i)
    return factor * base / (2.0 if kind == _SHADOWS else 1.0)


@njit(cache=True, nogil=True, inline="always")
def _upper(o, h, c, i):
    return h[i] - (c[i] if c[i] >= o[i] else o[i])


@njit(cache=True, nogil=True, inline="always")
def _lower(o, lo, c, i):
    return (o[i] if c[i] >= o[i] else c[i]) - lo[i]


@njit(cache=True, nogil=True, inline="always")
def _color(o, c, i):
    return 1 if c[i] >= o[i] else -1


@njit(cache=True, nogil=True)
def _sum(kind, o, h, lo, c, a, b):
    total = 0.0
    for j in range(a, b):
        total += _rng(kind, o, h, lo, c, j)
    return total


@njit(cache=True, nogil=True)
def _engulfing(o, h, lo, c, out):
    n = c.shape[0]
    for i in range(first_valid4(o, h, lo, c) + 1, n):
        c1 = _color(o, c, i - 1)
        c2 = _color(o, c, i)
        white = (c2 == 1 and c1 == -1
                 and ((c[i] >= o[i - 1] and o[i] < c[i - 1])
                      or (c[i] > o[i - 1] and o[i] <= c[i - 1])))
        black = (c2 == -1 and c1 == 1
                 and ((o[i] >= c[i - 1] and c[i] < o[i - 1])
                      or (o[i] > c[i - 1] and c[i] <= o[i - 1])))
        if white or black:
            full = o[i] != c[i - 1] and c[i] != o[i - 1]
            out[i] = c2 * (100 if full else 80)


@njit(cache=True, nogil=True)
def _doji(o, h, lo, c, out):
    n = c.shape[0]
    kind, per, fac = BODY_DOJI
    start = first_valid4(o, h, lo, c) + per
    if start >= n:
        return
    total = _sum(kind, o, h, lo, c, start - per, start)
    for i in range(start, n):
        if abs(c[i] - o[i]) <= _avg(kind, per, fac, total, o, h, lo, c, i):
            out[i] = 100
        total += _rng(kind, o, h, lo, c, i) - _rng(kind, o, h, lo, c, i - per)


@njit(cache=True, nogil=True)
def _hammer_star(o, h, lo, c, star, out):
    """Hammer (``star`` False): small body, long lower shadow, almost no upper shadow,
    body at or near the previous low. Shooting star: small body, long upper shadow,
    almost no lower shadow, body gapping above the previous body."""
    n = c.shape[0]
    bk, bp, bf = BODY_SHORT
    lk, lp, lf = SHADOW_LONG
    sk, sp, sf = SHADOW_VERY_SHORT
    nk, np_, nf = NEAR
    start = first_valid4(o, h, lo, c) + max(bp, lp, sp, 0 if star else np_) + 1
    if start >= n:
        return
    tb = _sum(bk, o, h, lo, c, start - bp, start)
    tl = _sum(lk, o, h, lo, c, start - lp, start)
    ts = _sum(sk, o, h, lo, c, start - sp, start)
    tn = _sum(nk, o, h, lo, c, start - 1 - np_, start - 1)
    for i in range(start, n):
        small = abs(c[i] - o[i]) < _avg(bk, bp, bf, tb, o, h, lo, c, i)
        up = _upper(o, h, c, i)
        down = _lower(o, lo, c, i)
        if star:
            ok = (small and up > _avg(lk, lp, lf, tl, o, h, lo, c, i)
                  and down < _avg(sk, sp, sf, ts, o, h, lo, c, i)
                  and min(o[i], c[i]) > max(o[i - 1], c[i - 1]))
            if ok:
                out[i] = -100
        else:
            body_low = c[i] if c[i] < o[i] else o[i]
            ok = (small and down > _avg(lk, lp, lf, tl, o, h, lo, c, i)
                  and up < _avg(sk, sp, sf, ts, o, h, lo, c, i)
                  and body_low <= lo[i - 1] + _avg(nk, np_, nf, tn, o, h, lo, c, i - 1))
            if ok:
                out[i] = 100
        tb += _rng(bk, o, h, lo, c, i) - _rng(bk, o, h, lo, c, i - bp)
        tl += _rng(lk, o, h, lo, c, i) - _rng(lk, o, h, lo, c, i - lp)
        ts += _rng(sk, o, h, lo, c, i) - _rng(sk, o, h, lo, c, i - sp)
        tn += _rng(nk, o, h, lo, c, i - 1) - _rng(nk, o, h, lo, c, i - 1 - np_)


@njit(cache=True, nogil=True)
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
    for i in range(start, n):
        rb2 = abs(c[i - 2] - o[i - 2])
        if (rb2 > _avg(lk, lp, lf, tl, o, h, lo, c, i - 2)
                and _color(o, c, i - 2) == -1
                and abs(c[i - 1] - o[i - 1]) <= _avg(sk, sp, sf, ts, o, h, lo, c, i - 1)
                and max(o[i - 1], c[i - 1]) < min(o[i - 2], c[i - 2])
                and abs(c[i] - o[i]) > _avg(sk, sp, sf, ts2, o, h, lo, c, i)
                and _color(o, c, i) == 1
                and c[i] > c[i - 2] + rb2 * penetration):
            out[i] = 100
        tl += _rng(lk, o, h, lo, c, i - 2) - _rng(lk, o, h, lo, c, i - 2 - lp)
        ts += _rng(sk, o, h, lo, c, i - 1) - _rng(sk, o, h, lo, c, i - 1 - sp)
        ts2 += _rng(sk, o, h, lo, c, i) - _rng(sk, o, h, lo, c, i - sp)


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
