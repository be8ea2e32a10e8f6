"""Streaming and batch forms of the statistics family (LINEARREG and its slope, angle and
intercept, VAR, ZSCORE): stream == 1-D at every index and 2-D == row-wise 1-D, bit for
bit, across the kernels' restart schedules and NaN gaps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch import statistics as B
from engine.indicators.statistics import LR_BLOCK
from engine.indicators.streaming import statistics as S
from engine.indicators.volatility import moments_block
from tests.indicators.forms import SETTINGS, assert_batch_rowwise, assert_stream_equals, ohlcv

LR = [
    ("linearreg", ind.linearreg, S.LinearRegStream, B.linearreg_2d),
    ("slope", ind.linearreg_slope, S.LinearRegSlopeStream, B.linearreg_slope_2d),
    ("angle", ind.linearreg_angle, S.LinearRegAngleStream, B.linearreg_angle_2d),
    ("intercept", ind.linearreg_intercept, S.LinearRegInterceptStream,
     B.linearreg_intercept_2d),
]
ALL = [*LR, ("var", ind.var, S.VarStream, B.var_2d), ("zscore", ind.zscore, S.ZScoreStream,
                                                         B.zscore_2d)]
LR_NAMES = {a[0] for a in LR}


def _at(one: Callable[..., Any], period: int) -> Callable[..., Any]:
    return lambda c: one(c, period)


def _mk(cls: Callable[..., Any], period: int) -> Callable[[], Any]:
    return lambda: cls(period)


# (id, 1-D function of close, stream factory): the minimum period, a small one, and one
# long enough (with max_size=160 below) to see the regression restart at 4 * period
STREAMS: list[tuple[str, Callable[..., Any], Callable[[], Any]]] = [
    (f"{name}{p}", _at(one, p), _mk(cls, p))
    for name, one, cls, _two in ALL
    for p in ((2 if name in LR_NAMES else 1), 5, 17)
]


@pytest.mark.parametrize("name, fn, mk", STREAMS, ids=[s[0] for s in STREAMS])
@SETTINGS
@given(data=ohlcv(mid_nan=True, max_size=160))
def test_stream_equals_1d(name: str, fn: Any, mk: Any, data: tuple[np.ndarray, ...]) -> None:
    assert_stream_equals(fn, mk, (data[2],))


@pytest.mark.parametrize("name, one, cls, two", ALL, ids=[a[0] for a in ALL])
@settings(max_examples=10, deadline=None)
@given(rows=st.lists(ohlcv(min_size=80, max_size=80, mid_nan=True), min_size=1, max_size=4),
       period=st.sampled_from([2, 3, 8]))
def test_batch_equals_rowwise(name: str, one: Any, cls: Any, two: Any,
                              rows: list[tuple[np.ndarray, ...]], period: int) -> None:
    assert_batch_rowwise(lambda c: two(c, period), lambda c: one(c, period),
                         [(r[2],) for r in rows])


@pytest.mark.parametrize("name, one, cls, two", ALL, ids=[a[0] for a in ALL])
def test_batch_defaults_and_validation(name: str, one: Any, cls: Any, two: Any) -> None:
    x = 100 + np.cumsum(np.random.default_rng(3).standard_normal((3, 70)), axis=1)
    assert_batch_rowwise(two, one, [(r,) for r in x])
    assert two(np.empty((0, 4))).shape == (0, 4)
    with pytest.raises(ValueError, match="2-D"):
        two(np.ones(10))
    with pytest.raises(ValueError, match="2-D"):
        two(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="period"):
        two(np.ones((2, 10)), 0)
    with pytest.raises(ValueError, match="period"):
        two(np.ones((2, 10)), 3.0)
    with pytest.raises(ValueError, match="period"):
        cls(0)
    if name in LR_NAMES:  # a line needs two points, as in the 1-D form
        with pytest.raises(ValueError, match=">= 2"):
            two(np.ones((2, 10)), 1)
        with pytest.raises(ValueError, match=">= 2"):
            cls(1)


def _long_series(n: int) -> np.ndarray:
    """A BTC-like random walk (~1e5) with a volatility spike followed by a dead flat
    stretch (the moments' drift-control recompute) and a slow grind."""
    rng = np.random.default_rng(11)
    steps = rng.standard_normal(n) * 60.0
    steps[4_000:4_010] *= 500.0
    steps[4_010:4_400] = 0.0
    steps[15_000:] *= 0.01
    return 1e5 + np.cumsum(steps)


@pytest.mark.parametrize("gaps", [False, True], ids=["clean", "nan_gaps"])
def test_long_series_stream_equals_1d(gaps: bool) -> None:
    """26,000 candles cross several moment blocks (``moments_block``: 8192 outputs, or 16
    periods), the moments' drift-control recomputes (after the spike) and hundreds of
    regression restarts; with gaps, leading NaN and a NaN run that leaves the window (the
    regression recovers at its next restart; the moments stay NaN for good, block
    boundaries included, as the 1-D form does)."""
    n = 26_000
    c = _long_series(n)
    if gaps:
        c[:2] = np.nan
        c[3_000:3_003] = np.nan
    assert n > 3 * moments_block(5) and n > 2 * moments_block(600)
    assert n > 10 * max(LR_BLOCK, 4 * 600)
    for p in (5, 600):
        for _name, one, cls, _two in ALL:
            assert_stream_equals(_at(one, p), _mk(cls, p), (c,))
