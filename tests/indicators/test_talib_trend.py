"""DEMA, TEMA, KAMA, HMA, VWMA, ZLEMA (and WMA's accuracy) against TA-Lib on real candles."""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")

CASES = [
    (ind.dema, talib.DEMA), (ind.tema, talib.TEMA), (ind.kama, talib.KAMA),
    (ind.hma, talib.HMA), (ind.zlema, talib.ZLEMA), (ind.wma, talib.WMA),
]


@pytest.mark.parametrize("fn, ref", CASES, ids=[c[1].__name__ for c in CASES])
@pytest.mark.parametrize("period", [1, 2, 5, 14, 30])
def test_matches_talib(candles: Candles, fn, ref, period: int) -> None:  # type: ignore[no-untyped-def]
    assert_same(fn(candles.close, period), ref(candles.close, period))


@pytest.mark.parametrize("period", [1, 2, 20])
def test_vwma_matches_talib(candles: Candles, period: int) -> None:
    c, vol = candles.close, candles.volume
    assert_same(ind.vwma(c, vol, period), talib.VWMA(c, vol, period))


@pytest.mark.parametrize("fn, ref", CASES, ids=[c[1].__name__ for c in CASES])
def test_nan_input_as_talib(fn, ref) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    x = 100 + np.cumsum(rng.standard_normal(500))
    x[:7] = np.nan
    x[300] = np.nan
    assert_same(fn(x, 9), ref(x, 9))


def test_warmup_lengths() -> None:
    x = np.linspace(1.0, 2.0, 200)
    assert np.isnan(ind.dema(x, 10)[:18]).all() and not np.isnan(ind.dema(x, 10)[18])
    assert np.isnan(ind.tema(x, 10)[:27]).all() and not np.isnan(ind.tema(x, 10)[27])
    assert np.isnan(ind.zlema(x, 10)[:13]).all() and not np.isnan(ind.zlema(x, 10)[13])
    assert np.isnan(ind.hma(x, 16)[:18]).all() and not np.isnan(ind.hma(x, 16)[18])
    assert np.isnan(ind.kama(x, 10)[:10]).all() and not np.isnan(ind.kama(x, 10)[10])


def test_wma_stays_exact_over_long_runs() -> None:
    """TA-Lib's former running WMA drifted at BTC prices; ours restarts its sums."""
    rng = np.random.default_rng(0)
    x = 30_000 + np.cumsum(rng.standard_normal(20_000)) * 20
    w = np.arange(1.0, 3.0)
    exact = np.full(x.shape, np.nan)
    for i in range(1, x.shape[0]):
        exact[i] = math.fsum(x[i - 1 : i + 1] * w) / 3.0
    assert_same(ind.wma(x, 2), exact, rtol=1e-11)
