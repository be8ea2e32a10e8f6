"""TRIX, PPO, ULTOSC and the DMI family (+DI, -DI, DX, ADX) against TA-Lib."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("period", [2, 9, 30])
def test_trix(candles: Candles, period: int) -> None:
    # TRIX is a percentage change of a smooth line, ~1e-3 %: the floor is 1e-9 x 1 %
    assert_same(ind.trix(candles.close, period), talib.TRIX(candles.close, period), scale=1.0)


@pytest.mark.parametrize("matype", [0, 1, 2])
@pytest.mark.parametrize("fast, slow", [(12, 26), (26, 12), (3, 4)])
def test_ppo(candles: Candles, fast: int, slow: int, matype: int) -> None:
    ours = ind.ppo(candles.close, fast, slow, matype)
    assert_same(ours, talib.PPO(candles.close, fast, slow, matype), scale=1.0)


def test_ppo_default_is_talib_default(candles: Candles) -> None:
    assert_same(ind.ppo(candles.close), talib.PPO(candles.close), scale=1.0)
    with pytest.raises(ValueError, match="matype"):
        ind.ppo(candles.close, matype=7)


@pytest.mark.parametrize("periods", [(7, 14, 28), (28, 3, 9), (2, 2, 2)])
def test_ultosc(candles: Candles, periods: tuple[int, int, int]) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    assert_same(ind.ultosc(h, lo, c, *periods), talib.ULTOSC(h, lo, c, *periods), scale=100.0)


@pytest.mark.parametrize("period", [2, 5, 14, 50])
def test_dmi_family(candles: Candles, period: int) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    pdi, mdi, a = talib.PLUS_DI(h, lo, c, period), talib.MINUS_DI(h, lo, c, period), \
        talib.ADX(h, lo, c, period)
    assert_same(ind.plus_di(h, lo, c, period), pdi, scale=100.0)
    assert_same(ind.minus_di(h, lo, c, period), mdi, scale=100.0)
    assert_same(ind.dx(h, lo, c, period), talib.DX(h, lo, c, period), scale=100.0)
    assert_same(ind.adx(h, lo, c, period), a, scale=100.0)
    for o, r in zip(ind.dmi(h, lo, c, period), (pdi, mdi, a), strict=True):
        assert_same(o, r, scale=100.0)


@pytest.mark.parametrize("col", ["close", "high", "low"])
def test_nan_as_talib(col: str) -> None:
    """A NaN high or low makes TA-Lib's true-range sums NaN for good: DI reads 0 from
    there, DX and ADX keep their last value; a NaN close only skips a true-range term."""
    rng = np.random.default_rng(8)
    c = 100 + np.cumsum(rng.standard_normal(300))
    h, lo = c + rng.uniform(0, 2, 300), c - rng.uniform(0, 2, 300)
    {"close": c, "high": h, "low": lo}[col][150] = np.nan
    c[:3] = np.nan
    for ours, ref in [
        (ind.adx(h, lo, c, 7), talib.ADX(h, lo, c, 7)),
        (ind.dx(h, lo, c, 7), talib.DX(h, lo, c, 7)),
        (ind.plus_di(h, lo, c, 7), talib.PLUS_DI(h, lo, c, 7)),
        (ind.minus_di(h, lo, c, 7), talib.MINUS_DI(h, lo, c, 7)),
        (ind.ultosc(h, lo, c, 3, 5, 9), talib.ULTOSC(h, lo, c, 3, 5, 9)),
        (ind.trix(c, 5), talib.TRIX(c, 5)), (ind.ppo(c, 4, 9), talib.PPO(c, 4, 9)),
    ]:
        assert_same(ours, ref, scale=100.0)


def test_flat_market_matches_talib() -> None:
    f = np.full(80, 5.0)
    for ours, ref in [
        (ind.adx(f, f, f, 5), talib.ADX(f, f, f, 5)), (ind.dx(f, f, f, 5), talib.DX(f, f, f, 5)),
        (ind.plus_di(f, f, f, 5), talib.PLUS_DI(f, f, f, 5)),
        (ind.ultosc(f, f, f, 3, 5, 7), talib.ULTOSC(f, f, f, 3, 5, 7)),
        (ind.trix(f, 5), talib.TRIX(f, 5)), (ind.ppo(f, 3, 5), talib.PPO(f, 3, 5)),
    ]:
        np.testing.assert_array_equal(ours, ref)
        assert np.isfinite(ours[~np.isnan(ours)]).all()
