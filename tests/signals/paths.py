"""Constructed candle series for the signal tests: piecewise-linear closes through
given anchor points, with a fixed wick, so every swing and break is known in advance."""

from __future__ import annotations

import numpy as np

WICK = 0.3


def path(anchors: list[tuple[int, float]]) -> np.ndarray:
    """Closes interpolated linearly through (index, price) anchors."""
    xs = [a for a, _ in anchors]
    ys = [b for _, b in anchors]
    return np.interp(np.arange(xs[-1] + 1), xs, ys)


def candles(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                        np.ndarray]:
    """(open, high, low, close, volume): open = previous close, wicks of `WICK`."""
    o = np.r_[close[0], close[:-1]]
    h = np.maximum(o, close) + WICK
    lo = np.minimum(o, close) - WICK
    return o, h, lo, close.copy(), np.full(close.shape[0], 10.0)
