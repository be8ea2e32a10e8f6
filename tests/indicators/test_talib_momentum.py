"""StochRSI, CCI, Williams %R and CMO against TA-Lib on real candles.

Bounded oscillators get an absolute floor (``scale``) of 1e-9 x their range: near 0 a
relative test compares rounding noise (CCI subtracts two prices of ~1e5 to get ~10)."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("period", [2, 5, 14, 30])
def test_cmo(candles: Candles, period: int) -> None:
    assert_same(ind.cmo(candles.close, period), talib.CMO(candles.close, period), scale=100.0)


@pytest.mark.parametrize("period", [2, 5, 14, 30])
def test_cci(candles: Candles, period: int) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    assert_same(ind.cci(h, lo, c, period), talib.CCI(h, lo, c, period), scale=100.0)


@pytest.mark.parametrize("period", [1, 2, 5, 14, 30])
def test_willr(candles: Candles, period: int) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    if period == 1:  # TA-Lib refuses 1; the window is the candle itself
        rng = (h - lo) / -100.0
        ref = np.divide(h - c, rng, out=np.zeros_like(c), where=h > lo)
    else:
        ref = talib.WILLR(h, lo, c, period)
    assert_same(ind.willr(h, lo, c, period), ref, scale=100.0)


@pytest.mark.parametrize("p", [(14, 5, 3), (14, 14, 3), (5, 3, 1), (2, 2, 2)])
def test_stochrsi(candles: Candles, p: tuple[int, int, int]) -> None:
    ours = ind.stochrsi(candles.close, *p)
    ref = talib.STOCHRSI(candles.close, p[0], p[1], p[2], 0)
    for o, r in zip(ours, ref, strict=True):
        assert_same(o, r, scale=100.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: (ind.cmo(x, 5), talib.CMO(x, 5)),
        lambda x: (ind.cci(x + 1, x - 1, x, 5), talib.CCI(x + 1, x - 1, x, 5)),
        lambda x: (ind.willr(x + 1, x - 1, x, 5), talib.WILLR(x + 1, x - 1, x, 5)),
        lambda x: (ind.stochrsi(x, 5, 3, 2), talib.STOCHRSI(x, 5, 3, 2, 0)),
    ],
)
def test_nan_as_talib(call) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(9)
    x = 100 + np.cumsum(rng.standard_normal(400))
    x[:6] = np.nan
    x[200] = np.nan
    ours, ref = call(x)
    for o, r in zip(np.atleast_2d(ours), np.atleast_2d(ref), strict=True):
        assert_same(o, r, scale=100.0)


def test_flat_market_is_defined() -> None:
    c = np.full(80, 42.0)
    assert (ind.cmo(c, 14)[14:] == 0.0).all()
    assert (ind.cci(c, c, c, 14)[13:] == 0.0).all()
    assert (ind.willr(c, c, c, 14)[13:] == 0.0).all()
    k, d = ind.stochrsi(c, 14, 5, 3)
    assert np.isnan(k[:20]).all() and (k[20:] == 0.0).all() and (d[20:] == 0.0).all()
