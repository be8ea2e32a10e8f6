"""Streaming form: one small state object per indicator, O(1) work per candle.

The live loop feeds each closed candle to ``update`` instead of recomputing arrays. Each
class repeats its batch kernel's arithmetic in the same order, so a stream returns exactly
the batch value at every index (NaN during warm-up; leading NaN input is skipped as the
batch form skips it). One module per family, as for the 1-D kernels.
"""

from __future__ import annotations

from engine.indicators.streaming.core import (
    ATRStream,
    BBandsStream,
    EMAStream,
    MACDStream,
    OBVStream,
    RSIStream,
    SMAStream,
    StdDevStream,
    StochStream,
)

__all__ = [
    "ATRStream", "BBandsStream", "EMAStream", "MACDStream", "OBVStream", "RSIStream",
    "SMAStream", "StdDevStream", "StochStream",
]
