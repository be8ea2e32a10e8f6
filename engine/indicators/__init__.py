"""Numba indicator library: TA-Lib-exact values, batch (2-D) and streaming forms.

Names follow TA-Lib in lower case (``ema``, ``macd``, ``bbands``...). Every function takes
1-D float64-convertible arrays and returns arrays of the same length with NaN warm-up
exactly where TA-Lib puts it (candle patterns and the Supertrend direction are integer
arrays with 0 there, as in TA-Lib). One module per family: ``trend``, ``momentum``,
``volatility``, ``volume``, ``oscillators``, ``statistics``, ``custom``, ``patterns``;
2-D forms in ``batch``, O(1) per-candle forms in ``streaming``.

Importing this package loads no kernel: each name is resolved on first use (PEP 562),
so `sentitrade --help` and commands that never compute an indicator start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.indicators.custom import (
        ichimoku,
        sar,
        supertrend,
    )
    from engine.indicators.momentum import (
        cci,
        cmo,
        macd,
        mom,
        roc,
        rsi,
        stochrsi,
        willr,
    )
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
    from engine.indicators.trend import (
        dema,
        ema,
        hma,
        kama,
        rma,
        sma,
        smma,
        tema,
        vwma,
        wma,
        zlema,
    )
    from engine.indicators.volatility import (
        atr,
        bbands,
        donchian,
        keltner,
        natr,
        stddev,
        trange,
    )
    from engine.indicators.volume import (
        ad,
        adosc,
        cmf,
        mfi,
        obv,
        vwap,
        vwap_session,
    )

_WHERE: dict[str, str] = {
    "ad": "volume",
    "adosc": "volume",
    "adx": "oscillators",
    "atr": "volatility",
    "bbands": "volatility",
    "cci": "momentum",
    "cdldoji": "patterns",
    "cdlengulfing": "patterns",
    "cdlhammer": "patterns",
    "cdlmorningstar": "patterns",
    "cdlshootingstar": "patterns",
    "cmf": "volume",
    "cmo": "momentum",
    "dema": "trend",
    "dmi": "oscillators",
    "donchian": "volatility",
    "dx": "oscillators",
    "ema": "trend",
    "hma": "trend",
    "ichimoku": "custom",
    "kama": "trend",
    "keltner": "volatility",
    "linearreg": "statistics",
    "linearreg_angle": "statistics",
    "linearreg_intercept": "statistics",
    "linearreg_slope": "statistics",
    "macd": "momentum",
    "mfi": "volume",
    "minus_di": "oscillators",
    "mom": "momentum",
    "natr": "volatility",
    "obv": "volume",
    "plus_di": "oscillators",
    "ppo": "oscillators",
    "rma": "trend",
    "roc": "momentum",
    "rsi": "momentum",
    "sar": "custom",
    "sma": "trend",
    "smma": "trend",
    "stddev": "volatility",
    "stoch": "oscillators",
    "stochf": "oscillators",
    "stochrsi": "momentum",
    "supertrend": "custom",
    "tema": "trend",
    "trange": "volatility",
    "trix": "oscillators",
    "ultosc": "oscillators",
    "var": "statistics",
    "vwap": "volume",
    "vwap_session": "volume",
    "vwma": "trend",
    "willr": "momentum",
    "wma": "trend",
    "zlema": "trend",
    "zscore": "statistics",
}

__all__ = [
    "ad", "adosc", "adx", "atr", "bbands", "cci", "cdldoji", "cdlengulfing", "cdlhammer",
    "cdlmorningstar", "cdlshootingstar", "cmf", "cmo", "dema", "dmi", "donchian", "dx", "ema",
    "hma", "ichimoku", "kama", "keltner", "linearreg", "linearreg_angle", "linearreg_intercept",
    "linearreg_slope", "macd", "mfi", "minus_di", "mom", "natr", "obv", "plus_di", "ppo", "rma",
    "roc", "rsi", "sar", "sma", "smma", "stddev", "stoch", "stochf", "stochrsi", "supertrend",
    "tema", "trange", "trix", "ultosc", "var", "vwap", "vwap_session", "vwma", "willr", "wma",
    "zlema", "zscore",
]


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'engine.indicators' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"engine.indicators.{mod}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
