"""Streams of the oscillator family (:mod:`engine.indicators.oscillators`): STOCHF, TRIX,
STOCH, PPO, ULTOSC and the DMI group (ADX, DX, +DI, -DI, DMI).

Each class repeats its kernel's arithmetic in the kernel's order (same seeds, same FMAs,
same restart schedules) so that it returns exactly the 1-D value at every candle; the
notes on each class say where that needed care.
"""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators._common import EPS_SCALED
from engine.indicators._fma import fma
from engine.indicators.oscillators import MA_TYPES
from engine.indicators.streaming.core import _EMA, SMAStream, _true_range
from engine.indicators.streaming.trend import _WMA

__all__ = [
    "ADXStream", "DMIStream", "DXStream", "MinusDIStream", "PPOStream", "PlusDIStream",
    "StochFStream", "StochStream", "TRIXStream", "UltOscStream",
]

NAN = math.nan


class _Tracker:
    """TA-Lib's rescanning highest-high (``sgn`` 1) or lowest-low (``sgn`` -1) tracker,
    as :func:`engine.indicators.oscillators._track_chunk` runs it, in amortised O(1).

    On numbers the tracker is just the window extreme, but with a NaN in the window its
    answer depends on its state: a rescan that starts on a NaN gives NaN (and rescans again
    next candle), otherwise NaN values are skipped. When a rescan happens depends on the
    tracked index, which is the *earliest* extreme after a rescan and the *latest* after an
    in-place update. So the tracker's own index and value are kept, and only the rescan is
    replaced: a monotonic deque of the window's numbers that keeps ties (its front is the
    earliest extreme, what the rescan finds) and a ring of the window for the NaN test."""

    __slots__ = ("dq", "idx", "period", "ring", "sgn", "val")

    def __init__(self, period: int, sgn: float) -> None:
        self.period = period
        self.sgn = sgn
        self.dq: deque[tuple[int, float]] = deque()
        self.ring: deque[float] = deque(maxlen=period)
        self.idx = -1
        self.val = 0.0

    def push(self, i: int, x: float) -> None:
        """Add candle ``i`` (called for every candle from the first valid one)."""
        self.ring.append(x)
        if x == x:
            s = self.sgn * x
            dq = self.dq
            while dq and self.sgn * dq[-1][1] < s:
                dq.pop()
            dq.append((i, x))

    def extreme(self, i: int) -> float:
        """The tracker's value for the window ending at candle ``i`` (``i >= period - 1``)."""
        trailing = i - self.period + 1
        dq = self.dq
        while dq and dq[0][0] < trailing:
            dq.popleft()
        if self.idx < trailing:
            first = self.ring[0]
            if first != first:
                self.idx, self.val = trailing, first
            else:
                self.idx, self.val = dq[0]
        else:
            x = self.ring[-1]
            if self.sgn * x >= self.sgn * self.val:  # False for NaN, as in the kernel
                self.idx, self.val = i, x
        return self.val


def _fast_k(hi: float, low: float, c: float) -> float:
    """The kernel's raw %K: 0 when the range is flat (relative to the prices), not a
    division by zero."""
    if abs(hi - low) <= EPS_SCALED * (abs(hi) + abs(low)):
        return 0.0
    return (c - low) / ((hi - low) / 100.0)


class _Ring:
    """The kernel's SMA of a short ring (STOCH's %D): re-summed in ring order when the
    period is at most 16 (a NaN remembered in ``poison``, as the re-sum would forget it),
    a running sum otherwise (which keeps a NaN for good by itself)."""

    __slots__ = ("direct", "inv", "poison", "pos", "ring", "total")

    def __init__(self, period: int) -> None:
        self.ring = [0.0] * period
        self.pos = 0
        self.inv = 1.0 / period
        self.direct = period <= 16
        self.total = 0.0
        self.poison = 0.0

    def update(self, x: float) -> float:
        ring = self.ring
        old = ring[self.pos]
        ring[self.pos] = x
        self.pos += 1
        if self.pos == len(ring):
            self.pos = 0
        if self.direct:
            s = 0.0
            for val in ring:
                s += val
            self.total = s
            self.poison += x - x
        else:
            self.total += x - old
        return self.total * self.inv + self.poison


class StochStream:
    """Slow stochastic ``(slowk, slowd)``, equal to :func:`engine.indicators.stoch`: the
    fast %K of :class:`StochFStream` (TA-Lib's tracker, so a NaN in high or low alone
    does here what it does in the 1-D kernel), then the kernel's two short-ring SMAs."""

    def __init__(self, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3) -> None:
        self.fk = v.period(fastk_period, "fastk_period")
        self.sk = v.period(slowk_period, "slowk_period")
        self.sd = v.period(slowd_period, "slowd_period")
        self._hi = _Tracker(self.fk, 1.0)
        self._lo = _Tracker(self.fk, -1.0)
        self._k = _Ring(self.sk) if self.sk > 1 else None
        self._d = _Ring(self.sd)
        self._i = -1

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        h, lo, c = float(high), float(low), float(close)
        if self._i < 0 and (h != h or lo != lo or c != c):
            return NAN, NAN
        self._i += 1
        i = self._i
        self._hi.push(i, h)
        self._lo.push(i, lo)
        if i < self.fk - 1:
            return NAN, NAN
        ks = _fast_k(self._hi.extreme(i), self._lo.extreme(i), c)
        if self._k is not None:
            ks = self._k.update(ks)
            if i < self.fk + self.sk - 2:
                return NAN, NAN
        d = self._d.update(ks)
        if i < self.fk + self.sk + self.sd - 3:
            return NAN, NAN
        return ks, d


class StochFStream:
    """Fast stochastic ``(fastk, fastd)``, equal to :func:`engine.indicators.stochf`.

    The 1-D kernel answers with TA-Lib's rescanning tracker whenever the input holds a NaN
    (a sparse-table maximum otherwise, which agrees with the tracker on numbers), so the
    stream follows the tracker (:class:`_Tracker`) and is exact with gaps in the feed too."""

    def __init__(self, fastk_period: int = 5, fastd_period: int = 3) -> None:
        self.fk = v.period(fastk_period, "fastk_period")
        self.fd = v.period(fastd_period, "fastd_period")
        self._hi = _Tracker(self.fk, 1.0)
        self._lo = _Tracker(self.fk, -1.0)
        self._d = _Ring(self.fd)
        self._i = -1

    def update(self, high: float, low: float, close: float) -> tuple[float, float]:
        h, lo, c = float(high), float(low), float(close)
        if self._i < 0 and (h != h or lo != lo or c != c):
            return NAN, NAN
        self._i += 1
        i = self._i
        self._hi.push(i, h)
        self._lo.push(i, lo)
        if i < self.fk - 1:
            return NAN, NAN
        kf = _fast_k(self._hi.extreme(i), self._lo.extreme(i), c)
        d = self._d.update(kf)
        if i < self.fk + self.fd - 2:
            return NAN, NAN
        return kf, d


class TRIXStream:
    """TRIX, equal to :func:`engine.indicators.trix`: three chained EMA cores, each stage
    seeded (as in the kernel's single pass) with the mean of the first ``period`` values of
    the stage before, then the 1-candle rate of change of the third in percent."""

    def __init__(self, period: int = 30) -> None:
        self.period = v.period(period)
        self._e1 = _EMA(self.period)
        self._e2 = _EMA(self.period)
        self._e3 = _EMA(self.period)
        self._n = 0
        self._prev = NAN
        self._started = False

    def update(self, close: float) -> float:
        x = float(close)
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        self._n += 1
        p = self.period
        e1 = self._e1.update(x)
        if self._n < p:
            return NAN
        e2 = self._e2.update(e1)
        if self._n < 2 * p - 1:
            return NAN
        prev = self._prev
        e3 = self._e3.update(e2)
        self._prev = e3
        if self._n <= 3 * p - 2:
            return NAN
        return ((e3 / prev) - 1.0) * 100.0 if prev != 0.0 else 0.0


class _Avg:
    """One of PPO's moving averages (matype 0 SMA, 1 EMA, 2 WMA), fed from the first valid
    close."""

    __slots__ = ("ma",)

    def __init__(self, period: int, matype: int) -> None:
        self.ma: SMAStream | _EMA | _WMA
        if matype == 0:
            self.ma = SMAStream(period)
        elif matype == 1:
            self.ma = _EMA(period)
        else:
            self.ma = _WMA(period)

    def update(self, x: float) -> float:
        return self.ma.update(x)


class PPOStream:
    """Percentage price oscillator, equal to :func:`engine.indicators.ppo`: both averages
    start at the first valid close on their own (unlike MACD's), the shorter period is the
    fast one whatever the argument order."""

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> None:
        if matype not in MA_TYPES:
            raise ValueError(
                f"matype must be one of {MA_TYPES} (TA-Lib numbering), got {matype!r}"
            )
        f = v.period(fastperiod, "fastperiod")
        s = v.period(slowperiod, "slowperiod")
        if s < f:
            f, s = s, f
        self.fast, self.slow, self.matype = f, s, int(matype)
        self._f = _Avg(f, self.matype)
        self._s = _Avg(s, self.matype)
        self._n = 0

    def update(self, close: float) -> float:
        x = float(close)
        if self._n == 0 and x != x:
            return NAN
        self._n += 1
        fv = self._f.update(x)
        s = self._s.update(x)
        if self._n < self.slow:
            return NAN
        return ((fv - s) / s) * 100.0 if s != 0.0 else 0.0


class UltOscStream:
    """Ultimate oscillator, equal to :func:`engine.indicators.ultosc`.

    The kernel keeps each candle's buying pressure and true range in a ring of the longest
    period and runs six sums in TA-Lib's order: seeded oldest first from the ``period - 1``
    candles before the first output, then add the new candle, read, subtract the window's
    oldest. The stream keeps the same ring and the same order (a different summation order
    would round differently)."""

    def __init__(self, timeperiod1: int = 7, timeperiod2: int = 14, timeperiod3: int = 28) -> None:
        p1 = v.period(timeperiod1, "timeperiod1")
        p2 = v.period(timeperiod2, "timeperiod2")
        p3 = v.period(timeperiod3, "timeperiod3")
        p1, p2, p3 = sorted((p1, p2, p3))
        self.periods = (p1, p2, p3)
        self._ra = [0.0] * p3
        self._rb = [0.0] * p3
        self._pos = 0
        self._n = -1  # candles after the first valid one
        self._pc = NAN
        self._a = [0.0, 0.0, 0.0]
        self._b = [0.0, 0.0, 0.0]

    def update(self, high: float, low: float, close: float) -> float:
        h, lo, c = float(high), float(low), float(close)
        if self._n < 0:
            if h != h or lo != lo or c != c:
                return NAN
            self._n = 0
            self._pc = c
            return NAN
        pc = self._pc
        self._pc = c
        true_low = lo if lo < pc else pc
        bp = c - true_low
        tr = _true_range(h, lo, pc)
        self._n += 1
        p1, p2, p3 = self.periods
        ra, rb = self._ra, self._rb
        if self._n < p3:
            ra[self._n - 1] = bp
            rb[self._n - 1] = tr
            return NAN
        a, b = self._a, self._b
        if self._n == p3:  # the seed sums, oldest first, as the kernel forms them
            for w, p in enumerate(self.periods):
                sa = 0.0
                sb = 0.0
                for q in range(p3 - p, p3 - 1):
                    sa += ra[q]
                    sb += rb[q]
                a[w] = sa
                b[w] = sb
            self._pos = p3 - 1
        pos = self._pos
        ra[pos] = bp
        rb[pos] = tr
        a1 = a[0] + bp
        a2 = a[1] + bp
        a3 = a[2] + bp
        b1 = b[0] + tr
        b2 = b[1] + tr
        b3 = b[2] + tr
        o = 0.0
        if b1 > 0.0:
            o += 4.0 * (a1 / b1)
        if b2 > 0.0:
            o += 2.0 * (a2 / b2)
        if b3 > 0.0:
            o += a3 / b3
        r = pos - p1 + 1
        r = r + p3 if r < 0 else r
        a[0] = a1 - ra[r]
        b[0] = b1 - rb[r]
        r = pos - p2 + 1
        r = r + p3 if r < 0 else r
        a[1] = a2 - ra[r]
        b[1] = b2 - rb[r]
        r = pos - p3 + 1
        r = r + p3 if r < 0 else r
        a[2] = a3 - ra[r]
        b[2] = b3 - rb[r]
        self._pos = pos + 1 if pos + 1 < p3 else 0
        return 100.0 * (o / 7.0)


class _DMI:
    """Wilder's directional movement, step for step as
    :func:`engine.indicators.oscillators._dmi` runs it: plain sums of the first
    ``period - 1`` moves, then ``fma(s, 1 - 1/n, x)`` (the kernel's ``keep`` is
    ``1 - 1/n``, not RSI's ``(n - 1)/n``: they round differently); DX and ADX hold their
    last value while +DI + -DI is not positive. One core behind the five DMI streams."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.inv = 1.0 / period
        self.keep = 1.0 - self.inv
        self.n = -1  # candles after the first valid one
        self.ph = self.pl = self.pc = NAN
        self.sp = self.sm = self.st = 0.0
        self.sum_dx = 0.0
        self.adx = 0.0
        self.last_dx = 0.0

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float, float]:
        """``(+DI, -DI, DX, ADX)`` of this candle, NaN during each one's warm-up."""
        h, lo, c = float(high), float(low), float(close)
        if self.n < 0:
            if h != h or lo != lo or c != c:
                return NAN, NAN, NAN, NAN
            self.n = 0
            self.ph, self.pl, self.pc = h, lo, c
            return NAN, NAN, NAN, NAN
        self.n += 1
        p = self.period
        up = h - self.ph
        dn = self.pl - lo
        self.ph = h
        self.pl = lo
        pdm = up if (up > 0.0 and up > dn) else 0.0
        mdm = dn if (dn > 0.0 and dn > up) else 0.0
        tr = _true_range(h, lo, self.pc)
        self.pc = c
        if self.n < p:
            self.sp += pdm
            self.sm += mdm
            self.st += tr
            return NAN, NAN, NAN, NAN
        self.sp = fma(self.sp, self.keep, pdm)
        self.sm = fma(self.sm, self.keep, mdm)
        self.st = fma(self.st, self.keep, tr)
        defined = False
        pdi = 0.0
        mdi = 0.0
        dx = self.last_dx
        if self.st > 0.0:
            pdi = 100.0 * (self.sp / self.st)
            mdi = 100.0 * (self.sm / self.st)
            tot = pdi + mdi
            if tot > 0.0:
                dx = 100.0 * (abs(mdi - pdi) / tot)
                self.last_dx = dx
                defined = True
        if self.n < 2 * p - 1:
            if defined:
                self.sum_dx += dx
            return pdi, mdi, dx, NAN
        if self.n == 2 * p - 1:
            self.adx = (self.sum_dx + dx) / p if defined else self.sum_dx / p
        elif defined:
            self.adx = fma(self.adx, self.keep, dx * self.inv)
        return pdi, mdi, dx, self.adx


class ADXStream:
    """Average directional index, equal to :func:`engine.indicators.adx`."""

    def __init__(self, period: int = 14) -> None:
        self._d = _DMI(v.period(period))

    def update(self, high: float, low: float, close: float) -> float:
        return self._d.update(high, low, close)[3]


class PlusDIStream:
    """+DI, equal to :func:`engine.indicators.plus_di`."""

    def __init__(self, period: int = 14) -> None:
        self._d = _DMI(v.period(period))

    def update(self, high: float, low: float, close: float) -> float:
        return self._d.update(high, low, close)[0]


class MinusDIStream:
    """-DI, equal to :func:`engine.indicators.minus_di`."""

    def __init__(self, period: int = 14) -> None:
        self._d = _DMI(v.period(period))

    def update(self, high: float, low: float, close: float) -> float:
        return self._d.update(high, low, close)[1]


class DXStream:
    """Directional movement index, equal to :func:`engine.indicators.dx`."""

    def __init__(self, period: int = 14) -> None:
        self._d = _DMI(v.period(period))

    def update(self, high: float, low: float, close: float) -> float:
        return self._d.update(high, low, close)[2]


class DMIStream:
    """``(plus_di, minus_di, adx)``, equal to :func:`engine.indicators.dmi`: one state for
    the three lines, as the 1-D function computes them in one pass."""

    def __init__(self, period: int = 14) -> None:
        self._d = _DMI(v.period(period))

    def update(self, high: float, low: float, close: float) -> tuple[float, float, float]:
        pdi, mdi, _dx, adx = self._d.update(high, low, close)
        return pdi, mdi, adx
