"""Numba indicator library: TA-Lib-exact values, batch (2-D) and streaming forms.

Names follow TA-Lib in lower case (``ema``, ``macd``, ``bbands``...). Every function takes
1-D float64-convertible arrays and returns arrays of the same length with NaN warm-up
exactly where TA-Lib puts it.
"""

from engine.indicators.momentum import macd, rsi
from engine.indicators.oscillators import stoch, stochf
from engine.indicators.trend import ema, sma
from engine.indicators.volatility import atr, bbands, donchian, keltner, natr, stddev, trange
from engine.indicators.volume import obv

__all__ = [
    "atr", "bbands", "donchian", "ema", "keltner", "macd", "natr", "obv", "rsi", "sma",
    "stddev", "stoch", "stochf", "trange",
]
