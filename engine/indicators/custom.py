"""Custom family: Supertrend, Parabolic SAR, Ichimoku.

Every output at index ``i`` uses candles up to ``i`` only (the engine's point-in-time
rule), including Ichimoku's forward-shifted cloud.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from engine.indicators import _validate as v
from engine.indicators._common import (
    fill_nan,
    first_valid2,
    first_valid3,
    sliding_max_into,
    sliding_min_into,
)
from engine.indicators._validate import F64
from engine.indicators.volatility import _hlc, atr_into

__all__ = ["ichimoku", "sar", "supertrend"]

I32 = np.ndarray


@njit(cache=True, nogil=True, error_model="numpy")
def _supertrend(high, low, close, period, mult, rows, trend):
    """TA-Lib SUPERTREND: bands ``(h + l) / 2 +/- mult * ATR`` that only tighten while the
    previous close stays inside them; the trend flips when the close crosses the band
    it is trailing. Row 0 the line (NaN warm-up), row 1 the direction (+1 up, -1 down,
    0 during warm-up as TA-Lib's integer output). ``rows[1]`` is scratch for the ATR."""
    n = close.shape[0]
    line = rows[0]
    atr = rows[1]
    start = first_valid3(high, low, close)
    atr_into(high, low, close, start, period, atr)
    first = start + period
    fill_nan(line, first)
    if first >= n:
        return
    hl2 = (high[first] + low[first]) / 2.0
    band = mult * atr[first]
    upper = hl2 + band
    lower = hl2 - band
    d = 1
    line[first] = lower
    trend[first] = 1
    for i in range(first + 1, n):
        hl2 = (high[i] + low[i]) / 2.0
        band = mult * atr[i]
        bu = hl2 + band
        bl = hl2 - band
        pc = close[i - 1]
        if bu < upper or pc > upper:
            upper = bu
        if bl > lower or pc < lower:
            lower = bl
        c = close[i]
        if d == 1 and c < lower:
            d = -1
        elif d == -1 and c > upper:
            d = 1
        line[i] = lower if d == 1 else upper
        trend[i] = d


def supertrend(
    high: Any, low: Any, close: Any, period: int = 10, multiplier: float = 3.0
) -> tuple[F64, I32]:
    """Supertrend ``(line, direction)`` (TA-Lib ``SUPERTREND``): the line trails price
    below it in an uptrend (direction +1) and above it in a downtrend (-1); first value
    at ``period`` (Wilder ATR warm-up). ``direction`` is int32, 0 during warm-up."""
    h, lo, c = _hlc(high, low, close)
    rows = np.empty((2, c.shape[0]))
    trend = np.zeros(c.shape[0], dtype=np.int32)
    _supertrend(h, lo, c, v.period(period), v.number(multiplier, "multiplier"), rows, trend)
    return rows[0], trend


@njit(cache=True, nogil=True, error_model="numpy")
def _sar(high, low, accel, maximum, out):
    """Wilder's Parabolic SAR exactly as TA-Lib runs it: the first candle only seeds
    (direction from its -DM against the second: short when the low fell more than the
    high rose), the SAR never enters the previous or current candle's range, and a
    penetration flips the position with the SAR reset to the extreme point."""
    n = high.shape[0]
    start = first_valid2(high, low)
    fill_nan(out, start + 1)
    if start + 1 >= n:
        return
    if accel > maximum:
        accel = maximum
    af = accel
    today = start + 1
    up = high[today] - high[today - 1]
    down = low[today - 1] - low[today]
    is_long = not (down > 0.0 and down > up)
    new_high = high[today - 1]
    new_low = low[today - 1]
    if is_long:
        ep = high[today]
        sar = new_low
    else:
        ep = low[today]
        sar = new_high
    new_low = low[today]
    new_high = high[today]
    for today in range(start + 1, n):
        prev_low = new_low
        prev_high = new_high
        new_low = low[today]
        new_high = high[today]
        if is_long:
            if new_low <= sar:  # switch to short
                is_long = False
                sar = ep
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
                out[today] = sar
                af = accel
                ep = new_low
                sar = sar + af * (ep - sar)
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
            else:
                out[today] = sar
                if new_high > ep:
                    ep = new_high
                    af += accel
                    if af > maximum:
                        af = maximum
                sar = sar + af * (ep - sar)
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
        elif new_high >= sar:  # switch to long
            is_long = True
            sar = ep
            if sar > prev_low:
                sar = prev_low
            if sar > new_low:
                sar = new_low
            out[today] = sar
            af = accel
            ep = new_high
            sar = sar + af * (ep - sar)
            if sar > prev_low:
                sar = prev_low
            if sar > new_low:
                sar = new_low
        else:
            out[today] = sar
            if new_low < ep:
                ep = new_low
                af += accel
                if af > maximum:
                    af = maximum
            sar = sar + af * (ep - sar)
            if sar < prev_high:
                sar = prev_high
            if sar < new_high:
                sar = new_high


def sar(high: Any, low: Any, acceleration: float = 0.02, maximum: float = 0.2) -> F64:
    """Parabolic SAR (TA-Lib ``SAR``); first value at index 1."""
    h = v.as_f64(high, "high")
    lo = v.as_f64(low, "low")
    if h.shape != lo.shape:
        v.same_length(("high", h), ("low", lo))
    acc = v.number(acceleration, "acceleration")
    mx = v.number(maximum, "maximum")
    if acc < 0.0 or mx < 0.0:
        raise ValueError(f"acceleration and maximum must be >= 0, got {acc} and {mx}")
    out = np.empty(h.shape[0])
    _sar(h, lo, acc, mx, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _midline(high, low, start, period, out, tmp):
    """``(highest high + lowest low) / 2`` over ``period`` candles into ``out``."""
    sliding_max_into(high, start, period, out)
    sliding_min_into(low, start, period, tmp)
    for i in range(out.shape[0]):
        out[i] = (out[i] + tmp[i]) * 0.5


@njit(cache=True, nogil=True, error_model="numpy")
def _ichimoku(high, low, tenkan, kijun, senkou, shift, out):
    """Rows: tenkan, kijun, senkou a, senkou b; row 4 is scratch."""
    n = high.shape[0]
    tmp = out[4]
    start = first_valid2(high, low)
    _midline(high, low, start, tenkan, out[0], tmp)
    _midline(high, low, start, kijun, out[1], tmp)
    _midline(high, low, start, senkou, tmp, out[3])
    a = out[2]
    b = out[3]
    for i in range(n - 1, -1, -1):
        j = i - shift
        if j >= 0:
            a[i] = (out[0, j] + out[1, j]) * 0.5
            b[i] = tmp[j]
        else:
            a[i] = np.nan
            b[i] = np.nan


def ichimoku(
    high: Any, low: Any, tenkan: int = 9, kijun: int = 26, senkou: int = 52,
    displacement: int = 26,
) -> tuple[F64, F64, F64, F64]:
    """Ichimoku ``(tenkan, kijun, senkou_a, senkou_b)``, each aligned at the candle it is
    plotted on and known at: tenkan/kijun are the mid-ranges of the last 9/26 candles;
    the cloud at ``i`` is what was computed ``displacement`` candles earlier
    (``senkou_a[i] = (tenkan + kijun)[i - 26] / 2``, ``senkou_b[i]`` = 52-candle
    mid-range at ``i - 26``), so nothing looks ahead. The chikou span is the close
    plotted 26 candles back; read at any candle it would need the future, so it is not
    returned (use the close itself)."""
    h = v.as_f64(high, "high")
    lo = v.as_f64(low, "low")
    if h.shape != lo.shape:
        v.same_length(("high", h), ("low", lo))
    out = np.empty((5, h.shape[0]))
    _ichimoku(
        h, lo, v.period(tenkan, "tenkan"), v.period(kijun, "kijun"),
        v.period(senkou, "senkou"), v.period(displacement, "displacement", minimum=0), out,
    )
    return out[0], out[1], out[2], out[3]
