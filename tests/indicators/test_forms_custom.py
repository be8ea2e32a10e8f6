"""Streaming and batch forms of the custom family (Supertrend, Parabolic SAR, Ichimoku):
stream == 1-D at every candle and 2-D == row-wise 1-D, bit for bit, NaN included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch.custom import ichimoku_2d, sar_2d, supertrend_2d
from engine.indicators.streaming.custom import IchimokuStream, SARStream, SupertrendStream
from tests.indicators.forms import SETTINGS, assert_batch_rowwise, assert_stream_equals, ohlcv

# (id, 1-D function of (high, low, close), stream factory, inputs used: "hlc" or "hl")
STREAMS: list[tuple[str, Callable[..., Any], Callable[[], Any], str]] = [
    ("supertrend-1", lambda h, lo, c: ind.supertrend(h, lo, c, 1, 1.0),
     lambda: SupertrendStream(1, 1.0), "hlc"),
    ("supertrend-3", lambda h, lo, c: ind.supertrend(h, lo, c, 3, 0.5),
     lambda: SupertrendStream(3, 0.5), "hlc"),
    ("supertrend-default", ind.supertrend, SupertrendStream, "hlc"),
    ("sar-default", lambda h, lo, c: ind.sar(h, lo), SARStream, "hl"),
    ("sar-fast", lambda h, lo, c: ind.sar(h, lo, 0.1, 0.5), lambda: SARStream(0.1, 0.5), "hl"),
    ("sar-zero", lambda h, lo, c: ind.sar(h, lo, 0.0, 0.0), lambda: SARStream(0.0, 0.0), "hl"),
    ("sar-accel-over-max", lambda h, lo, c: ind.sar(h, lo, 0.3, 0.2),
     lambda: SARStream(0.3, 0.2), "hl"),
    ("ichimoku-1", lambda h, lo, c: ind.ichimoku(h, lo, 1, 1, 1, 0),
     lambda: IchimokuStream(1, 1, 1, 0), "hl"),
    ("ichimoku-small", lambda h, lo, c: ind.ichimoku(h, lo, 2, 5, 7, 3),
     lambda: IchimokuStream(2, 5, 7, 3), "hl"),
    ("ichimoku-default", lambda h, lo, c: ind.ichimoku(h, lo), IchimokuStream, "hl"),
]


def _pick(args: str, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    return (h, lo, c) if args == "hlc" else (h, lo)


@pytest.mark.parametrize("name, fn, mk, args", STREAMS, ids=[s[0] for s in STREAMS])
@SETTINGS
@given(data=ohlcv(mid_nan=True))
def test_stream_equals_1d(name: str, fn: Any, mk: Any, args: str,
                          data: tuple[np.ndarray, ...]) -> None:
    h, lo, c, _vol = data
    assert_stream_equals(lambda *a: fn(h, lo, c), mk, _pick(args, h, lo, c))


def test_supertrend_direction_is_int() -> None:
    s = SupertrendStream(2)
    outs = [s.update(100.0 + i, 99.0 + i, 99.5 + i) for i in range(5)]
    assert outs[0] == (pytest.approx(np.nan, nan_ok=True), 0)
    assert all(type(d) is int for _, d in outs)
    assert outs[-1][1] == 1


def _walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A BTC-like random walk around 1e5 with real-looking high/low wicks."""
    rng = np.random.default_rng(seed)
    c = 1e5 * np.exp(np.cumsum(rng.standard_normal(n)) * 1e-3)
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) + rng.exponential(40.0, n)
    lo = np.minimum(o, c) - rng.exponential(40.0, n)
    return h, lo, c


def test_long_series_exact() -> None:
    """25,000 candles: many van Herk blocks of every Ichimoku period, thousands of SAR and
    Supertrend flips; then the same with leading NaN and NaN gaps (the 1-D kernel's NaN
    path for MAX/MIN, a SAR fed NaN)."""
    h, lo, c = _walk(25_000, 7)
    _line, trend = ind.supertrend(h, lo, c)
    assert np.count_nonzero(np.diff(trend[10:])) > 100  # the trend flips often
    assert_stream_equals(ind.supertrend, SupertrendStream, (h, lo, c))
    assert_stream_equals(ind.sar, SARStream, (h, lo))
    assert_stream_equals(ind.ichimoku, IchimokuStream, (h, lo))
    h2, lo2 = h[:8000].copy(), lo[:8000].copy()
    h2[:3] = np.nan
    lo2[1000:1004] = np.nan
    h2[2500] = np.nan
    h2[5000:5060] = np.nan
    assert_stream_equals(ind.sar, SARStream, (h2, lo2))
    assert_stream_equals(ind.ichimoku, IchimokuStream, (h2, lo2))
    assert_stream_equals(lambda a, b: ind.ichimoku(a, b, 5, 13, 31, 4),
                         lambda: IchimokuStream(5, 13, 31, 4), (h2, lo2))


@st.composite
def _rows(draw: Any) -> list[tuple[np.ndarray, ...]]:
    n = draw(st.integers(0, 80))
    return draw(st.lists(ohlcv(min_size=n, max_size=n, mid_nan=True), min_size=1, max_size=4))


BATCH: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("supertrend", lambda h, lo, c: supertrend_2d(h, lo, c, 4, 2.0),
     lambda h, lo, c: ind.supertrend(h, lo, c, 4, 2.0)),
    ("supertrend-1", lambda h, lo, c: supertrend_2d(h, lo, c, 1),
     lambda h, lo, c: ind.supertrend(h, lo, c, 1)),
    ("sar", lambda h, lo, c: sar_2d(h, lo, 0.05, 0.3), lambda h, lo, c: ind.sar(h, lo, 0.05, 0.3)),
    ("ichimoku", lambda h, lo, c: ichimoku_2d(h, lo, 3, 7, 12, 5),
     lambda h, lo, c: ind.ichimoku(h, lo, 3, 7, 12, 5)),
    ("ichimoku-default", lambda h, lo, c: ichimoku_2d(h, lo), lambda h, lo, c: ind.ichimoku(h, lo)),
]


@pytest.mark.parametrize("name, two, one", BATCH, ids=[b[0] for b in BATCH])
@settings(SETTINGS, max_examples=20)
@given(rows=_rows())
def test_batch_equals_rowwise(name: str, two: Any, one: Any,
                              rows: list[tuple[np.ndarray, ...]]) -> None:
    assert_batch_rowwise(two, one, [r[:3] for r in rows])


def test_batch_dtypes_and_empty() -> None:
    x = np.full((3, 40), 5.0)
    line, trend = supertrend_2d(x + 1, x - 1, x, 5)
    assert line.dtype == np.float64 and trend.dtype == np.int32
    assert (trend[:, 5:] == 1).all() and (trend[:, :5] == 0).all()
    assert supertrend_2d(np.empty((0, 7)), np.empty((0, 7)), np.empty((0, 7)))[0].shape == (0, 7)
    assert sar_2d(np.empty((2, 0)), np.empty((2, 0))).shape == (2, 0)
    assert all(a.shape == (2, 0) for a in ichimoku_2d(np.empty((2, 0)), np.empty((2, 0))))


def test_batch_validation() -> None:
    one, two, other = np.ones(5), np.ones((2, 5)), np.ones((2, 6))
    with pytest.raises(ValueError, match="2-D"):
        supertrend_2d(one, one, one)
    with pytest.raises(ValueError, match="2-D"):
        sar_2d(one, one)
    with pytest.raises(ValueError, match="2-D"):
        ichimoku_2d(one, one)
    with pytest.raises(ValueError, match="same candles"):
        supertrend_2d(two, two, other)
    with pytest.raises(ValueError, match="same candles"):
        sar_2d(two, other)
    with pytest.raises(ValueError, match="same candles"):
        ichimoku_2d(other, two)
    with pytest.raises(ValueError, match="period"):
        supertrend_2d(two, two, two, 0)
    with pytest.raises(ValueError, match="multiplier"):
        supertrend_2d(two, two, two, 3, float("nan"))
    with pytest.raises(ValueError, match=">= 0"):
        sar_2d(two, two, -0.1)
    with pytest.raises(ValueError, match="kijun"):
        ichimoku_2d(two, two, 9, 0)
    with pytest.raises(ValueError, match="displacement"):
        ichimoku_2d(two, two, 9, 26, 52, -1)
    with pytest.raises(ValueError, match="tenkan"):
        ichimoku_2d(two, two, 2.5)  # type: ignore[arg-type]


def test_stream_validation() -> None:
    with pytest.raises(ValueError, match="period"):
        SupertrendStream(0)
    with pytest.raises(ValueError, match="multiplier"):
        SupertrendStream(3, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        SARStream(0.02, -1.0)
    with pytest.raises(ValueError, match="senkou"):
        IchimokuStream(9, 26, 0)
    with pytest.raises(ValueError, match="displacement"):
        IchimokuStream(9, 26, 52, -1)
    assert IchimokuStream(displacement=0).displacement == 0
