"""Streams of the volume family (AD, ADOSC, CMF, MFI, VWAP, session VWAP); OBV lives in
:mod:`engine.indicators.streaming.core`."""

from __future__ import annotations

import math
from collections import deque

from engine.indicators import _validate as v
from engine.indicators._common import EPS_SCALED
from engine.indicators._fma import fma
from engine.indicators.volume import _clv_volume as _clv_kernel

__all__ = [
    "ADOSCStream", "ADStream", "CMFStream", "MFIStream", "VWAPSessionStream", "VWAPStream",
]

NAN = math.nan
_clv_volume = _clv_kernel.py_func  # the kernel's own expression, run as Python


def _div(a: float, b: float) -> float:
    """``a / b`` as the kernels' ``error_model="numpy"`` divides: IEEE, so a window whose
    volume sums to zero gives NaN (or a signed infinity) instead of raising."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return NAN
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _floats(high: float, low: float, close: float, volume: float) -> tuple[float, ...]:
    return float(high), float(low), float(close), float(volume)


def _complete(h: float, lo: float, c: float, vol: float) -> bool:
    """The 1-D kernels start at the first candle where all four inputs are numbers."""
    return h == h and lo == lo and c == c and vol == vol


class ADStream:
    """Chaikin accumulation/distribution line, equal to :func:`engine.indicators.ad`."""

    def __init__(self) -> None:
        self._acc = 0.0
        self._started = False

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        h, lo, c, vol = _floats(high, low, close, volume)
        if not self._started:
            if not _complete(h, lo, c, vol):
                return NAN
            self._started = True
        self._acc += _clv_volume(h, lo, c, vol)
        return self._acc


class ADOSCStream:
    """Chaikin A/D oscillator, equal to :func:`engine.indicators.adosc`: both EMAs seeded
    with the first AD value and advanced by the kernel's FMA from the next candle on, so
    the warm-up candles feed them exactly as in the kernel."""

    def __init__(self, fastperiod: int = 3, slowperiod: int = 10) -> None:
        self.fastperiod = v.period(fastperiod, "fastperiod")
        self.slowperiod = v.period(slowperiod, "slowperiod")
        self._kf = 2.0 / (self.fastperiod + 1)
        self._ks = 2.0 / (self.slowperiod + 1)
        self._kf1 = 1.0 - self._kf
        self._ks1 = 1.0 - self._ks
        self._lag = max(self.fastperiod, self.slowperiod) - 1
        self._i = -1
        self._acc = self._ef = self._es = 0.0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        h, lo, c, vol = _floats(high, low, close, volume)
        if self._i < 0:
            if not _complete(h, lo, c, vol):
                return NAN
            self._i = 0
            self._acc = self._ef = self._es = _clv_volume(h, lo, c, vol)
            return 0.0 if self._lag == 0 else NAN
        self._i += 1
        acc = self._acc = self._acc + _clv_volume(h, lo, c, vol)
        self._ef = fma(self._ef, self._kf1, self._kf * acc)
        self._es = fma(self._es, self._ks1, self._ks * acc)
        return self._ef - self._es if self._i >= self._lag else NAN


class CMFStream:
    """Chaikin money flow, equal to :func:`engine.indicators.cmf`: the kernel's two
    running sums, added to, read, then reduced by the candle leaving the window, in that
    order and without restarts (so a NaN stays in them for good, as there)."""

    def __init__(self, period: int = 20) -> None:
        self.period = v.period(period)
        self._win: deque[tuple[float, float]] = deque()
        self._sm = 0.0
        self._sv = 0.0
        self._started = False

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        h, lo, c, vol = _floats(high, low, close, volume)
        if not self._started:
            if not _complete(h, lo, c, vol):
                return NAN
            self._started = True
        m = _clv_volume(h, lo, c, vol)
        self._sm += m
        self._sv += vol
        win = self._win
        win.append((m, vol))
        if len(win) < self.period:
            return NAN
        sv = self._sv
        out = self._sm / sv if sv > 0.0 else 0.0
        om, ov = win.popleft()
        self._sm -= om
        self._sv -= ov
        return out


class MFIStream:
    """Money flow index, equal to :func:`engine.indicators.mfi`: the kernel's ring of
    per-slot flows and running sums, TA-Lib 0.8's scaled "no move" test, the exact-0
    restart of the sums when no slot in the window moved, and the [0, 100] clamp."""

    def __init__(self, period: int = 14) -> None:
        self.period = v.period(period)
        p = self.period
        self._pos = [0.0] * p
        self._neg = [0.0] * p
        self._moved = [False] * p
        self._nmoved = 0
        self._spos = 0.0
        self._sneg = 0.0
        self._prev = NAN
        self._idx = 0
        self._i = -1  # candles since the first complete one

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        h, lo, c, vol = _floats(high, low, close, volume)
        if self._i < 0:
            if not _complete(h, lo, c, vol):
                return NAN
            self._i = 0
            self._prev = (h + lo + c) / 3.0
            return NAN
        self._i += 1
        p = self.period
        idx = self._idx
        if self._i > p:
            self._spos -= self._pos[idx]
            self._sneg -= self._neg[idx]
            self._nmoved -= self._moved[idx]
        tp = (h + lo + c) / 3.0
        d = tp - self._prev
        flat = abs(d) <= EPS_SCALED * (abs(tp) + abs(self._prev))
        self._prev = tp
        mf = tp * vol
        down = (not flat) and d < 0.0
        up = (not flat) and not (d < 0.0)
        pv = mf if up else 0.0
        nv = mf if down else 0.0
        self._pos[idx] = pv
        self._neg[idx] = nv
        self._spos += pv
        self._sneg += nv
        self._moved[idx] = not flat
        self._nmoved += not flat
        self._idx = 0 if idx + 1 == p else idx + 1
        if self._i < p:
            return NAN
        if self._nmoved == 0:
            self._spos = 0.0
            self._sneg = 0.0
            return 0.0
        s = self._spos + self._sneg
        if s <= 0.0:
            return 0.0
        r = 100.0 * (self._spos / s)
        return 100.0 if r > 100.0 else (0.0 if r < 0.0 else r)


class _CumVWAP:
    """The kernel's cumulative VWAP state (``period == 0``): non-finite candles skipped,
    the last value carried while nothing has traded, 0 before the first volume."""

    __slots__ = ("spv", "sv", "value")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.spv = 0.0
        self.sv = 0.0
        self.value = 0.0

    def update(self, h: float, lo: float, c: float, vol: float) -> float:
        tp = (h + lo + c) / 3.0
        if math.isfinite(tp) and math.isfinite(vol):
            self.spv += tp * vol
            self.sv += vol
        if self.sv > 0.0:
            self.value = self.spv / self.sv
        return self.value


class VWAPStream:
    """VWAP of the typical price, equal to :func:`engine.indicators.vwap`:
    cumulative from the first complete candle (``period=None``), or rolling over
    ``period`` candles with the kernel's running sums (added to, read, reduced by the
    candle leaving, no restarts) and its ``tpv / period / (tv / period)`` division."""

    def __init__(self, period: int | None = None) -> None:
        self.period = 0 if period is None else v.period(period)
        self._cum = _CumVWAP()
        self._win: deque[tuple[float, float]] = deque()
        self._spv = 0.0
        self._sv = 0.0
        self._started = False

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        h, lo, c, vol = _floats(high, low, close, volume)
        if not self._started:
            if not _complete(h, lo, c, vol):
                return NAN
            self._started = True
        p = self.period
        if p == 0:
            return self._cum.update(h, lo, c, vol)
        if p == 1:
            return (h + lo + c) / 3.0
        t = (h + lo + c) / 3.0 * vol
        self._spv += t
        self._sv += vol
        win = self._win
        win.append((t, vol))
        if len(win) < p:
            return NAN
        tpv, tv = self._spv, self._sv
        ot, ov = win.popleft()
        self._spv -= ot
        self._sv -= ov
        return _div(tpv / p, tv / p)


class VWAPSessionStream:
    """Session VWAP, equal to :func:`engine.indicators.vwap_session`: cumulative,
    restarting whenever a candle's session key differs from the previous candle's.

    ``update`` takes the candle's timestamp (UTC ms, an int as the 1-D function converts
    it) last. The key is ``(ts - shift) // session_ms`` with Python ints, which equals the
    1-D function's int64 arithmetic for any timestamp that fits an int64 without
    overflow."""

    def __init__(self, session_ms: int = 86_400_000, offset_ms: int = 0,
                 stamp: str = "close") -> None:
        self.session_ms = v.period(session_ms, "session_ms")
        if stamp not in ("close", "open"):
            raise ValueError(f'stamp must be "close" or "open", got {stamp!r}')
        self.offset_ms = int(offset_ms)
        self.stamp = stamp
        self._shift = self.offset_ms + (1 if stamp == "close" else 0)
        self._cum = _CumVWAP()
        self._key: int | None = None

    def update(self, high: float, low: float, close: float, volume: float,
               timestamp: int) -> float:
        h, lo, c, vol = _floats(high, low, close, volume)
        key = (int(timestamp) - self._shift) // self.session_ms
        if self._key is None:
            if not _complete(h, lo, c, vol):
                return NAN
        elif key != self._key:
            self._cum.reset()
        self._key = key
        return self._cum.update(h, lo, c, vol)
