"""The shared building blocks: exact FMA on both sides, the sliding max/min, the blocked
SMA running sum, OBV's NaN volume edge case and the cache stamp."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import engine.indicators as ind
from engine.indicators import _cache, _fma
from engine.indicators import streaming as S
from engine.indicators._common import fma, sliding_max_into, sliding_min_into, sma_block
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@njit(cache=False)
def _fma_kernel(a: float, b: float, c: float) -> float:
    return fma(a, b, c)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=400, deadline=None)
@given(a=finite, b=finite, c=finite)
def test_python_fma_equals_kernel_fma(a: float, b: float, c: float) -> None:
    """Streams repeat the kernels' fused multiply-adds in Python: both must round once."""
    got = _fma._fma_exact(a, b, c)
    ref = _fma_kernel(a, b, c)
    assert got == ref or (math.isnan(got) and math.isnan(ref))


def test_python_fma_rounds_once() -> None:
    a = 1.0 + 2.0**-30
    # a*a = 1 + 2^-29 + 2^-60: a double product drops 2^-60, the fused result keeps it
    assert _fma._fma_exact(a, a, -(1.0 + 2.0**-29)) == 2.0**-60
    assert a * a - (1.0 + 2.0**-29) == 0.0
    assert _fma._fma_exact(1e308, 10.0, -math.inf) == -math.inf
    assert math.isnan(_fma._fma_exact(math.inf, 0.0, 1.0))
    assert _fma._fma_exact(1e308, 10.0, 0.0) == math.inf


@pytest.mark.parametrize("period", [1, 2, 3, 4, 5, 7, 8, 14, 20, 33, 200])
def test_sliding_extremes_match_talib(candles, period: int) -> None:  # type: ignore[no-untyped-def]
    h, lo = candles.high, candles.low
    up = np.empty_like(h)
    dn = np.empty_like(lo)
    sliding_max_into(h, 0, period, up)
    sliding_min_into(lo, 0, period, dn)
    if period == 1:  # TA-Lib refuses period 1
        assert np.array_equal(up, h) and np.array_equal(dn, lo)
        return
    assert np.array_equal(up, talib.MAX(h, period), equal_nan=True)
    assert np.array_equal(dn, talib.MIN(lo, period), equal_nan=True)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.one_of(st.integers(0, 9).map(float), st.just(math.nan)), max_size=60),
    period=st.integers(2, 12),
)
def test_sliding_extremes_nan_like_talib(data: list[float], period: int) -> None:
    """TA-Lib's MAX/MIN let a NaN through or not depending on where it sits in its blocks;
    the NaN path reproduces that exactly."""
    x = np.array(data, dtype=np.float64)
    if x.size == 0 or np.isnan(x).all():
        return
    start = int(np.argmax(~np.isnan(x)))
    for fn, ref in ((sliding_max_into, talib.MAX), (sliding_min_into, talib.MIN)):
        out = np.empty_like(x)
        fn(x, start, period, out)
        assert np.array_equal(out, ref(x, period), equal_nan=True)


def test_sma_blocks_match_talib_and_stream() -> None:
    """Long enough for several restart blocks (and the four-lane part), with a NaN that
    poisons everything after it as in TA-Lib."""
    period = 30
    n = 9 * sma_block(period) + 123
    rng = np.random.default_rng(11)
    x = 1e5 + np.cumsum(rng.standard_normal(n)) * 50
    assert_same(ind.sma(x, period), talib.SMA(x, period))
    stream = S.SMAStream(period)
    got = np.array([stream.update(v) for v in x])
    np.testing.assert_array_equal(got, ind.sma(x, period))
    y = x.copy()
    y[5 * sma_block(period) + 7] = np.nan
    ours = ind.sma(y, period)
    assert_same(ours, talib.SMA(y, period))
    stream = S.SMAStream(period)
    np.testing.assert_array_equal(np.array([stream.update(v) for v in y]), ours)


def test_obv_nan_volume_on_unchanged_close() -> None:
    close = np.array([1.0, 2.0, 2.0, 1.5, 1.5, 3.0])
    vol = np.array([10.0, 5.0, np.nan, 2.0, np.nan, 4.0])
    ours = ind.obv(close, vol)
    assert_same(ours, talib.OBV(close, vol))
    np.testing.assert_array_equal(ours, [10.0, 15.0, 15.0, 13.0, 13.0, 17.0])
    stream = S.OBVStream()
    np.testing.assert_array_equal([stream.update(c, v) for c, v in zip(close, vol, strict=True)],
                                  ours)


def test_kernels_are_stamped_with_the_package_sources() -> None:
    """A kernel compiled into another module's cache entry must be invalidated when the
    file it came from changes: every kernel's cache stamp covers all package sources."""
    from engine.indicators import batch, trend

    for disp in (trend._sma, batch.core._ema2):
        locator = disp._cache._impl.locator
        assert isinstance(locator, _cache.PackageLocator)
        assert locator.get_source_stamp()[1] == _cache.package_stamp()


def test_moment_blocks_match_stream_and_exact() -> None:
    """Several restart blocks of the sliding moments (and the four-lane part): streams
    equal batch bit for bit, values stay near the exact ones, and a NaN poisons the rest as
    in TA-Lib's BBANDS."""
    from engine.indicators.volatility import moments_block

    period = 20
    n = 9 * moments_block(period) + 77
    rng = np.random.default_rng(12)
    x = 1e5 + np.cumsum(rng.standard_normal(n)) * 50
    x[n // 3 : n // 3 + 400] = x[n // 3]  # volatility collapses: forces recomputes
    sd = ind.stddev(x, period, 1.5)
    up, mid, lo = ind.bbands(x, period, 2.0, 1.0)
    s1, s2 = S.StdDevStream(period, 1.5), S.BBandsStream(period, 2.0, 1.0)
    np.testing.assert_array_equal(np.array([s1.update(v) for v in x]), sd)
    np.testing.assert_array_equal(np.array([s2.update(v) for v in x]), np.stack([up, mid, lo]).T)
    w = np.lib.stride_tricks.sliding_window_view(x, period)
    exact = np.sqrt(((w - w.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)) * 1.5
    assert_same(sd[period - 1 :], exact, rtol=1e-7, scale=1e-3)
    y = x.copy()
    y[5 * moments_block(period) + 3] = np.nan
    ours = ind.bbands(y, period)
    for o, r in zip(ours, talib.BBANDS(y, period), strict=True):
        assert_same(o, r, rtol=1e-6, scale=float(np.nanmax(y)) * 1e-6)
