"""Streams of the candle patterns, each equal bit for bit to its 1-D function in
:mod:`engine.indicators.patterns` at every candle (see the package docstring).

A pattern is a chain of comparisons against trailing averages of candle ranges, so a
last-bit difference in an average could flip a signal. The averages here are the
kernel's running sums: seeded by adding the same candles in the same order from 0.0, then
moved by ``total += today's range - the trailing one`` in one statement, as the kernel
does (never recomputed, never summed in another order). Each ``update`` takes one
candle's ``(open_, high, low, close)`` and returns the int the 1-D int32 output holds.
"""

from __future__ import annotations

from collections import deque

from engine.indicators import _validate as v
from engine.indicators import patterns as P
from engine.indicators.patterns import (
    BODY_DOJI,
    BODY_LONG,
    BODY_SHORT,
    NEAR,
    SHADOW_LONG,
    SHADOW_VERY_SHORT,
)

__all__ = [
    "CDLDojiStream", "CDLEngulfingStream", "CDLHammerStream", "CDLMorningStarStream",
    "CDLShootingStarStream",
]

_Candle = tuple[float, float, float, float]


# the kernels' own TA_CANDLERANGE, TA_CANDLEAVERAGE and colour, run as plain Python
# (numba keeps the source as ``py_func``): a pattern is a comparison, so both forms must
# share one definition of the arithmetic down to the last bit
_rng = P._rng.py_func
_avg = P._avg.py_func
_color = P._color.py_func


class _Trail:
    """The kernel's running total of ``kind`` ranges over the ``period`` candles that end
    ``lag`` candles before the one judged, for a pattern whose first judged candle is
    ``warm`` candles after the first complete one. ``push`` seeds it with the candles the
    kernel's ``_sum`` adds, in its order; ``advance`` is the kernel's one-statement
    update."""

    __slots__ = ("kind", "lag", "lo", "period", "ranges", "total", "warm")

    def __init__(self, setting: tuple[int, int, float], lag: int, warm: int) -> None:
        self.kind, self.period, _factor = setting
        self.lag = lag
        self.warm = warm
        self.lo = warm - lag - self.period  # first candle of the seed sum
        self.total = 0.0
        # ranges of the current candle and the lag + period before it
        self.ranges: deque[float] = deque(maxlen=lag + self.period + 1)

    def push(self, k: int, candle: _Candle) -> None:
        """Record candle ``k`` (counted from the first complete one)."""
        r = _rng(self.kind, *candle)
        self.ranges.append(r)
        if self.lo <= k < self.warm - self.lag:
            self.total += r

    def advance(self) -> None:
        """After judging the current candle: add the range ``lag`` back, drop the one
        ``lag + period`` back."""
        rs = self.ranges
        self.total += rs[-1 - self.lag] - rs[-1 - self.lag - self.period]


class _Pattern:
    """Leading-NaN skip (the kernels start at ``first_valid4``), the candle count and the
    last ``keep`` candles."""

    def __init__(self, keep: int) -> None:
        self._k = -1
        self._past: deque[_Candle] = deque(maxlen=keep)

    def _next(self, open_: float, high: float, low: float, close: float) -> _Candle | None:
        o, h, lo, c = float(open_), float(high), float(low), float(close)
        if self._k < 0 and (o != o or h != h or lo != lo or c != c):
            return None
        self._k += 1
        return o, h, lo, c


class CDLEngulfingStream(_Pattern):
    """Engulfing, equal to :func:`engine.indicators.cdlengulfing`."""

    def __init__(self) -> None:
        super().__init__(1)

    def update(self, open_: float, high: float, low: float, close: float) -> int:
        cur = self._next(open_, high, low, close)
        if cur is None:
            return 0
        past = self._past
        out = 0
        if past:
            o0, _h0, _l0, c0 = past[-1]
            o1, _h1, _l1, c1 = cur
            col0 = _color(o0, c0)
            col1 = _color(o1, c1)
            white = (col1 == 1 and col0 == -1
                     and ((c1 >= o0 and o1 < c0) or (c1 > o0 and o1 <= c0)))
            black = (col1 == -1 and col0 == 1
                     and ((o1 >= c0 and c1 < o0) or (o1 > c0 and c1 <= o0)))
            if white or black:
                full = o1 != c0 and c1 != o0
                out = col1 * (100 if full else 80)
        past.append(cur)
        return out


class CDLDojiStream(_Pattern):
    """Doji, equal to :func:`engine.indicators.cdldoji`."""

    def __init__(self) -> None:
        super().__init__(0)
        self._warm = BODY_DOJI[1]
        self._avg = _Trail(BODY_DOJI, 0, self._warm)

    def update(self, open_: float, high: float, low: float, close: float) -> int:
        cur = self._next(open_, high, low, close)
        if cur is None:
            return 0
        t = self._avg
        t.push(self._k, cur)
        if self._k < self._warm:
            return 0
        kind, per, fac = BODY_DOJI
        o, _h, _lo, c = cur
        out = 100 * (abs(c - o) <= _avg(kind, per, fac, t.total, t.ranges[-1]))
        t.advance()
        return out


class _HammerStar(_Pattern):
    """Hammer (``star`` False) or shooting star, as the kernel's ``_hammer_star``."""

    def __init__(self, star: bool) -> None:
        super().__init__(1)
        assert SHADOW_LONG[1] == 0  # as the kernel: ShadowLong is the candle's own body
        self._star = star
        w = max(BODY_SHORT[1], SHADOW_LONG[1], SHADOW_VERY_SHORT[1],
                0 if star else NEAR[1]) + 1
        self._warm = w
        self._tb = _Trail(BODY_SHORT, 0, w)
        self._ts = _Trail(SHADOW_VERY_SHORT, 0, w)
        self._tn = _Trail(NEAR, 1, w)

    def _judge(self, cur: _Candle | None) -> int:
        if cur is None:
            return 0
        k, star = self._k, self._star
        self._tb.push(k, cur)
        self._ts.push(k, cur)
        if not star:
            self._tn.push(k, cur)
        past = self._past
        if k < self._warm:
            past.append(cur)
            return 0
        bk, bp, bf = BODY_SHORT
        lk, lp, lf = SHADOW_LONG
        sk, sp, sf = SHADOW_VERY_SHORT
        oi, hi, li, ci = cur
        o1, h1, l1, c1 = past[-1]
        body = abs(ci - oi)
        small = body < _avg(bk, bp, bf, self._tb.total, _rng(bk, oi, hi, li, ci))
        up = hi - (ci if ci >= oi else oi)
        down = (oi if ci >= oi else ci) - li
        long_ = _avg(lk, lp, lf, 0.0, _rng(lk, oi, hi, li, ci))
        tiny = _avg(sk, sp, sf, self._ts.total, _rng(sk, oi, hi, li, ci))
        if star:
            gap = min(oi, ci) > max(o1, c1)
            out = -100 * (small & (up > long_) & (down < tiny) & gap)
        else:
            nk, np_, nf = NEAR
            body_low = ci if ci < oi else oi
            near = _avg(nk, np_, nf, self._tn.total, _rng(nk, o1, h1, l1, c1))
            out = 100 * (small & (down > long_) & (up < tiny) & (body_low <= l1 + near))
        self._tb.advance()
        self._ts.advance()
        if not star:
            self._tn.advance()
        past.append(cur)
        return out


class CDLHammerStream(_HammerStar):
    """Hammer, equal to :func:`engine.indicators.cdlhammer`."""

    def __init__(self) -> None:
        super().__init__(False)

    def update(self, open_: float, high: float, low: float, close: float) -> int:
        return self._judge(self._next(open_, high, low, close))


class CDLShootingStarStream(_HammerStar):
    """Shooting star, equal to :func:`engine.indicators.cdlshootingstar`."""

    def __init__(self) -> None:
        super().__init__(True)

    def update(self, open_: float, high: float, low: float, close: float) -> int:
        return self._judge(self._next(open_, high, low, close))


class CDLMorningStarStream(_Pattern):
    """Morning star, equal to :func:`engine.indicators.cdlmorningstar`."""

    def __init__(self, penetration: float = 0.3) -> None:
        super().__init__(2)
        pen = v.number(penetration, "penetration")
        if pen < 0.0:
            raise ValueError(f"penetration must be >= 0, got {pen}")
        self.penetration = pen
        w = max(BODY_LONG[1], BODY_SHORT[1]) + 2
        self._warm = w
        self._tl = _Trail(BODY_LONG, 2, w)
        self._ts = _Trail(BODY_SHORT, 1, w)
        self._ts2 = _Trail(BODY_SHORT, 0, w)

    def update(self, open_: float, high: float, low: float, close: float) -> int:
        cur = self._next(open_, high, low, close)
        if cur is None:
            return 0
        k = self._k
        for t in (self._tl, self._ts, self._ts2):
            t.push(k, cur)
        past = self._past
        if k < self._warm:
            past.append(cur)
            return 0
        lk, lp, lf = BODY_LONG
        sk, sp, sf = BODY_SHORT
        o2, h2, l2, c2 = past[-2]
        o1, h1, l1, c1 = past[-1]
        o0, h0, l0, c0 = cur
        rb2 = abs(c2 - o2)
        ok = ((rb2 > _avg(lk, lp, lf, self._tl.total, _rng(lk, o2, h2, l2, c2)))
              & (c2 < o2)
              & (abs(c1 - o1) <= _avg(sk, sp, sf, self._ts.total, _rng(sk, o1, h1, l1, c1)))
              & (max(o1, c1) < min(o2, c2))
              & (abs(c0 - o0) > _avg(sk, sp, sf, self._ts2.total, _rng(sk, o0, h0, l0, c0)))
              & (c0 >= o0)
              & (c0 > c2 + rb2 * self.penetration))
        self._tl.advance()
        self._ts.advance()
        self._ts2.advance()
        past.append(cur)
        return 100 * ok
