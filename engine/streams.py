"""Streaming indicators behind one factory.

`make_stream("ema", 12)` returns an object with `update(x) -> float` (NaN while
warming up). The factory prefers the indicator library's streaming classes
(`engine.indicators.EMAStream`, ...) when they exist and falls back to the small
exact implementations here, so switching is automatic once that branch is merged.
Values match the batch kernels (TA-Lib seeding: SMA of the first `period` values).
"""

from __future__ import annotations

import math
from typing import Any, Protocol


class Stream(Protocol):
    def update(self, x: float) -> float: ...


class _EMA:
    def __init__(self, period: int) -> None:
        self.period, self.k = period, 2.0 / (period + 1)
        self.n, self.acc, self.value = 0, 0.0, math.nan

    def update(self, x: float) -> float:
        self.n += 1
        if self.n < self.period:
            self.acc += x
            return math.nan
        if self.n == self.period:
            self.value = (self.acc + x) / self.period
        else:
            self.value += self.k * (x - self.value)
        return self.value


class _RSI:
    """Wilder RSI, TA-Lib seeding (simple mean of the first `period` changes)."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.prev = math.nan
        self.n = 0
        self.gain = self.loss = 0.0

    def update(self, x: float) -> float:
        if math.isnan(self.prev):
            self.prev = x
            return math.nan
        d = x - self.prev
        self.prev = x
        self.n += 1
        g, lo = max(d, 0.0), max(-d, 0.0)
        p = self.period
        if self.n < p:
            self.gain += g
            self.loss += lo
            return math.nan
        if self.n == p:
            self.gain = (self.gain + g) / p
            self.loss = (self.loss + lo) / p
        else:
            self.gain = (self.gain * (p - 1) + g) / p
            self.loss = (self.loss * (p - 1) + lo) / p
        tot = self.gain + self.loss
        return 100.0 * self.gain / tot if tot > 0 else 0.0


class _ATR:
    """Wilder ATR over (high, low, close); call `update_hlc`."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.prev_close = math.nan
        self.n = 0
        self.acc = 0.0
        self.value = math.nan

    def update(self, x: float) -> float:
        return self.update_hlc(x, x, x)

    def update_hlc(self, high: float, low: float, close: float) -> float:
        if math.isnan(self.prev_close):
            self.prev_close = close
            return math.nan
        tr = max(high - low, abs(high - self.prev_close), abs(low - self.prev_close))
        self.prev_close = close
        self.n += 1
        p = self.period
        if self.n < p:
            self.acc += tr
            return math.nan
        if self.n == p:
            self.value = (self.acc + tr) / p
        else:
            self.value = (self.value * (p - 1) + tr) / p
        return self.value


_FALLBACK: dict[str, type[Any]] = {"ema": _EMA, "rsi": _RSI, "atr": _ATR}
_LIBRARY = {"ema": "EMAStream", "rsi": "RSIStream", "atr": "ATRStream"}


def make_stream(name: str, period: int) -> Any:
    """A streaming indicator; the library's class when available, else ours."""
    try:
        import engine.indicators as lib

        cls = getattr(lib, _LIBRARY[name], None)
    except ImportError:  # pragma: no cover
        cls = None
    if cls is not None and name != "atr":
        return cls(period)
    return _FALLBACK[name](period)
