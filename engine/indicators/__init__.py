"""Numba indicator library: TA-Lib-exact values, batch (2-D) and streaming forms.

Names follow TA-Lib in lower case (``ema``, ``macd``, ``bbands``...). Every function takes
1-D float64-convertible arrays and returns arrays of the same length with NaN warm-up
exactly where TA-Lib puts it.
"""

from engine.indicators.momentum import rsi
from engine.indicators.trend import ema, sma

__all__ = ["ema", "rsi", "sma"]
