"""Candles of a longer timeframe built from a shorter one (a replay of a 15m bot when the
folder holds 5m files): open of the first, highest high, lowest low, close of the last,
summed volume; stamped with the bucket's open time like the files. Only complete
buckets are kept, so a candle is never built from part of its period."""

from __future__ import annotations

import numpy as np

from engine.data.candles import Candles, timeframe_ms
from engine.errors import DataError


def resample(c: Candles, timeframe: str) -> Candles:
    """`c` (gap-filled, one timeframe) as `timeframe` candles."""
    step, src = timeframe_ms(timeframe), timeframe_ms(c.timeframe)
    if step % src or step <= src:
        raise DataError(f"{c.symbol}: {timeframe} candles cannot be built from {c.timeframe}")
    per = step // src
    bucket = c.open_time - c.open_time % step
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    counts = np.diff(np.r_[starts, len(c)])
    full = counts == per
    s = starts[full]
    e = s + per - 1
    return Candles(
        c.symbol, timeframe, bucket[s].astype(np.int64), c.open[s].copy(),
        np.maximum.reduceat(c.high, starts)[full], np.minimum.reduceat(c.low, starts)[full],
        c.close[e].copy(), np.add.reduceat(c.volume, starts)[full])
