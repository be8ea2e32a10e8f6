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
from engine.indicators.streaming.custom import (
    IchimokuStream,
    SARStream,
    SupertrendStream,
)
from engine.indicators.streaming.momentum import (
    CCIStream,
    CMOStream,
    MOMStream,
    ROCStream,
    StochRSIStream,
    WillRStream,
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
from engine.indicators.streaming.patterns import (
    CDLDojiStream,
    CDLEngulfingStream,
    CDLHammerStream,
    CDLMorningStarStream,
    CDLShootingStarStream,
)
from engine.indicators.streaming.statistics import (
    LinearRegAngleStream,
    LinearRegInterceptStream,
    LinearRegSlopeStream,
    LinearRegStream,
    VarStream,
    ZScoreStream,
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
from engine.indicators.streaming.volatility import (
    DonchianStream,
    KeltnerStream,
    NATRStream,
    TRangeStream,
)
from engine.indicators.streaming.volume import (
    ADOSCStream,
    ADStream,
    CMFStream,
    MFIStream,
    VWAPSessionStream,
    VWAPStream,
)

__all__ = [
    "ADOSCStream",
    "ADStream",
    "ADXStream",
    "ATRStream",
    "BBandsStream",
    "CCIStream",
    "CDLDojiStream",
    "CDLEngulfingStream",
    "CDLHammerStream",
    "CDLMorningStarStream",
    "CDLShootingStarStream",
    "CMFStream",
    "CMOStream",
    "DEMAStream",
    "DMIStream",
    "DXStream",
    "DonchianStream",
    "EMAStream",
    "HMAStream",
    "IchimokuStream",
    "KAMAStream",
    "KeltnerStream",
    "LinearRegAngleStream",
    "LinearRegInterceptStream",
    "LinearRegSlopeStream",
    "LinearRegStream",
    "MACDStream",
    "MFIStream",
    "MOMStream",
    "MinusDIStream",
    "NATRStream",
    "OBVStream",
    "PPOStream",
    "PlusDIStream",
    "RMAStream",
    "ROCStream",
    "RSIStream",
    "SARStream",
    "SMAStream",
    "SMMAStream",
    "StdDevStream",
    "StochFStream",
    "StochRSIStream",
    "StochStream",
    "SupertrendStream",
    "TEMAStream",
    "TRIXStream",
    "TRangeStream",
    "UltOscStream",
    "VWAPSessionStream",
    "VWAPStream",
    "VWMAStream",
    "VarStream",
    "WMAStream",
    "WillRStream",
    "ZLEMAStream",
    "ZScoreStream",
]
