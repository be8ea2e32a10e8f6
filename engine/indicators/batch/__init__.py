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
from engine.indicators.batch.custom import (
    ichimoku_2d,
    sar_2d,
    supertrend_2d,
)
from engine.indicators.batch.momentum import (
    cci_2d,
    cmo_2d,
    mom_2d,
    roc_2d,
    stochrsi_2d,
    willr_2d,
)
from engine.indicators.batch.oscillators import (
    adx_2d,
    dmi_2d,
    dx_2d,
    minus_di_2d,
    plus_di_2d,
    ppo_2d,
    stochf_2d,
    trix_2d,
    ultosc_2d,
)
from engine.indicators.batch.patterns import (
    cdldoji_2d,
    cdlengulfing_2d,
    cdlhammer_2d,
    cdlmorningstar_2d,
    cdlshootingstar_2d,
)
from engine.indicators.batch.statistics import (
    linearreg_2d,
    linearreg_angle_2d,
    linearreg_intercept_2d,
    linearreg_slope_2d,
    var_2d,
    zscore_2d,
)
from engine.indicators.batch.trend import (
    dema_2d,
    hma_2d,
    kama_2d,
    rma_2d,
    smma_2d,
    tema_2d,
    vwma_2d,
    wma_2d,
    zlema_2d,
)
from engine.indicators.batch.volatility import (
    donchian_2d,
    keltner_2d,
    natr_2d,
    trange_2d,
)
from engine.indicators.batch.volume import (
    ad_2d,
    adosc_2d,
    cmf_2d,
    mfi_2d,
    vwap_2d,
    vwap_session_2d,
)

__all__ = [
    "ad_2d",
    "adosc_2d",
    "adx_2d",
    "atr_2d",
    "bbands_2d",
    "cci_2d",
    "cdldoji_2d",
    "cdlengulfing_2d",
    "cdlhammer_2d",
    "cdlmorningstar_2d",
    "cdlshootingstar_2d",
    "cmf_2d",
    "cmo_2d",
    "dema_2d",
    "dmi_2d",
    "donchian_2d",
    "dx_2d",
    "ema_2d",
    "hma_2d",
    "ichimoku_2d",
    "kama_2d",
    "keltner_2d",
    "linearreg_2d",
    "linearreg_angle_2d",
    "linearreg_intercept_2d",
    "linearreg_slope_2d",
    "macd_2d",
    "mfi_2d",
    "minus_di_2d",
    "mom_2d",
    "natr_2d",
    "obv_2d",
    "plus_di_2d",
    "ppo_2d",
    "rma_2d",
    "roc_2d",
    "rsi_2d",
    "sar_2d",
    "sma_2d",
    "smma_2d",
    "stddev_2d",
    "stoch_2d",
    "stochf_2d",
    "stochrsi_2d",
    "supertrend_2d",
    "tema_2d",
    "trange_2d",
    "trix_2d",
    "ultosc_2d",
    "var_2d",
    "vwap_2d",
    "vwap_session_2d",
    "vwma_2d",
    "willr_2d",
    "wma_2d",
    "zlema_2d",
    "zscore_2d",
]
