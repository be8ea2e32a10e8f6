"""Streaming and batch forms of the trend family: stream == 1-D at every index, bit for bit
(leading NaN, NaN runs inside, constant/stepped series, 1e-6..1e12 scales, arrays shorter
than a period), 2-D == row-wise 1-D, the 2-D input checks, and one long BTC-like series
that crosses every restart of WMA (and HMA's three WMAs) many times."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.indicators import trend as T
from engine.indicators.batch import trend as B
from engine.indicators.streaming import trend as S
from tests.indicators.forms import SETTINGS, assert_batch_rowwise, assert_stream_equals, ohlcv

# name -> (1-D function, stream class, 2-D function, uses volume)
FORMS: dict[str, tuple[Callable[..., Any], type, Callable[..., Any], bool]] = {
    "wma": (T.wma, S.WMAStream, B.wma_2d, False),
    "smma": (T.smma, S.SMMAStream, B.smma_2d, False),
    "rma": (T.rma, S.RMAStream, B.rma_2d, False),
    "dema": (T.dema, S.DEMAStream, B.dema_2d, False),
    "tema": (T.tema, S.TEMAStream, B.tema_2d, False),
    "zlema": (T.zlema, S.ZLEMAStream, B.zlema_2d, False),
    "kama": (T.kama, S.KAMAStream, B.kama_2d, False),
    "hma": (T.hma, S.HMAStream, B.hma_2d, False),
    "vwma": (T.vwma, S.VWMAStream, B.vwma_2d, True),
}

# small periods on purpose: with 120 candles WMA (block 8 * period) restarts several times,
# HMA's half/full/outer WMAs get every parity, ZLEMA gets lag 0, 1, 2, 4
PERIODS: dict[str, list[int]] = {
    "wma": [1, 2, 3, 7],
    "smma": [1, 5],
    "rma": [3],
    "dema": [1, 2, 6],
    "tema": [1, 2, 5],
    "zlema": [1, 2, 3, 5, 9],
    "kama": [1, 2, 10],
    "hma": [1, 2, 3, 4, 9, 16],
    "vwma": [1, 2, 7],
}

CASES = [(name, p) for name, ps in PERIODS.items() for p in ps]


def _inputs(name: str, data: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    _h, _lo, c, vol = data
    return (c, vol) if FORMS[name][3] else (c,)


@pytest.mark.parametrize("name, period", CASES, ids=[f"{n}-{p}" for n, p in CASES])
@SETTINGS
@given(data=ohlcv(mid_nan=True))
def test_stream_equals_1d(name: str, period: int, data: tuple[np.ndarray, ...]) -> None:
    one, stream, _two, _ = FORMS[name]
    assert_stream_equals(lambda *a: one(*a, period), lambda: stream(period),
                         _inputs(name, data))


def test_stream_defaults_match_1d() -> None:
    """Default periods agree (a stream built with no argument tracks the default 1-D call)."""
    rng = np.random.default_rng(7)
    c = 1e5 + np.cumsum(rng.standard_normal(200))
    vol = rng.uniform(0, 1000, 200)
    for one, stream, _two, uses_vol in FORMS.values():
        args = (c, vol) if uses_vol else (c,)
        assert_stream_equals(one, stream, args)


@pytest.mark.parametrize("name", list(FORMS))
@SETTINGS
@given(rows=st.lists(ohlcv(min_size=60, max_size=60, mid_nan=True), min_size=1, max_size=4),
       period=st.sampled_from([1, 2, 3, 5, 8]))
def test_batch_equals_rowwise(name: str, rows: list[tuple[np.ndarray, ...]],
                              period: int) -> None:
    one, _stream, two, _ = FORMS[name]
    assert_batch_rowwise(lambda *a: two(*a, period), lambda *a: one(*a, period),
                         [_inputs(name, r) for r in rows])


@pytest.mark.parametrize("name", ["kama", "hma"])
def test_batch_period_one_is_a_copy(name: str) -> None:
    x = np.arange(12.0).reshape(2, 6)
    out = FORMS[name][2](x, 1)
    np.testing.assert_array_equal(out, x)
    assert out is not x and not np.shares_memory(out, x)


@pytest.mark.parametrize("name", list(FORMS))
def test_batch_validation(name: str) -> None:
    _one, stream, two, uses_vol = FORMS[name]
    ok = np.ones((2, 5))
    call = two
    flat = (np.ones(5), np.ones(5)) if uses_vol else (np.ones(5),)
    with pytest.raises(ValueError, match="2-D"):
        call(*flat, 3)
    if uses_vol:
        with pytest.raises(ValueError, match="same candles"):
            call(ok, np.ones((2, 6)), 3)
        with pytest.raises(ValueError, match="same candles"):
            call(ok, np.ones((3, 5)), 3)
    args = (ok, ok) if uses_vol else (ok,)
    for bad in (0, -2, 2.5, True, "3"):
        with pytest.raises(ValueError, match="period"):
            call(*args, bad)
        with pytest.raises(ValueError, match="period"):
            stream(bad)
    assert call(*args, 3).dtype == np.float64


def _btc_walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = 1e5 * np.exp(np.cumsum(rng.standard_normal(n) * 1e-3))
    return c, rng.uniform(0.0, 50.0, n)


LONG: list[tuple[str, int]] = [
    ("wma", 2), ("wma", 30), ("wma", 200), ("smma", 14), ("dema", 30), ("tema", 9),
    ("zlema", 21), ("kama", 10), ("hma", 20), ("hma", 55), ("vwma", 30),
]


@pytest.mark.parametrize("gap", [False, True], ids=["clean", "nan-gap"])
def test_long_btc_series(gap: bool) -> None:
    """25,000 candles at ~1e5 with three leading NaN: WMA period 30 restarts its sums
    ~100 times (every 240 outputs), period 2 ~1,500 times, HMA's outer WMA every 32 or 56;
    every running sum and chained EMA has long to drift. With ``gap`` a NaN run sits in the
    middle, so WMA/HMA recover exactly at the first restart after it leaves the window
    while the never-rebuilt sums (EMA chains, KAMA, VWMA) stay NaN, in both forms."""
    c, vol = _btc_walk(25_000, 20240611)
    c[:3] = np.nan
    vol[:3] = np.nan
    if gap:
        c[12_345:12_349] = np.nan
        vol[17_000] = np.nan
    for name, period in LONG:
        one, stream, _two, uses_vol = FORMS[name]
        args = (c, vol) if uses_vol else (c,)
        assert_stream_equals(partial(one, period=period), partial(stream, period), args)
    if gap:  # the restart really does bring WMA back (and the test covers it)
        assert np.isfinite(T.wma(c, 30)[-1]) and np.isnan(T.wma(c, 30)[12_350])


def test_long_batch_rowwise() -> None:
    """The 2-D forms on long rows (one clean, one with a NaN gap and a different leading
    NaN count) equal the 1-D results row by row."""
    c, vol = _btc_walk(25_000, 99)
    c2, vol2 = c.copy(), vol.copy()
    c2[:5] = np.nan
    c2[9_000:9_003] = np.nan
    vol2[14_000] = np.nan
    rows = [(c, vol), (c2, vol2)]
    for name, period in LONG:
        one, _stream, two, uses_vol = FORMS[name]
        picked = rows if uses_vol else [(r[0],) for r in rows]
        assert_batch_rowwise(partial(two, period=period), partial(one, period=period), picked)


@pytest.mark.parametrize("name", list(FORMS))
@pytest.mark.parametrize("shape", [(0, 7), (3, 0)])
def test_batch_empty(name: str, shape: tuple[int, int]) -> None:
    _one, _stream, two, uses_vol = FORMS[name]
    x = np.ones(shape)
    out = two(x, x, 3) if uses_vol else two(x, 3)
    assert out.shape == shape and out.dtype == np.float64
