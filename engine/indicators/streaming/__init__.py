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
)
from engine.indicators.streaming.oscillators import (
    ADXStream,
    DMIStream,
    DXStream,
    MinusDIStream,
    PlusDIStream,
    PPOStream,
    StochFStream,
    StochStream,
    TRIXStream,
    UltOscStream,
)
from engine.indicators.streaming.trend import (
    DEMAStream,
    HMAStream,
    KAMAStream,
    RMAStream,
    SMMAStream,
    TEMAStream,
    VWMAStream,
    WMAStream,
    ZLEMAStream,
)

__all__ = [
    "ADXStream",
    "ATRStream",
    "BBandsStream",
    "DEMAStream",
    "DMIStream",
    "DXStream",
    "EMAStream",
    "HMAStream",
    "KAMAStream",
    "MACDStream",
    "MinusDIStream",
    "OBVStream",
    "PPOStream",
    "PlusDIStream",
    "RMAStream",
    "RSIStream",
    "SMAStream",
    "SMMAStream",
    "StdDevStream",
    "StochFStream",
    "StochStream",
    "TEMAStream",
    "TRIXStream",
    "UltOscStream",
    "VWMAStream",
    "WMAStream",
    "ZLEMAStream",
]
