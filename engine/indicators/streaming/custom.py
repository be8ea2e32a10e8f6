"""Streams of the custom family (Supertrend, Parabolic SAR, Ichimoku), each equal bit for
bit to its 1-D function in :mod:`engine.indicators.custom` at every candle (see the
package docstring)."""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators.streaming.core import ATRStream, _SlidingExtreme

__all__ = ["IchimokuStream", "SARStream", "SupertrendStream"]

NAN = math.nan


class SupertrendStream:
    """Supertrend ``(line, direction)``, equal to :func:`engine.indicators.supertrend`.

    The ATR is :class:`ATRStream` (the kernel's own ``atr_into`` arithmetic), and the band
    update repeats the kernel's comparisons in its order, so a NaN candle after the start
    poisons the ATR and leaves the bands exactly as the 1-D result does. ``direction`` is
    an int, 0 during warm-up, as the 1-D int32 output."""

    def __init__(self, period: int = 10, multiplier: float = 3.0) -> None:
        self.period = v.period(period)
        self.multiplier = v.number(multiplier, "multiplier")
        self._atr = ATRStream(self.period)
        self._k = -1  # candles since the first complete one (the kernel's ``i - start``)
        self._pc = NAN
        self._upper = NAN
        self._lower = NAN
        self._d = 0

    def update(self, high: float, low: float, close: float) -> tuple[float, int]:
        h, lo, c = float(high), float(low), float(close)
        atr = self._atr.update(h, lo, c)
        if self._k < 0 and (h != h or lo != lo or c != c):
            return NAN, 0
        self._k += 1
        if self._k < self.period:
            self._pc = c
            return NAN, 0
        hl2 = (h + lo) / 2.0
        band = self.multiplier * atr
        if self._k == self.period:
            self._upper = hl2 + band
            self._lower = hl2 - band
            self._d = 1
        else:
            bu = hl2 + band
            bl = hl2 - band
            pc = self._pc
            if bu < self._upper or pc > self._upper:
                self._upper = bu
            if bl > self._lower or pc < self._lower:
                self._lower = bl
            if self._d == 1 and c < self._lower:
                self._d = -1
            elif self._d == -1 and c > self._upper:
                self._d = 1
        self._pc = c
        return (self._lower if self._d == 1 else self._upper), self._d


class SARStream:
    """Parabolic SAR, equal to :func:`engine.indicators.sar`: the first complete candle
    only seeds, the second picks the direction, and every candle from there runs the
    kernel's loop body with the same state (SAR, extreme point, acceleration, previous
    candle's range)."""

    def __init__(self, acceleration: float = 0.02, maximum: float = 0.2) -> None:
        acc = v.number(acceleration, "acceleration")
        mx = v.number(maximum, "maximum")
        if acc < 0.0 or mx < 0.0:
            raise ValueError(f"acceleration and maximum must be >= 0, got {acc} and {mx}")
        self.acceleration = acc
        self.maximum = mx
        self._accel = mx if acc > mx else acc
        self._n = -1  # complete candles seen, minus one
        self._is_long = True
        self._af = self._accel
        self._ep = NAN
        self._sar = NAN
        self._new_high = NAN
        self._new_low = NAN

    def update(self, high: float, low: float) -> float:
        h, lo = float(high), float(low)
        if self._n < 0:
            if h != h or lo != lo:
                return NAN
            self._n = 0
            self._new_high = h
            self._new_low = lo
            return NAN
        if self._n == 0:
            self._n = 1
            up = h - self._new_high
            down = self._new_low - lo
            self._is_long = not (down > 0.0 and down > up)
            if self._is_long:
                self._ep = h
                self._sar = self._new_low
            else:
                self._ep = lo
                self._sar = self._new_high
            self._new_low = lo
            self._new_high = h
        accel, mx = self._accel, self.maximum
        prev_low = self._new_low
        prev_high = self._new_high
        new_low = lo
        new_high = h
        self._new_low = new_low
        self._new_high = new_high
        sar, ep, af = self._sar, self._ep, self._af
        if self._is_long:
            if new_low <= sar:  # switch to short
                self._is_long = False
                sar = ep
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
                out = sar
                af = accel
                ep = new_low
                sar = sar + af * (ep - sar)
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
            else:
                out = sar
                if new_high > ep:
                    ep = new_high
                    af += accel
                    if af > mx:
                        af = mx
                sar = sar + af * (ep - sar)
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
        elif new_high >= sar:  # switch to long
            self._is_long = True
            sar = ep
            if sar > prev_low:
                sar = prev_low
            if sar > new_low:
                sar = new_low
            out = sar
            af = accel
            ep = new_high
            sar = sar + af * (ep - sar)
            if sar > prev_low:
                sar = prev_low
            if sar > new_low:
                sar = new_low
        else:
            out = sar
            if new_low < ep:
                ep = new_low
                af += accel
                if af > mx:
                    af = mx
            sar = sar + af * (ep - sar)
            if sar < prev_high:
                sar = prev_high
            if sar < new_high:
                sar = new_high
        self._sar, self._ep, self._af = sar, ep, af
        return out


class _Midline:
    """``(highest high + lowest low) * 0.5`` over ``period`` candles, as ``_midline``."""

    __slots__ = ("hi", "lo")

    def __init__(self, period: int) -> None:
        self.hi = _SlidingExtreme(period, 1.0)
        self.lo = _SlidingExtreme(period, -1.0)

    def update(self, h: float, lo: float) -> float:
        return (self.hi.update(h) + self.lo.update(lo)) * 0.5


class IchimokuStream:
    """Ichimoku ``(tenkan, kijun, senkou_a, senkou_b)``, equal to
    :func:`engine.indicators.ichimoku`. The cloud is the lines of ``displacement`` candles
    ago (leading NaN candles count, as they do in the 1-D index), kept in a ring of
    ``displacement + 1`` entries."""

    def __init__(
        self, tenkan: int = 9, kijun: int = 26, senkou: int = 52, displacement: int = 26,
    ) -> None:
        self.tenkan = v.period(tenkan, "tenkan")
        self.kijun = v.period(kijun, "kijun")
        self.senkou = v.period(senkou, "senkou")
        self.displacement = v.period(displacement, "displacement", minimum=0)
        self._t = _Midline(self.tenkan)
        self._k = _Midline(self.kijun)
        self._s = _Midline(self.senkou)
        self._past: deque[tuple[float, float, float]] = deque(maxlen=self.displacement + 1)
        self._started = False

    def update(self, high: float, low: float) -> tuple[float, float, float, float]:
        h, lo = float(high), float(low)
        if not self._started and (h != h or lo != lo):
            t = k = s = NAN
        else:
            self._started = True
            t = self._t.update(h, lo)
            k = self._k.update(h, lo)
            s = self._s.update(h, lo)
        past = self._past
        past.append((t, k, s))
        if len(past) <= self.displacement:
            return t, k, NAN, NAN
        pt, pk, ps = past[0]
        return t, k, (pt + pk) * 0.5, ps
