"""Streams of the nine core indicators, and the shared EMA core (see the package
docstring)."""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators._common import sma_block
from engine.indicators._fma import fma
from engine.indicators.volatility import RECOMPUTE, moments_block, true_range

# scalar helpers of the kernels run as plain Python (numba keeps the source function as
# ``py_func``): one definition of the arithmetic for both forms, so they cannot drift apart
_true_range = true_range.py_func

__all__ = [
    "ATRStream", "BBandsStream", "EMAStream", "MACDStream", "OBVStream", "RSIStream",
    "SMAStream", "StdDevStream",
]

NAN = math.nan


class _EMA:
    """EMA core shared by EMAStream and MACDStream (SMA seed, then prev*k1 + x*k)."""

    __slots__ = ("k", "k1", "n", "period", "total", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self.k = 2.0 / (period + 1)
        self.k1 = 1.0 - self.k
        self.n = 0
        self.total = 0.0
        self.value = NAN

    def update(self, x: float) -> float:
        if self.n >= self.period:
            self.value = fma(self.value, self.k1, x * self.k)
            return self.value
        self.n += 1
        self.total += x
        if self.n == self.period:
            self.value = self.total / self.period
        return self.value


class SMAStream:
    """Simple moving average, equal to :func:`engine.indicators.sma`: the same running sum,
    restarted from an exact window sum at the same indices (every ``sma_block(period)``
    outputs) unless it is already NaN."""

    def __init__(self, period: int = 30) -> None:
        self.period = v.period(period)
        self._inv = 1.0 / self.period
        self._block = sma_block(self.period)
        self._win: deque[float] = deque()
        self._total = 0.0
        self._outs = 0
        self._started = False

    def update(self, x: float) -> float:
        x = float(x)
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        win = self._win
        win.append(x)
        if len(win) < self.period:
            return NAN
        if len(win) > self.period:
            old = win.popleft()
            if self._outs % self._block == 0 and self._total == self._total:
                total = 0.0
                for val in win:
                    total += val
                self._total = total
            else:
                self._total += x - old
        else:
            total = 0.0
            for val in win:
                total += val
            self._total = total
        self._outs += 1
        return self._total * self._inv


class EMAStream:
    """Exponential moving average, equal to :func:`engine.indicators.ema`."""

    def __init__(self, period: int = 30) -> None:
        self._ema = _EMA(v.period(period))
        self._started = False

    def update(self, x: float) -> float:
        x = float(x)
        if not self._started:
            if x != x:
                return NAN
            self._started = True
        return self._ema.update(x)


class RSIStream:
    """Wilder RSI, equal to :func:`engine.indicators.rsi`."""

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period)
        self._inv = 1.0 / self.period
        self._keep = (self.period - 1) * self._inv
        self._prev = NAN
        self._n = -1  # changes seen
        self._gain = 0.0
        self._loss = 0.0

    def update(self, x: float) -> float:
        x = float(x)
        if self._n < 0:
            if x != x:
                return NAN
            self._n = 0
            self._prev = x
            return NAN
        d = x - self._prev
        self._prev = x
        self._n += 1
        p = self.period
        if self._n < p:
            if d < 0.0:
                self._loss -= d
            else:
                self._gain += d
            return NAN
        if self._n == p:
            if d < 0.0:
                self._loss -= d
            else:
                self._gain += d
            self._gain = self._gain / p
            self._loss = self._loss / p
        else:
            up = 0.0 if d < 0.0 else d
            dn = -d if d < 0.0 else 0.0
            self._gain = fma(self._gain, self._keep, up * self._inv)
            self._loss = fma(self._loss, self._keep, dn * self._inv)
        s = self._gain + self._loss
        return 100.0 * (self._gain / s) if s > 0.0 else 0.0


class MACDStream:
    """MACD ``(macd, signal, hist)``, equal to :func:`engine.indicators.macd` (both EMAs
    start at ``slow - 1``; the fast one is seeded from the last ``fast`` values there)."""

    def __init__(self, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9) -> None:
        f = v.period(fastperiod, "fastperiod")
        s = v.period(slowperiod, "slowperiod")
        if s < f:
            f, s = s, f
        self.fast, self.slow, self.signal = f, s, v.period(signalperiod, "signalperiod")
        self._kf = 2.0 / (f + 1)
        self._ks = 2.0 / (s + 1)
        self._kg = 2.0 / (self.signal + 1)
        self._win: deque[float] = deque(maxlen=s)
        self._n = 0
        self._ef = self._es = self._sig = self._tg = 0.0
        self._started = False

    def update(self, x: float) -> tuple[float, float, float]:
        x = float(x)
        if not self._started:
            if x != x:
                return NAN, NAN, NAN
            self._started = True
        self._n += 1
        n, f, s, g = self._n, self.fast, self.slow, self.signal
        if n < s:
            self._win.append(x)
            return NAN, NAN, NAN
        if n == s:
            self._win.append(x)
            w = list(self._win)
            tf = 0.0
            for val in w[s - f:]:
                tf += val
            ts = 0.0
            for val in w:
                ts += val
            self._ef = tf / f
            self._es = ts / s
            self._tg = self._ef - self._es
        else:
            self._ef = fma(self._ef, 1.0 - self._kf, x * self._kf)
            self._es = fma(self._es, 1.0 - self._ks, x * self._ks)
            m = self._ef - self._es
            if n <= s + g - 1:
                self._tg += m
            else:
                self._sig = fma(self._sig, 1.0 - self._kg, m * self._kg)
                return m, self._sig, m - self._sig
        if n == s + g - 1:
            m = self._ef - self._es
            self._sig = self._tg / g
            return m, self._sig, m - self._sig
        return NAN, NAN, NAN


class _Moments:
    """Sliding (mean, M2) with the batch kernel's rules: exact recompute when the update
    magnitude grows past ``RECOMPUTE`` x M2, and at the start of every block of
    ``moments_block(period)`` outputs unless the sums are already NaN."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.inv = 1.0 / period
        self.block = moments_block(period)
        self.win: deque[float] = deque()
        self.mean = 0.0
        self.m2 = 0.0
        self.err = 0.0
        self.outs = 0
        self.started = False

    def _exact(self) -> None:
        total = 0.0
        for val in self.win:
            total += val
        mean = total / self.period
        m2 = 0.0
        for val in self.win:
            d = val - mean
            m2 += d * d
        self.mean, self.m2 = mean, m2

    def update(self, x: float) -> float:
        """Return the variance (NaN during warm-up)."""
        if not self.started:
            if x != x:
                return NAN
            self.started = True
        win = self.win
        win.append(x)
        if len(win) < self.period:
            return NAN
        if len(win) == self.period:
            self._exact()
        else:
            b = win.popleft()
            if self.outs % self.block == 0 and self.m2 == self.m2 and self.mean == self.mean:
                self._exact()
                self.err = 0.0
            else:
                d = x - b
                nm = self.mean + d * self.inv
                t = d * ((x - nm) + (b - self.mean))
                self.m2 += t
                self.mean = nm
                self.err += abs(t)
                if self.err > RECOMPUTE * self.m2:
                    self._exact()
                    self.err = 0.0
        self.outs += 1
        return self.m2 * self.inv


def _sd(var: float) -> float:
    return math.sqrt(var) if var > 0.0 else (0.0 if var <= 0.0 else var)


class StdDevStream:
    """Rolling population standard deviation, equal to :func:`engine.indicators.stddev`."""

    def __init__(self, period: int = 5, nbdev: float = 1.0) -> None:
        self._m = _Moments(v.period(period))
        self.nbdev = v.number(nbdev, "nbdev")

    def update(self, x: float) -> float:
        var = self._m.update(float(x))
        return var if var != var and len(self._m.win) < self._m.period else _sd(var) * self.nbdev


class BBandsStream:
    """Bollinger Bands ``(upper, middle, lower)``, equal to :func:`engine.indicators.bbands`."""

    def __init__(self, period: int = 5, nbdevup: float = 2.0, nbdevdn: float = 2.0) -> None:
        self._m = _Moments(v.period(period))
        self.up = v.number(nbdevup, "nbdevup")
        self.dn = v.number(nbdevdn, "nbdevdn")

    def update(self, x: float) -> tuple[float, float, float]:
        var = self._m.update(float(x))
        if len(self._m.win) < self._m.period:
            return NAN, NAN, NAN
        sd = _sd(var)
        mean = self._m.mean
        return mean + sd * self.up, mean, mean - sd * self.dn


class ATRStream:
    """Wilder ATR, equal to :func:`engine.indicators.atr`."""

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period)
        self._inv = 1.0 / self.period
        self._keep = (self.period - 1) * self._inv
        self._pc = NAN
        self._n = -1
        self._total = 0.0
        self._atr = NAN

    def update(self, high: float, low: float, close: float) -> float:
        h, lo, c = float(high), float(low), float(close)
        if self._n < 0:
            if h != h or lo != lo or c != c:
                return NAN
            self._n = 0
            self._pc = c
            return NAN
        tr = _true_range(h, lo, self._pc)
        self._pc = c
        self._n += 1
        if self._n < self.period:
            self._total += tr
            return NAN
        if self._n == self.period:
            self._total += tr
            self._atr = self._total / self.period
        else:
            self._atr = fma(self._atr, self._keep, tr * self._inv)
        return self._atr


class OBVStream:
    """On-Balance Volume, equal to :func:`engine.indicators.obv`."""

    def __init__(self) -> None:
        self._acc = NAN
        self._prev = NAN
        self._started = False

    def update(self, close: float, volume: float) -> float:
        c, vol = float(close), float(volume)
        if not self._started:
            if c != c or vol != vol:
                return NAN
            self._started = True
            self._acc = vol
            self._prev = c
        sign = float(c > self._prev) - float(c < self._prev)
        if sign != 0.0:
            self._acc += vol * sign
        self._prev = c
        return self._acc


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

    @property
    def full(self) -> bool:
        """Whether a whole window has been seen (the value is defined)."""
        return self._i >= self.period - 1

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
