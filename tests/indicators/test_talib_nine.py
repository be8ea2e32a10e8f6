"""MACD, BBANDS, ATR, NATR, TRANGE, STOCH, STOCHF, OBV, STDDEV, Donchian vs TA-Lib.

Oscillators bounded in [0, 100] get an absolute floor of 1e-9 x 100: TA-Lib's own running
SMA of %K leaves ~1e-12 residue where the exact value is 0. MACD crosses zero, so its floor
is 1e-12 x the price level.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("periods", [(12, 26, 9), (5, 35, 5), (26, 12, 9), (2, 3, 1)])
def test_macd(candles: Candles, periods: tuple[int, int, int]) -> None:
    ours = ind.macd(candles.close, *periods)
    ref = talib.MACD(candles.close, *periods)
    scale = 1e-3 * float(np.max(np.abs(candles.close)))
    for o, r in zip(ours, ref, strict=True):
        assert_same(o, r, scale=scale)
    if periods == (12, 26, 9):
        assert np.isnan(ours[0][32]) and not np.isnan(ours[0][33])


@pytest.mark.parametrize("period, up, dn", [(20, 2.0, 2.0), (5, 1.0, 1.0), (50, 2.5, 1.5)])
def test_bbands(candles: Candles, period: int, up: float, dn: float) -> None:
    ours = ind.bbands(candles.close, period, up, dn)
    ref = talib.BBANDS(candles.close, period, up, dn)
    for o, r in zip(ours, ref, strict=True):
        assert_same(o, r)


@pytest.mark.parametrize("period", [1, 5, 14, 100])
def test_atr_natr_trange(candles: Candles, period: int) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    assert_same(ind.atr(h, lo, c, period), talib.ATR(h, lo, c, period))
    if period > 1:  # TA-Lib's NATR(1) returns the raw true range, unnormalised (a bug)
        assert_same(ind.natr(h, lo, c, period), talib.NATR(h, lo, c, period))
    else:
        assert_same(ind.natr(h, lo, c, 1), talib.TRANGE(h, lo, c) / c * 100.0)
    assert_same(ind.trange(h, lo, c), talib.TRANGE(h, lo, c))


@pytest.mark.parametrize("p", [(14, 3, 3), (5, 3, 3), (9, 1, 1), (14, 30, 20)])
def test_stoch(candles: Candles, p: tuple[int, int, int]) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    ours = ind.stoch(h, lo, c, *p)
    ref = talib.STOCH(h, lo, c, p[0], p[1], 0, p[2], 0)
    for o, r in zip(ours, ref, strict=True):
        assert_same(o, r, scale=100.0)
    fast = ind.stochf(h, lo, c, p[0], p[2])
    for o, r in zip(fast, talib.STOCHF(h, lo, c, p[0], p[2], 0), strict=True):
        assert_same(o, r, scale=100.0)


def test_obv(candles: Candles) -> None:
    assert_same(ind.obv(candles.close, candles.volume), talib.OBV(candles.close, candles.volume))


def _exact_std(x: np.ndarray, period: int) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    for i in range(period - 1, x.shape[0]):
        w = x[i - period + 1 : i + 1]
        m = math.fsum(w) / period
        out[i] = math.sqrt(math.fsum((w - m) ** 2) / period)
    return out


@pytest.mark.parametrize("period", [5, 20, 60])
def test_stddev_against_exact_reference(candles: Candles, period: int) -> None:
    # TA-Lib keeps a running sum of squares that drifts ~1e-8 relative at BTC prices, so the
    # reference here is an fsum two-pass computation; TA-Lib is checked loosely below.
    x = candles.close[:6000]
    ours = ind.stddev(x, period, 1.0)
    exact = _exact_std(x, period)
    assert_same(ours, exact, scale=1e-6 * float(np.max(x)))
    assert_same(ind.stddev(x, period, 2.0), 2.0 * exact, scale=1e-6 * float(np.max(x)))
    assert_same(ours, talib.STDDEV(x, period, 1.0), rtol=1e-5, scale=1e-6 * float(np.max(x)))


def test_donchian(candles: Candles) -> None:
    up, mid, lo = ind.donchian(candles.high, candles.low, 20)
    assert_same(up, talib.MAX(candles.high, 20))
    assert_same(lo, talib.MIN(candles.low, 20))
    assert_same(mid, (talib.MAX(candles.high, 20) + talib.MIN(candles.low, 20)) / 2)


def test_keltner_is_ema_plus_atr(candles: Candles) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    up, mid, low = ind.keltner(h, lo, c, 20, 10, 2.0)
    e, a = talib.EMA(c, 20), talib.ATR(h, lo, c, 10)
    assert_same(mid, e)
    ok = ~np.isnan(a)
    assert_same(up[ok], (e + 2 * a)[ok])
    assert_same(low[ok], (e - 2 * a)[ok])


@pytest.mark.parametrize(
    "call",
    [
        lambda x, t: (ind.macd(x, 3, 6, 2), talib.MACD(x, 3, 6, 2)),
        lambda x, t: (ind.bbands(x, 5), talib.BBANDS(x, 5)),
        lambda x, t: (ind.atr(x + 1, x - 1, x, 5), talib.ATR(x + 1, x - 1, x, 5)),
        lambda x, t: (
            ind.stoch(x + 1, x - 1, x, 5, 3, 3), talib.STOCH(x + 1, x - 1, x, 5, 3, 0, 3, 0)
        ),
        lambda x, t: (ind.obv(x, t), talib.OBV(x, t)),
    ],
)
def test_leading_and_interior_nan_as_talib(call) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    x = 100 + np.cumsum(rng.standard_normal(400))
    vol = rng.uniform(1, 10, 400)
    x[:9] = np.nan
    x[200] = np.nan
    ours, ref = call(x, vol)
    if isinstance(ref, tuple | list):
        for o, r in zip(ours, ref, strict=True):
            assert_same(o, r, scale=100.0)
    else:
        assert_same(ours, ref)
