"""Numba indicator library: TA-Lib-exact values, batch (2-D) and streaming forms.

Names follow TA-Lib in lower case (``ema``, ``macd``, ``bbands``...). Every function takes
1-D float64-convertible arrays and returns arrays of the same length with NaN warm-up
exactly where TA-Lib puts it (candle patterns and the Supertrend direction are integer
arrays with 0 there, as in TA-Lib). One module per family: ``trend``, ``momentum``,
``volatility``, ``volume``, ``oscillators``, ``statistics``, ``custom``, ``patterns``;
2-D forms in ``batch``, O(1) per-candle forms in ``streaming``.
"""

from engine.indicators.custom import ichimoku, sar, supertrend
from engine.indicators.momentum import cci, cmo, macd, mom, roc, rsi, stochrsi, willr
from engine.indicators.oscillators import (
    adx,
    dmi,
    dx,
    minus_di,
    plus_di,
    ppo,
    stoch,
    stochf,
    trix,
    ultosc,
)
from engine.indicators.patterns import (
    cdldoji,
    cdlengulfing,
    cdlhammer,
    cdlmorningstar,
    cdlshootingstar,
)
from engine.indicators.statistics import (
    linearreg,
    linearreg_angle,
    linearreg_intercept,
    linearreg_slope,
    var,
    zscore,
)
from engine.indicators.trend import dema, ema, hma, kama, rma, sma, smma, tema, vwma, wma, zlema
from engine.indicators.volatility import atr, bbands, donchian, keltner, natr, stddev, trange
from engine.indicators.volume import ad, adosc, cmf, mfi, obv, vwap, vwap_session

__all__ = [
    "ad", "adosc", "adx", "atr", "bbands", "cci", "cdldoji", "cdlengulfing", "cdlhammer",
    "cdlmorningstar", "cdlshootingstar", "cmf", "cmo", "dema", "dmi", "donchian", "dx", "ema",
    "hma", "ichimoku", "kama", "keltner", "linearreg", "linearreg_angle", "linearreg_intercept",
    "linearreg_slope", "macd", "mfi", "minus_di", "mom", "natr", "obv", "plus_di", "ppo", "rma",
    "roc", "rsi", "sar", "sma", "smma", "stddev", "stoch", "stochf", "stochrsi", "supertrend",
    "tema", "trange", "trix", "ultosc", "var", "vwap", "vwap_session", "vwma", "willr", "wma",
    "zlema", "zscore",
]
