"""Streams of the trend family (moving averages), each equal bit for bit to its 1-D
function in :mod:`engine.indicators.trend` at every index (see the package docstring).

The 1-D kernels are not textbook formulas but TA-Lib's recurrences with TA-Lib's seeding
and, for WMA, TA-Lib's restart schedule; a stream that used the textbook formula would
drift from the batch value by a few ulp. So each class below repeats its kernel's
operations in the kernel's order, with the same fused multiply-adds.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice

from engine.indicators import _validate as v
from engine.indicators._fma import fma
from engine.indicators.trend import _wma_step as _wma_step_kernel

__all__ = [
    "DEMAStream", "HMAStream", "KAMAStream", "RMAStream", "SMMAStream", "TEMAStream",
    "VWMAStream", "WMAStream", "ZLEMAStream",
]

NAN = math.nan
_wma_step = _wma_step_kernel.py_func  # wma_into's own step, run as Python


class _WMA:
    """WMA core fed from its start on (no NaN skipping: the caller decides where the series
    starts, as ``wma_into``'s ``start`` does).

    ``wma_into`` rebuilds its weighted and plain sums from the window at the outputs
    ``0, 8p - 1, 16p - 1, ...`` (counted from the first output) and runs TA-Lib's
    add-new/subtract-old recurrence in between; the drift of that recurrence, and whether a
    NaN that entered the window has left the sums yet, both depend on exactly where the
    rebuilds happen, so this core rebuilds at the same outputs. A rebuild costs ``period``
    steps once per ``8 * period`` candles: amortised O(1)."""

    __slots__ = ("block", "divider", "outs", "period", "psub", "psum", "trailing", "win")

    def __init__(self, period: int) -> None:
        self.period = period
        self.divider = (period * (period + 1)) // 2
        self.block = 8 * period
        self.win: deque[float] = deque(maxlen=period)
        self.outs = 0
        self.psub = 0.0
        self.psum = 0.0
        self.trailing = 0.0

    def update(self, x: float) -> float:
        p = self.period
        if p == 1:
            return x
        win = self.win
        win.append(x)
        if len(win) < p:
            return NAN
        o = self.outs
        self.outs = o + 1
        if o == 0 or (o + 1) % self.block == 0:
            psub = 0.0
            psum = 0.0
            for k, t in enumerate(islice(win, p - 1), start=1):
                psub += t
                psum += t * k
            self.psub = psub
            self.psum = psum
            self.trailing = 0.0
        self.psub, self.psum, out = _wma_step(x, self.psub, self.psum, self.trailing, p,
                                              self.divider)
        self.trailing = win[0]
        return out


class WMAStream:
    """Linearly weighted moving average, equal to :func:`engine.indicators.trend.wma`."""

    def __init__(self, period: int = 30) -> None:
        self.period = v.period(period)
        self._wma = _WMA(self.period)
        self._started = False

    def update(self, close: float) -> float:
        x = float(close)
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        return self._wma.update(x)


class SMMAStream:
    """Wilder's smoothing (SMMA/RMA), equal to :func:`engine.indicators.trend.smma`:
    the plain sum of the first ``period`` values divided once, then
    ``fma(prev, (period - 1) / period, x / period)`` as ``wilder_into`` forms it."""

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period)
        self._inv = 1.0 / self.period
        self._keep = (self.period - 1) * self._inv
        self._n = 0
        self._total = 0.0
        self._value = NAN
        self._started = False

    def update(self, close: float) -> float:
        x = float(close)
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        if self._n >= self.period:
            self._value = fma(self._value, self._keep, x * self._inv)
            return self._value
        self._n += 1
        self._total += x
        if self._n == self.period:
            self._value = self._total / self.period
        return self._value


RMAStream = SMMAStream


class _MultiEMA:
    """The one-pass chained EMA of ``trend._multi_ema`` (mode 0 ZLEMA, 1 DEMA, 2 TEMA).

    Each stage is seeded with the plain sum of its first ``period`` inputs, accumulated in
    the kernel's order (the last term added inside the division for stages 1 and 2, all
    terms in the running sum for stage 3), and the stages start one after another; the
    first output is where the last stage has its seed."""

    def __init__(self, period: int, mode: int) -> None:
        self.period = v.period(period)
        self.mode = mode
        p = self.period
        self._lag = (p - 1) // 2 if mode == 0 else 0
        self._depth = 1 if mode == 0 else (2 if mode == 1 else 3)
        self._k = 2.0 / (p + 1)
        self._k1 = 1.0 - self._k
        self._f1 = p - 1  # indices below count from the kernel's ``start``
        self._f2 = 2 * (p - 1)
        self._last = self._depth * (p - 1)
        self._lagged: deque[float] = deque(maxlen=self._lag + 1)
        self._seen = 0
        self._e1 = self._e2 = self._e3 = 0.0
        self._s1 = self._s2 = self._s3 = 0.0
        self._started = False

    def update(self, close: float) -> float:
        x = float(close)
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        lag = self._lag
        if lag > 0:
            self._lagged.append(x)
            if len(self._lagged) <= lag:
                return NAN  # the kernel starts ``lag`` candles after the first number
            xi = 2.0 * x - self._lagged[0]
        else:
            xi = x
        i = self._seen
        self._seen = i + 1
        p, k, k1, depth = self.period, self._k, self._k1, self._depth
        if i > self._last:
            self._e1 = e1 = fma(self._e1, k1, xi * k)
            if depth == 1:
                return e1
            self._e2 = e2 = fma(self._e2, k1, e1 * k)
            if depth == 2:
                return 2.0 * e1 - e2
            self._e3 = e3 = fma(self._e3, k1, e2 * k)
            return 3.0 * e1 - 3.0 * e2 + e3
        # warm-up, the kernel's first loop one index at a time
        if i < self._f1:
            self._s1 += xi
            return NAN
        self._e1 = (self._s1 + xi) / p if i == self._f1 else fma(self._e1, k1, xi * k)
        if depth >= 2:
            if i < self._f2:
                self._s2 += self._e1
                return NAN
            self._e2 = (self._s2 + self._e1) / p if i == self._f2 else fma(
                self._e2, k1, self._e1 * k
            )
            if depth >= 3:
                self._s3 += self._e2
        if i < self._last:
            return NAN
        if depth == 1:
            return self._e1
        if depth == 2:
            return 2.0 * self._e1 - self._e2
        self._e3 = self._s3 / p
        return 3.0 * self._e1 - 3.0 * self._e2 + self._e3


class DEMAStream(_MultiEMA):
    """Double EMA ``2 e1 - e2``, equal to :func:`engine.indicators.trend.dema`."""

    def __init__(self, period: int = 30) -> None:
        super().__init__(period, 1)


class TEMAStream(_MultiEMA):
    """Triple EMA ``3 e1 - 3 e2 + e3``, equal to :func:`engine.indicators.trend.tema`."""

    def __init__(self, period: int = 30) -> None:
        super().__init__(period, 2)


class ZLEMAStream(_MultiEMA):
    """Zero-lag EMA, equal to :func:`engine.indicators.trend.zlema`; holds the last
    ``(period - 1) // 2`` closes for the de-lagged input ``2 * close - close[lag]``."""

    def __init__(self, period: int = 30) -> None:
        super().__init__(period, 0)


class KAMAStream:
    """Kaufman adaptive moving average, equal to :func:`engine.indicators.trend.kama`.

    The sum of absolute changes is TA-Lib's running sum, never rebuilt: it is seeded over
    the first ``period`` changes and then loses the change leaving the window before it
    gains today's, in that order, so its rounding (and a NaN's persistence) matches the
    kernel's. Period 1 returns the input, as TA-Lib does."""

    _CMAX = 2.0 / (30.0 + 1.0)
    _CDIFF = 2.0 / (2.0 + 1.0) - _CMAX

    def __init__(self, period: int = 30) -> None:
        self.period = v.period(period)
        self._win: deque[float] = deque(maxlen=self.period + 1)
        self._sumroc = 0.0
        self._prev = NAN  # the KAMA value, seeded with the close before the first output
        self._trailing = NAN
        self._xprev = NAN
        self._seen = 0
        self._started = False

    def update(self, close: float) -> float:
        x = float(close)
        p = self.period
        if p == 1:
            return x
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        i = self._seen
        self._seen = i + 1
        win = self._win
        win.append(x)
        if i < p:
            if i > 0:
                self._sumroc += abs(self._xprev - x)
            if i == 0:
                self._trailing = x
            self._xprev = x
            return NAN
        if i == p:
            self._sumroc += abs(self._xprev - x)  # the seed sum includes the first output
            self._prev = self._xprev
        old = win[0]
        roc = x - old
        if i > p:
            self._sumroc -= abs(self._trailing - old)
            self._sumroc += abs(x - self._xprev)
        self._trailing = old
        self._xprev = x
        sumroc = self._sumroc
        er = 1.0 if (sumroc <= roc or sumroc == 0.0) else abs(roc / sumroc)
        sc = er * self._CDIFF + self._CMAX
        sc *= sc
        self._prev = fma(x - self._prev, sc, self._prev)
        return self._prev


class HMAStream:
    """Hull moving average, equal to :func:`engine.indicators.trend.hma`: three WMA cores
    with the kernel's own restart schedules, the outer one started at the first index where
    both inner ones have a value (``wma_into(tmp, start + period - 1, ...)``), so a NaN
    reaching it is carried, not skipped. Period 1 returns the input, as TA-Lib does."""

    def __init__(self, period: int = 20) -> None:
        self.period = v.period(period)
        p = self.period
        sq = math.isqrt(p)
        self._half = _WMA(max(p // 2, 1))
        self._full = _WMA(p)
        self._outer = _WMA(sq)
        self._seen = 0
        self._started = False

    def update(self, close: float) -> float:
        x = float(close)
        if self.period == 1:
            return x
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        a = self._half.update(x)
        b = self._full.update(x)
        self._seen += 1
        if self._seen < self.period:
            return NAN
        return self._outer.update(2.0 * a - b)


class VWMAStream:
    """Volume-weighted moving average, equal to :func:`engine.indicators.trend.vwma`:
    TA-Lib's running sums (add today, read, subtract the candle leaving), never rebuilt,
    so a NaN that entered them stays, as in the kernel."""

    def __init__(self, period: int = 30) -> None:
        self.period = v.period(period)
        self._win: deque[tuple[float, float]] = deque()
        self._spv = 0.0
        self._sv = 0.0
        self._started = False

    def update(self, close: float, volume: float) -> float:
        x, vol = float(close), float(volume)
        if not self._started:
            if x != x or vol != vol:
                return NAN
            self._started = True
        p = self.period
        if p == 1:
            return x
        win = self._win
        win.append((x, vol))
        self._spv += x * vol
        self._sv += vol
        if len(win) < p:
            return NAN
        tpv = self._spv
        tv = self._sv
        tx, tvol = win.popleft()
        self._spv -= tx * tvol
        self._sv -= tvol
        return tpv / p / (tv / p)
