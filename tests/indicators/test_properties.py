"""Properties of every indicator in the catalogue (hypothesis):

* causal: the values up to candle ``m`` do not change when later candles arrive (the
  engine's point-in-time rule; what lets a backtest and the live loop agree);
* defined: constant, stepped, tiny (1e-6) and huge (1e12) series, arrays shorter than the
  warm-up, leading NaN runs: same length out, finite after warm-up (no division by zero);
* near ties: prices that differ by an ulp or two, where TA-Lib 0.8's scaled zero tests
  decide, give TA-Lib's values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.indicators as ind

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Fn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any]

# name -> f(open, high, low, close, volume)
CATALOGUE: dict[str, Fn] = {
    "sma": lambda o, h, lo, c, v: ind.sma(c, 7),
    "ema": lambda o, h, lo, c, v: ind.ema(c, 7),
    "wma": lambda o, h, lo, c, v: ind.wma(c, 7),
    "smma": lambda o, h, lo, c, v: ind.smma(c, 7),
    "dema": lambda o, h, lo, c, v: ind.dema(c, 5),
    "tema": lambda o, h, lo, c, v: ind.tema(c, 4),
    "kama": lambda o, h, lo, c, v: ind.kama(c, 6),
    "hma": lambda o, h, lo, c, v: ind.hma(c, 9),
    "vwma": lambda o, h, lo, c, v: ind.vwma(c, v, 5),
    "zlema": lambda o, h, lo, c, v: ind.zlema(c, 7),
    "rsi": lambda o, h, lo, c, v: ind.rsi(c, 5),
    "stochrsi": lambda o, h, lo, c, v: ind.stochrsi(c, 5, 4, 3),
    "macd": lambda o, h, lo, c, v: ind.macd(c, 4, 9, 3),
    "cci": lambda o, h, lo, c, v: ind.cci(h, lo, c, 6),
    "willr": lambda o, h, lo, c, v: ind.willr(h, lo, c, 6),
    "roc": lambda o, h, lo, c, v: ind.roc(c, 3),
    "mom": lambda o, h, lo, c, v: ind.mom(c, 3),
    "cmo": lambda o, h, lo, c, v: ind.cmo(c, 5),
    "bbands": lambda o, h, lo, c, v: ind.bbands(c, 6),
    "atr": lambda o, h, lo, c, v: ind.atr(h, lo, c, 5),
    "natr": lambda o, h, lo, c, v: ind.natr(h, lo, c, 5),
    "trange": lambda o, h, lo, c, v: ind.trange(h, lo, c),
    "keltner": lambda o, h, lo, c, v: ind.keltner(h, lo, c, 6, 4, 2.0),
    "donchian": lambda o, h, lo, c, v: ind.donchian(h, lo, 6),
    "stddev": lambda o, h, lo, c, v: ind.stddev(c, 6),
    "obv": lambda o, h, lo, c, v: ind.obv(c, v),
    "mfi": lambda o, h, lo, c, v: ind.mfi(h, lo, c, v, 5),
    "vwap": lambda o, h, lo, c, v: ind.vwap(h, lo, c, v),
    "vwap_rolling": lambda o, h, lo, c, v: ind.vwap(h, lo, c, v, 5),
    "vwap_session": lambda o, h, lo, c, v: ind.vwap_session(
        h, lo, c, v, 300_000 * np.arange(1, c.shape[0] + 1), session_ms=3_000_000),
    "ad": lambda o, h, lo, c, v: ind.ad(h, lo, c, v),
    "adosc": lambda o, h, lo, c, v: ind.adosc(h, lo, c, v, 3, 6),
    "cmf": lambda o, h, lo, c, v: ind.cmf(h, lo, c, v, 5),
    "stoch": lambda o, h, lo, c, v: ind.stoch(h, lo, c, 5, 3, 2),
    "stochf": lambda o, h, lo, c, v: ind.stochf(h, lo, c, 5, 3),
    "trix": lambda o, h, lo, c, v: ind.trix(c, 4),
    "ppo": lambda o, h, lo, c, v: ind.ppo(c, 3, 7),
    "ultosc": lambda o, h, lo, c, v: ind.ultosc(h, lo, c, 3, 5, 8),
    "dmi": lambda o, h, lo, c, v: ind.dmi(h, lo, c, 5),
    "dx": lambda o, h, lo, c, v: ind.dx(h, lo, c, 5),
    "linearreg": lambda o, h, lo, c, v: ind.linearreg(c, 6),
    "linearreg_slope": lambda o, h, lo, c, v: ind.linearreg_slope(c, 6),
    "linearreg_angle": lambda o, h, lo, c, v: ind.linearreg_angle(c, 6),
    "linearreg_intercept": lambda o, h, lo, c, v: ind.linearreg_intercept(c, 6),
    "var": lambda o, h, lo, c, v: ind.var(c, 6),
    "zscore": lambda o, h, lo, c, v: ind.zscore(c, 6),
    "supertrend": lambda o, h, lo, c, v: ind.supertrend(h, lo, c, 5, 2.0),
    "sar": lambda o, h, lo, c, v: ind.sar(h, lo),
    "ichimoku": lambda o, h, lo, c, v: ind.ichimoku(h, lo, 3, 6, 9, 4),
    "cdlengulfing": lambda o, h, lo, c, v: ind.cdlengulfing(o, h, lo, c),
    "cdldoji": lambda o, h, lo, c, v: ind.cdldoji(o, h, lo, c),
    "cdlhammer": lambda o, h, lo, c, v: ind.cdlhammer(o, h, lo, c),
    "cdlshootingstar": lambda o, h, lo, c, v: ind.cdlshootingstar(o, h, lo, c),
    "cdlmorningstar": lambda o, h, lo, c, v: ind.cdlmorningstar(o, h, lo, c),
}


def test_catalogue_is_complete() -> None:
    """Every public function of the package is exercised here."""
    assert set(ind.__all__) - {"rma", "plus_di", "minus_di", "adx"} <= set(CATALOGUE) | {
        "vwap_session", "ichimoku"}


@st.composite
def candles(draw: Any, min_size: int = 0, max_size: int = 90) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(min_size, max_size))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e5, 1e12]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["walk", "constant", "steps"]))
    if kind == "walk":
        c = scale * (100 + np.cumsum(rng.standard_normal(n)))
    elif kind == "constant":
        c = np.full(n, scale * 3.0)
    else:
        c = scale * rng.integers(1, 4, n).astype(np.float64)
    flat = kind == "constant"
    o = c + scale * rng.uniform(-0.5, 0.5, n) * (not flat)
    h = np.maximum(o, c) + scale * rng.uniform(0, 1, n) * (not flat)
    lo = np.minimum(o, c) - scale * rng.uniform(0, 1, n) * (not flat)
    vol = rng.uniform(0.5, 1000, n)
    lead = draw(st.integers(0, 4))
    if lead and n:
        for a in (o, h, lo, c, vol):
            a[: min(lead, n)] = np.nan
    return o, h, lo, c, vol


def _rows(out: Any) -> list[np.ndarray]:
    outs = out if isinstance(out, tuple) else (out,)
    return [np.asarray(a) for a in outs]


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@SETTINGS
@given(data=candles(min_size=1), cut=st.floats(0.0, 1.0))
def test_causal(name: str, data: tuple[np.ndarray, ...], cut: float) -> None:
    m = int(cut * data[0].shape[0])
    full = _rows(CATALOGUE[name](*data))
    head = _rows(CATALOGUE[name](*(a[:m].copy() for a in data)))
    for f, p in zip(full, head, strict=True):
        np.testing.assert_array_equal(f[:m], p)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@SETTINGS
@given(data=candles())
def test_defined(name: str, data: tuple[np.ndarray, ...]) -> None:
    n = data[0].shape[0]
    for out in _rows(CATALOGUE[name](*data)):
        assert out.shape == (n,)
        if out.dtype.kind == "i":
            assert set(np.unique(out)) <= {-100, -80, -1, 0, 1, 80, 100}
            continue
        valid = out[~np.isnan(out)]
        assert np.isfinite(valid).all(), name


talib = pytest.importorskip("talib")

TALIB_TWINS: dict[str, Callable[..., Any]] = {
    "sma": lambda o, h, lo, c, v: talib.SMA(c, 7), "ema": lambda o, h, lo, c, v: talib.EMA(c, 7),
    "wma": lambda o, h, lo, c, v: talib.WMA(c, 7), "dema": lambda o, h, lo, c, v: talib.DEMA(c, 5),
    "tema": lambda o, h, lo, c, v: talib.TEMA(c, 4),
    "kama": lambda o, h, lo, c, v: talib.KAMA(c, 6),
    "hma": lambda o, h, lo, c, v: talib.HMA(c, 9),
    "zlema": lambda o, h, lo, c, v: talib.ZLEMA(c, 7),
    "vwma": lambda o, h, lo, c, v: talib.VWMA(c, v, 5),
    "rsi": lambda o, h, lo, c, v: talib.RSI(c, 5),
    "stochrsi": lambda o, h, lo, c, v: talib.STOCHRSI(c, 5, 4, 3, 0),
    "macd": lambda o, h, lo, c, v: talib.MACD(c, 4, 9, 3),
    "cci": lambda o, h, lo, c, v: talib.CCI(h, lo, c, 6),
    "willr": lambda o, h, lo, c, v: talib.WILLR(h, lo, c, 6),
    "roc": lambda o, h, lo, c, v: talib.ROC(c, 3), "mom": lambda o, h, lo, c, v: talib.MOM(c, 3),
    "cmo": lambda o, h, lo, c, v: talib.CMO(c, 5),
    "bbands": lambda o, h, lo, c, v: talib.BBANDS(c, 6),
    "atr": lambda o, h, lo, c, v: talib.ATR(h, lo, c, 5),
    "natr": lambda o, h, lo, c, v: talib.NATR(h, lo, c, 5),
    "trange": lambda o, h, lo, c, v: talib.TRANGE(h, lo, c),
    "obv": lambda o, h, lo, c, v: talib.OBV(c, v),
    "mfi": lambda o, h, lo, c, v: talib.MFI(h, lo, c, v, 5),
    "vwap": lambda o, h, lo, c, v: talib.VWAP(h, lo, c, v),
    "ad": lambda o, h, lo, c, v: talib.AD(h, lo, c, v),
    "adosc": lambda o, h, lo, c, v: talib.ADOSC(h, lo, c, v, 3, 6),
    "cmf": lambda o, h, lo, c, v: talib.CMF(h, lo, c, v, 5),
    "stoch": lambda o, h, lo, c, v: talib.STOCH(h, lo, c, 5, 3, 0, 2, 0),
    "stochf": lambda o, h, lo, c, v: talib.STOCHF(h, lo, c, 5, 3, 0),
    "trix": lambda o, h, lo, c, v: talib.TRIX(c, 4),
    "ppo": lambda o, h, lo, c, v: talib.PPO(c, 3, 7),
    "ultosc": lambda o, h, lo, c, v: talib.ULTOSC(h, lo, c, 3, 5, 8),
    "dx": lambda o, h, lo, c, v: talib.DX(h, lo, c, 5),
    "dmi": lambda o, h, lo, c, v: (talib.PLUS_DI(h, lo, c, 5), talib.MINUS_DI(h, lo, c, 5),
                                   talib.ADX(h, lo, c, 5)),
    "linearreg": lambda o, h, lo, c, v: talib.LINEARREG(c, 6),
    "supertrend": lambda o, h, lo, c, v: talib.SUPERTREND(h, lo, c, 5, 2.0),
    "sar": lambda o, h, lo, c, v: talib.SAR(h, lo),
    "cdlengulfing": lambda o, h, lo, c, v: talib.CDLENGULFING(o, h, lo, c),
    "cdldoji": lambda o, h, lo, c, v: talib.CDLDOJI(o, h, lo, c),
    "cdlhammer": lambda o, h, lo, c, v: talib.CDLHAMMER(o, h, lo, c),
    "cdlshootingstar": lambda o, h, lo, c, v: talib.CDLSHOOTINGSTAR(o, h, lo, c),
    "cdlmorningstar": lambda o, h, lo, c, v: talib.CDLMORNINGSTAR(o, h, lo, c),
}


def _near_ties(seed: int, scale: float) -> tuple[np.ndarray, ...]:
    """Prices within a few ulp (or 1e-11) of each other: flat to 15 digits."""
    rng = np.random.default_rng(seed)
    n = 300
    if scale == 0.0:
        c = 1e5 * (1 + rng.integers(0, 4, n) * 2.0**-52)
        h = c * (1 + rng.integers(0, 3, n) * 2.0**-52)
        lo = c * (1 - rng.integers(0, 3, n) * 2.0**-52)
    else:
        c = 1e5 + rng.integers(0, 3, n) * scale
        h = c + rng.integers(0, 3, n) * scale
        lo = c - rng.integers(0, 3, n) * scale
    vol = rng.uniform(1, 2, n)
    vol[::7] = 0.0
    return c.copy(), h, lo, c, vol


@pytest.mark.parametrize("name", sorted(TALIB_TWINS))
@pytest.mark.parametrize("scale", [0.0, 1e-11])
def test_near_ties_like_talib(name: str, scale: float) -> None:
    data = _near_ties(17, scale)
    if name in ("vwma", "vwap"):  # TA-Lib gives NaN/0 for windows without volume alike
        data = (*data[:4], np.abs(data[4]) + 1.0)
    ours = _rows(CATALOGUE[name](*data))
    ref = _rows(TALIB_TWINS[name](*data))
    for o, r in zip(ours, ref, strict=True):
        np.testing.assert_allclose(o, r, rtol=1e-9, atol=1e-9, equal_nan=True)
