"""Point-in-time alignment of a sentiment series to candles.

Rule (DESIGN.md): a candle stamped with close time C covers (C - tf, C]; an item
published at P, processed with delay D, becomes usable at P + D and may influence the
first candle with ``C >= P + D`` -- never an earlier one. A headline stamped one second
after a candle's close therefore only reaches the next candle's signal.

The aligned value is the as-of score: the latest usable item's score (and confidence)
at each close time; NaN / 0 before the first usable item. Ties in publication time keep
the input order (the last one wins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from engine.backtest.runner import SentimentSeries

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def align_sentiment(
    close_time_ms: I64, series: SentimentSeries, *, delay_ms: int = 0
) -> tuple[F64, F64]:
    """(score, confidence) per candle, using only items usable by its close time."""
    t = np.asarray(series.time_ms, dtype=np.int64)
    if t.shape != np.shape(series.score) or t.shape != np.shape(series.confidence):
        raise ValueError("sentiment time, score and confidence must have the same length")
    if delay_ms < 0:
        raise ValueError("sentiment delay cannot be negative (that would look ahead)")
    order = np.argsort(t, kind="stable")
    usable_at = t[order] + int(delay_ms)
    score = np.asarray(series.score, dtype=np.float64)[order]
    conf = np.asarray(series.confidence, dtype=np.float64)[order]
    # index of the last item with usable_at <= close time
    idx = np.searchsorted(usable_at, np.asarray(close_time_ms, dtype=np.int64), side="right") - 1
    have = idx >= 0
    out_s = np.full(idx.shape, np.nan)
    out_c = np.zeros(idx.shape)
    out_s[have] = score[idx[have]]
    out_c[have] = conf[idx[have]]
    return out_s, out_c
