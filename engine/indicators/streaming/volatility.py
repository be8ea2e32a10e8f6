"""Streams of the volatility family (NATR, TRANGE, Donchian, Keltner); ATR, BBANDS and
STDDEV live in :mod:`engine.indicators.streaming.core`."""

from __future__ import annotations

import math

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


class _BlockExtreme:
    """Sliding maximum of ``sgn * x`` (times ``sgn``) by van Herk / Gil-Werman blocks of
    ``period`` from the first candle: amortised O(1), one backward pass per block.

    Why not a monotonic deque: the 1-D kernel (TA-Lib ``MAX``/``MIN``) switches to
    TA-Lib's own block scheme when its input holds a NaN, and what a window with a NaN
    gives then depends on where the NaN sits in its block (a NaN opening the forward part
    or closing the backward part wins, elsewhere it is skipped). Running the same blocks
    with the same ``v if v > m else m`` updates reproduces that; without NaN it is the
    exact window maximum, as the kernel's sparse table is."""

    __slots__ = ("_block", "_bwd", "_f", "_i", "period", "sgn")

    def __init__(self, period: int, sgn: float) -> None:
        self.period = period
        self.sgn = sgn
        self._i = -1
        self._f = 0.0
        self._block: list[float] = []
        self._bwd: list[float] = []

    def update(self, x: float) -> float:
        p = self.period
        self._i += 1
        val = self.sgn * x
        pos = self._i % p
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
        if self._i < p - 1:
            return NAN
        b = self._bwd[(pos + 1) % p]
        return self.sgn * (f if f > b else b)


class DonchianStream:
    """Donchian channel ``(upper, middle, lower)``, equal to
    :func:`engine.indicators.donchian` (NaN input included: see ``_BlockExtreme``)."""

    def __init__(self, period: int = 20) -> None:
        self.period = v.period(period)
        self._hi = _BlockExtreme(self.period, 1.0)
        self._lo = _BlockExtreme(self.period, -1.0)
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
