"""Window statistics computed from each window's own rows.

Running sums (TA-Lib's style) drift with where history starts, so the live runtime's
trailing window would disagree with a backtest over the whole history in the last bits;
a mean taken over each window's own rows is the same wherever the window starts. Every
block of `engine.signals` uses these two."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def window_mean(x: F64, period: int, *, lag: int = 0) -> F64:
    """Mean of rows ``i-lag-period+1 .. i-lag`` (NaN before enough rows), per window."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= period + lag:
        m = np.lib.stride_tricks.sliding_window_view(x, period).mean(axis=1)
        out[period - 1 + lag:] = m[: m.shape[0] - lag] if lag else m
    return out


def true_range_mean(high: F64, low: F64, close: F64, period: int) -> F64:
    """Mean true range of each window (an ATR that is exact in any window)."""
    n = close.shape[0]
    tr = np.full(n, np.nan)
    if n:
        tr[0] = high[0] - low[0]
        pc = close[:-1]
        tr[1:] = np.maximum(high[1:], pc) - np.minimum(low[1:], pc)
    return window_mean(tr, period)
