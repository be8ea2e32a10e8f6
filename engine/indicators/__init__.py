"""Numba indicator library: TA-Lib-exact values, batch (2-D) and streaming forms.

Names follow TA-Lib in lower case (``ema``, ``macd``, ``bbands``...). Every function takes
1-D float64-convertible arrays and returns arrays of the same length with NaN warm-up
exactly where TA-Lib puts it (candle patterns and the Supertrend direction are integer
arrays with 0 there, as in TA-Lib). One module per family: ``trend``, ``momentum``,
``volatility``, ``volume``, ``oscillators``, ``statistics``, ``custom``, ``patterns``;
2-D forms in ``batch``, O(1) per-candle forms in ``streaming``.
"""

from engine.indicators.momentum import cci, cmo, macd, mom, roc, rsi, stochrsi, willr
from engine.indicators.oscillators import stoch, stochf
from engine.indicators.trend import dema, ema, hma, kama, rma, sma, smma, tema, vwma, wma, zlema
from engine.indicators.volatility import atr, bbands, donchian, keltner, natr, stddev, trange
from engine.indicators.volume import ad, adosc, cmf, mfi, obv, vwap, vwap_session

__all__ = [
    "ad", "adosc", "atr", "bbands", "cci", "cmf", "cmo", "dema", "donchian", "ema", "hma",
    "kama", "keltner", "macd", "mfi", "mom", "natr", "obv", "rma", "roc", "rsi", "sma", "smma",
    "stddev", "stoch", "stochf", "stochrsi", "tema", "trange", "vwap", "vwap_session", "vwma",
    "willr", "wma", "zlema",
]
