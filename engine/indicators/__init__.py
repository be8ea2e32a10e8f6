"""Numba indicator library: TA-Lib-exact values, batch (2-D) and streaming forms.

Names follow TA-Lib in lower case (``ema``, ``macd``, ``bbands``...). Every function takes
1-D float64-convertible arrays and returns arrays of the same length with NaN warm-up
exactly where TA-Lib puts it.
"""

from engine.indicators.momentum import macd, mom, roc, rsi
from engine.indicators.oscillators import stoch, stochf
from engine.indicators.trend import ema, rma, sma, smma, wma
from engine.indicators.volatility import atr, bbands, donchian, keltner, natr, stddev, trange
from engine.indicators.volume import obv

__all__ = [
    "atr", "bbands", "donchian", "ema", "keltner", "macd", "mom", "natr", "obv", "rma", "roc",
    "rsi", "sma", "smma", "stddev", "stoch", "stochf", "trange", "wma",
]
