"""Batch form: the same kernels over 2-D arrays shaped (symbols, time).

Rows are independent, so they are spread over cores with ``prange``; each row runs the
exact 1-D kernel, so row ``r`` of a batch result equals the 1-D function on row ``r`` bit
for bit, leading-NaN handling included. One module per family, as for the 1-D kernels;
every name is ``<1-D name>_2d``.
"""

from __future__ import annotations

from engine.indicators.batch.core import (
    atr_2d,
    bbands_2d,
    ema_2d,
    macd_2d,
    obv_2d,
    rsi_2d,
    sma_2d,
    stddev_2d,
    stoch_2d,
)

__all__ = [
    "atr_2d", "bbands_2d", "ema_2d", "macd_2d", "obv_2d", "rsi_2d", "sma_2d", "stddev_2d",
    "stoch_2d",
]
