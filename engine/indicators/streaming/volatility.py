"""Streams of the volatility family (NATR, TRANGE, Donchian, Keltner); ATR, BBANDS and
STDDEV live in :mod:`engine.indicators.streaming.core`."""

from __future__ import annotations

import math

from engine.indicators import _validate as v
from engine.indicators.streaming.core import _EMA, ATRStream, _SlidingExtreme, _true_range

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
