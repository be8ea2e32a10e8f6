"""Streams of the momentum family (:mod:`engine.indicators.momentum`): MOM, ROC, CMO,
STOCHRSI, CCI and WILLR (RSI and MACD live in :mod:`.core`).

Each class repeats its kernel's arithmetic in the kernel's order, so ``update`` returns
the 1-D value bit for bit at every candle (see the package docstring)."""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators._common import EPS_SCALED
from engine.indicators.streaming.core import RSIStream, _SlidingExtreme
from engine.indicators.streaming.oscillators import StochStream

__all__ = ["CCIStream", "CMOStream", "MOMStream", "ROCStream", "StochRSIStream", "WillRStream"]

NAN = math.nan


class _Lag:
    """The value ``period`` candles back, counted from the first non-NaN input (the
    kernels' ``start``); NaN until there is one."""

    __slots__ = ("period", "started", "win")

    def __init__(self, period: int) -> None:
        self.period = period
        self.win: deque[float] = deque(maxlen=period + 1)
        self.started = False

    def update(self, x: float) -> float:
        """Take ``x`` and return the value ``period`` candles before it (NaN in warm-up)."""
        if not self.started:
            if x != x:
                return NAN
            self.started = True
        self.win.append(x)
        return self.win[0] if len(self.win) > self.period else NAN


class MOMStream:
    """Momentum ``close - close[period ago]``, equal to :func:`engine.indicators.mom`."""

    def __init__(self, period: int = 10) -> None:
        self.period = v.period(period)
        self._lag = _Lag(self.period)

    def update(self, close: float) -> float:
        x = float(close)
        return x - self._lag.update(x)  # NaN in warm-up: the lag is NaN


class ROCStream:
    """Rate of change in percent, equal to :func:`engine.indicators.roc`: the same
    ``((close / prev) - 1) * 100`` (two roundings, not ``(close - prev) / prev``) and 0 for a
    zero old close."""

    def __init__(self, period: int = 10) -> None:
        self.period = v.period(period)
        self._lag = _Lag(self.period)

    def update(self, close: float) -> float:
        x = float(close)
        prev = self._lag.update(x)  # NaN in warm-up, and NaN != 0.0: NaN out
        return ((x / prev) - 1.0) * 100.0 if prev != 0.0 else 0.0


class CMOStream:
    """Chande momentum oscillator, equal to :func:`engine.indicators.cmo`. The 1-D kernel
    is ``rsi_into`` with ``cmo=True``: the same Wilder-smoothed gain and loss, only the
    last division differs, so the gain and loss come from an :class:`RSIStream` (whose
    FMA steps already match the kernel) and only that division is done here."""

    def __init__(self, period: int = 14) -> None:
        self._rsi = RSIStream(period)
        self.period = self._rsi.period

    def update(self, close: float) -> float:
        r = self._rsi.update(float(close))
        if r != r:  # warm-up (the RSI is never NaN afterwards: a NaN sum reads as flat)
            return NAN
        gain, loss = self._rsi._gain, self._rsi._loss
        s = gain + loss
        return 100.0 * ((gain - loss) / s) if s > 0.0 else 0.0


class StochRSIStream:
    """Stochastic RSI ``(fastk, fastd)``, equal to :func:`engine.indicators.stochrsi`.

    The 1-D form runs STOCH with ``slowk_period = 1`` (fast %K, SMA %D) on the RSI series,
    from the first RSI value on; an RSI stream feeding a :class:`StochStream` does the same
    (the stochastic skips the RSI's NaN warm-up as the 1-D form skips it, and follows
    STOCH's NaN tracker should an infinite close make an RSI value NaN)."""

    def __init__(self, period: int = 14, fastk_period: int = 5, fastd_period: int = 3) -> None:
        self._rsi = RSIStream(period)
        self.period = self._rsi.period
        self.fastk_period = v.period(fastk_period, "fastk_period")
        self.fastd_period = v.period(fastd_period, "fastd_period")
        self._stoch = StochStream(self.fastk_period, 1, self.fastd_period)

    def update(self, close: float) -> tuple[float, float]:
        r = self._rsi.update(float(close))
        return self._stoch.update(r, r, r)


class CCIStream:
    """Commodity channel index, equal to :func:`engine.indicators.cci`.

    The kernel recomputes the window's mean and mean deviation from a ring buffer at every
    candle with four interleaved accumulators, so the sums depend on which ring slot holds
    which candle: this ring has the kernel's layout (candle ``k`` after the start in slot
    ``k % period``) and is summed in the same order. O(period) per candle, as the kernel."""

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period)
        self._inv = 1.0 / self.period
        self._ring = [0.0] * self.period
        self._k = -1  # candles since the start

    def update(self, high: float, low: float, close: float) -> float:
        h, lo, c = float(high), float(low), float(close)
        if self._k < 0 and (h != h or lo != lo or c != c):
            return NAN
        self._k += 1
        p = self.period
        ring = self._ring
        tp = (h + lo + c) / 3.0
        ring[self._k % p] = tp
        if self._k < p - 1:
            return NAN
        a0 = a1 = a2 = a3 = 0.0
        j = 0
        while j + 4 <= p:
            a0 += ring[j]
            a1 += ring[j + 1]
            a2 += ring[j + 2]
            a3 += ring[j + 3]
            j += 4
        while j < p:
            a0 += ring[j]
            j += 1
        mean = ((a0 + a1) + (a2 + a3)) / p
        d0 = d1 = d2 = d3 = 0.0
        j = 0
        while j + 4 <= p:
            d0 += abs(ring[j] - mean)
            d1 += abs(ring[j + 1] - mean)
            d2 += abs(ring[j + 2] - mean)
            d3 += abs(ring[j + 3] - mean)
            j += 4
        while j < p:
            d0 += abs(ring[j] - mean)
            j += 1
        dev = ((d0 + d1) + (d2 + d3)) * self._inv
        diff = tp - mean
        scale = abs(mean)
        flat = abs(diff) <= EPS_SCALED * scale or abs(dev) <= EPS_SCALED * scale
        return diff / (0.015 * dev) if not flat else 0.0


class WillRStream:
    """Williams %R, equal to :func:`engine.indicators.willr` (divided by
    ``range / -100`` as TA-Lib does, 0 for a window flat to 1e-14). Highest high and
    lowest low come from :class:`_SlidingExtreme`, which follows the 1-D form's two
    regimes, its NaN rule included."""

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period)
        self._hi = _SlidingExtreme(self.period, 1.0)
        self._lo = _SlidingExtreme(self.period, -1.0)
        self._started = False

    def update(self, high: float, low: float, close: float) -> float:
        h, lo, c = float(high), float(low), float(close)
        if not self._started:
            if h != h or lo != lo or c != c:
                return NAN
            self._started = True
        hh = self._hi.update(h)
        ll = self._lo.update(lo)
        if not self._hi.full:
            return NAN
        diff = (hh - ll) / (-100.0)
        flat = abs(hh - ll) <= EPS_SCALED * (abs(hh) + abs(ll))
        return (hh - c) / diff if not flat else 0.0
