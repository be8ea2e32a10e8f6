"""Streams of the volatility family (NATR, TRANGE, Donchian, Keltner); ATR, BBANDS and
STDDEV live in :mod:`engine.indicators.streaming.core`."""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators.streaming.core import _EMA, ATRStream, _true_range

__all__ = ["DonchianStream", "KeltnerStream", "NATRStream", "TRangeStream"]

NAN = math.nan


class NATRStream(ATRStream):
    """ATR as a percentage of close, equal to :func:`engine.indicators.natr`.

    The 1-D kernel divides the very ATR value the ATR chain produces (same FMA chain,
    ``(atr / close) * 100``, 0 for a zero close), so the ATR stream's value divided the same
    way is exact."""

    def __init__(self, period: int = 14) -> None:
        super().__init__(period)

    def update(self, high: float, low: float, close: float) -> float:
        atr = super().update(high, low, close)
        if self._n < self.period:  # warm-up (or not started): NaN, whatever the close
            return NAN
        c = float(close)
        return (atr / c) * 100.0 if c != 0.0 else 0.0


class TRangeStream:
    """True range, equal to :func:`engine.indicators.trange`: NaN until the first complete
    candle and on it (no previous close), then TA-Lib's TRUE_RANGE against the previous
    close, whatever it was (a NaN close gives NaN on the next candle, as in the kernel)."""

    def __init__(self) -> None:
        self._pc = NAN
        self._started = False

    def update(self, high: float, low: float, close: float) -> float:
        h, lo, c = float(high), float(low), float(close)
        if not self._started:
            if h != h or lo != lo or c != c:
                return NAN
            self._started = True
            self._pc = c
            return NAN
        tr = _true_range(h, lo, self._pc)
        self._pc = c
        return tr


class _SlidingExtreme:
    """Sliding maximum of ``sgn * x`` (times ``sgn``) over ``period`` values from the first
    candle, exactly as the 1-D kernel (TA-Lib ``MAX``/``MIN``) forms it; amortised O(1).

    The kernel has two regimes, and so does this stream. Input without NaN: a sparse
    table whose ``a if a > b else b`` steps return the *last* occurrence of the window
    maximum, which a monotonic deque popping ``<=`` values also returns (the same value,
    and the same sign where 0.0 and -0.0 tie). Input with a NaN: TA-Lib's own van Herk /
    Gil-Werman blocks of ``period`` from the first candle, where what a window holding a
    NaN gives depends on where the NaN sits in its block (a NaN opening the forward part
    or closing the backward part wins, elsewhere it is skipped); a deque cannot say that,
    so the same blocks with the same updates run beside it (one backward pass per block)
    and take over from the first NaN on. The kernel decides per whole array, so outputs
    before a later NaN can only differ from it in the sign of a tied zero."""

    __slots__ = ("_block", "_bwd", "_f", "_i", "_nan", "_q", "period", "sgn")

    def __init__(self, period: int, sgn: float) -> None:
        self.period = period
        self.sgn = sgn
        self._i = -1
        self._f = 0.0
        self._block: list[float] = []
        self._bwd: list[float] = []
        self._q: deque[tuple[int, float]] = deque()
        self._nan = False

    def update(self, x: float) -> float:
        p = self.period
        self._i += 1
        i = self._i
        val = self.sgn * x
        # van Herk blocks (needed from the first candle on, should a NaN come)
        pos = i % p
        f = val if pos == 0 else (val if val > self._f else self._f)
        self._f = f
        block = self._block
        block.append(val)
        if pos == p - 1:  # block complete: its backward maxima, for the next p windows
            m = block[-1]
            bwd = [m] * p
            for k in range(p - 2, -1, -1):
                u = block[k]
                m = u if u > m else m
                bwd[k] = m
            self._bwd = bwd
            self._block = []
        if not self._nan:
            if val != val:
                self._nan = True
                self._q.clear()
            else:
                q = self._q
                while q and not (q[-1][1] > val):
                    q.pop()
                q.append((i, val))
                if q[0][0] <= i - p:
                    q.popleft()
        if i < p - 1:
            return NAN
        if not self._nan:
            return self.sgn * self._q[0][1]
        b = self._bwd[(pos + 1) % p]
        return self.sgn * (f if f > b else b)


class DonchianStream:
    """Donchian channel ``(upper, middle, lower)``, equal to
    :func:`engine.indicators.donchian` (NaN input included: see ``_SlidingExtreme``)."""

    def __init__(self, period: int = 20) -> None:
        self.period = v.period(period)
        self._hi = _SlidingExtreme(self.period, 1.0)
        self._lo = _SlidingExtreme(self.period, -1.0)
        self._started = False

    def update(self, high: float, low: float) -> tuple[float, float, float]:
        h, lo = float(high), float(low)
        if not self._started:
            if h != h or lo != lo:
                return NAN, NAN, NAN
            self._started = True
        upper = self._hi.update(h)
        lower = self._lo.update(lo)
        return upper, (upper + lower) * 0.5, lower


class KeltnerStream:
    """Keltner channel ``(upper, middle, lower)``, equal to
    :func:`engine.indicators.keltner`: the EMA of close and the ATR both start at the first
    candle where high, low and close are all numbers (the EMA too, as in the kernel)."""

    def __init__(self, period: int = 20, atr_period: int = 10, multiplier: float = 2.0) -> None:
        self.period = v.period(period)
        self.atr_period = v.period(atr_period, "atr_period")
        self.multiplier = v.number(multiplier, "multiplier")
        self._ema = _EMA(self.period)
        self._atr = ATRStream(self.atr_period)
        self._started = False

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        h, lo, c = float(high), float(low), float(close)
        if not self._started:
            if h != h or lo != lo or c != c:
                return NAN, NAN, NAN
            self._started = True
        m = self._ema.update(c)
        band = self._atr.update(h, lo, c) * self.multiplier
        return m + band, m, m - band
