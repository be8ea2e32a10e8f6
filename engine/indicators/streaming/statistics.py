"""Streams of the statistics family (:mod:`engine.indicators.statistics`): the linear
regression outputs, VAR and ZSCORE.

Each class repeats its kernel's arithmetic in the kernel's order, restarts included, so
``update`` returns the 1-D value bit for bit at every candle (see the package
docstring)."""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators.statistics import _DEG, LR_BLOCK
from engine.indicators.streaming.core import _Moments

__all__ = [
    "LinearRegAngleStream", "LinearRegInterceptStream", "LinearRegSlopeStream",
    "LinearRegStream", "VarStream", "ZScoreStream",
]

NAN = math.nan


class _LinReg:
    """The regression kernel's sliding sums ``Sy``/``Sxy`` on prices relative to a
    reference, restarted exactly (window re-summed oldest first, new reference = the
    newest close) at the start of every block of ``max(LR_BLOCK, 4 * period)`` outputs
    counted from the first one, as the kernel restarts them. The restart also clears a
    NaN that has left the window, exactly when the kernel's does."""

    def __init__(self, period: int, mode: int) -> None:
        p = self.period = period
        self.mode = mode
        self.sum_x = p * (p - 1) * 0.5
        sum_xx = p * (p - 1) * (2 * p - 1) / 6.0
        self.inv_div = 1.0 / (self.sum_x * self.sum_x - p * sum_xx)
        self.inv_p = 1.0 / p
        self.blk = max(LR_BLOCK, 4 * p)
        self.win: deque[float] = deque(maxlen=p)
        self.ref = self.sy = self.sxy = 0.0
        self.outs = 0
        self.started = False

    def update(self, x: float) -> float:
        if not self.started:
            if x != x:
                return NAN
            self.started = True
        p = self.period
        win = self.win
        old = win[0] if len(win) == p else NAN  # leaves the window now (when it is full)
        win.append(x)
        if len(win) < p:
            return NAN
        if self.outs % self.blk == 0:
            ref = self.ref = x
            sy = 0.0
            sxy = 0.0
            for j, val in enumerate(win):
                y = val - ref
                sy += y
                sxy += (p - 1 - j) * y
        else:
            ref = self.ref
            o = old - ref
            sxy = self.sxy + (self.sy - p * o)
            sy = self.sy + ((x - ref) - o)
        self.sy, self.sxy = sy, sxy
        self.outs += 1
        m = (p * sxy - self.sum_x * sy) * self.inv_div
        if self.mode == 1:
            return m
        if self.mode == 2:
            return math.atan(m) * _DEG
        b = (sy - m * self.sum_x) * self.inv_p
        return (b + m * (p - 1)) + ref if self.mode == 0 else b + ref


class LinearRegStream:
    """The regression line's value at the newest candle, equal to
    :func:`engine.indicators.linearreg`."""

    _MODE = 0

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period, minimum=2)
        self._lr = _LinReg(self.period, self._MODE)

    def update(self, close: float) -> float:
        return self._lr.update(float(close))


class LinearRegSlopeStream(LinearRegStream):
    """Slope of the regression line, equal to :func:`engine.indicators.linearreg_slope`."""

    _MODE = 1


class LinearRegAngleStream(LinearRegStream):
    """Angle of the regression line in degrees, equal to
    :func:`engine.indicators.linearreg_angle` (``math.atan`` here and in the kernel are
    the same libm function)."""

    _MODE = 2


class LinearRegInterceptStream(LinearRegStream):
    """The regression line's value at the oldest candle of the window, equal to
    :func:`engine.indicators.linearreg_intercept`."""

    _MODE = 3


def _clamp0(var: float) -> float:
    """The kernel's ``_clamp0``: a variance <= 0 is 0; NaN stays NaN."""
    return var if var > 0.0 else (0.0 if var <= 0.0 else var)


class VarStream:
    """Rolling population variance, equal to :func:`engine.indicators.var`: the same
    sliding moments (:class:`_Moments`, i.e. ``moments_into``'s restarts and drift
    control; mode 3 differs from STDDEV only in the output) clamped at 0."""

    def __init__(self, period: int = 5) -> None:
        self.period = v.period(period)
        self._m = _Moments(self.period)

    def update(self, close: float) -> float:
        return _clamp0(self._m.update(float(close)))


class ZScoreStream:
    """``(close - mean) / stddev`` over the last ``period`` closes, equal to
    :func:`engine.indicators.zscore`: mean and clamped variance from the sliding moments
    (``moments_into`` mode 0), 0 for a flat window."""

    def __init__(self, period: int = 20) -> None:
        self.period = v.period(period)
        self._m = _Moments(self.period)

    def update(self, close: float) -> float:
        x = float(close)
        s = _clamp0(self._m.update(x))
        if s > 0.0:
            return (x - self._m.mean) / math.sqrt(s)
        return 0.0 if s == 0.0 else s
