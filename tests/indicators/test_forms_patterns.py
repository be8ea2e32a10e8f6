"""Streaming and batch forms of the candle patterns: stream == 1-D at every candle and
2-D == row-wise 1-D, signal for signal, NaN candles included; the data is built so that
every pattern actually fires."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch.patterns import (
    cdldoji_2d,
    cdlengulfing_2d,
    cdlhammer_2d,
    cdlmorningstar_2d,
    cdlshootingstar_2d,
)
from engine.indicators.streaming.patterns import (
    CDLDojiStream,
    CDLEngulfingStream,
    CDLHammerStream,
    CDLMorningStarStream,
    CDLShootingStarStream,
)
from tests.indicators.forms import SETTINGS, assert_batch_rowwise, assert_stream_equals, ohlcv

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def with_open(h: np.ndarray, lo: np.ndarray, c: np.ndarray, seed: int, mode: str) -> Arrays:
    """Opens for ``ohlcv`` candles (which have none): the previous close plus noise of
    about the candle's range, so bodies change colour, engulf and gap; with ``doji`` a
    third of the candles open at their close. High/low are widened to hold the open (NaN
    stays NaN)."""
    rng = np.random.default_rng(seed)
    n = c.shape[0]
    prev = np.r_[c[:1], c[:-1]]
    span = np.nan_to_num(h - lo, nan=0.0)
    o = prev.copy() if mode == "shift" else prev + span * rng.standard_normal(n) * 0.8
    if mode == "doji":
        pick = rng.uniform(0, 1, n) < 0.33
        o[pick] = c[pick]
    return o, np.maximum(h, o), np.minimum(lo, o), c


@st.composite
def candles(draw: Any, min_size: int = 0, max_size: int = 120) -> Arrays:
    h, lo, c, _vol = draw(ohlcv(min_size=min_size, max_size=max_size, mid_nan=True))
    return with_open(h, lo, c, draw(st.integers(0, 2**32 - 1)),
                     draw(st.sampled_from(["shift", "noise", "doji"])))


STREAMS: list[tuple[str, Callable[..., Any], Callable[[], Any]]] = [
    ("engulfing", ind.cdlengulfing, CDLEngulfingStream),
    ("doji", ind.cdldoji, CDLDojiStream),
    ("hammer", ind.cdlhammer, CDLHammerStream),
    ("shootingstar", ind.cdlshootingstar, CDLShootingStarStream),
    ("morningstar", ind.cdlmorningstar, CDLMorningStarStream),
    ("morningstar-0", lambda o, h, lo, c: ind.cdlmorningstar(o, h, lo, c, 0.0),
     lambda: CDLMorningStarStream(0.0)),
    ("morningstar-0.7", lambda o, h, lo, c: ind.cdlmorningstar(o, h, lo, c, 0.7),
     lambda: CDLMorningStarStream(0.7)),
]


@pytest.mark.parametrize("name, fn, mk", STREAMS, ids=[s[0] for s in STREAMS])
@SETTINGS
@given(data=candles())
def test_stream_equals_1d(name: str, fn: Any, mk: Any, data: Arrays) -> None:
    assert_stream_equals(fn, mk, data)


def _btc(n: int, seed: int) -> Arrays:
    """A BTC-like random walk around 1e5 with wicks, opens off the previous close (a fifth
    of them exactly at it: engulfing bodies sharing an end, +/-80), and a fifth of the
    candles opening within a hair of their close (doji, hammer, star bodies)."""
    rng = np.random.default_rng(seed)
    c = 1e5 * np.exp(np.cumsum(rng.standard_normal(n)) * 1e-3)
    o = np.r_[c[0], c[:-1]] + rng.standard_normal(n) * 60.0
    u = rng.uniform(0, 1, n)
    at_prev = u > 0.8
    o[at_prev] = np.r_[c[0], c[:-1]][at_prev]
    small = u < 0.2
    o[small] = c[small] + rng.standard_normal(small.sum()) * 2.0
    h = np.maximum(o, c) + rng.exponential(40.0, n)
    lo = np.minimum(o, c) - rng.exponential(40.0, n)
    return o, h, lo, c


def test_long_series_exact_and_signals_fire() -> None:
    """30,000 candles: the running sums are never restarted, so their drift over a long
    series is what the stream has to follow; every pattern fires many times."""
    data = _btc(30_000, 11)
    for name, fn, mk in STREAMS:
        out = fn(*data)
        assert out.dtype == np.int32
        assert np.count_nonzero(out) >= 20, name
        assert_stream_equals(fn, mk, data)
    assert set(np.unique(ind.cdlengulfing(*data))) == {-100, -80, 0, 80, 100}


def test_stream_returns_ints() -> None:
    o, h, lo, c = _btc(300, 3)
    for _name, fn, mk in STREAMS:
        s = mk()
        got = [s.update(o[i], h[i], lo[i], c[i]) for i in range(300)]
        assert all(type(x) is int for x in got)
        assert got == fn(o, h, lo, c).tolist()


def test_textbook_morning_star_streams() -> None:
    """The textbook candles of test_patterns, fed one by one."""
    o = [100.0 - i for i in range(12)]
    c = [x - 1.0 for x in o]
    h = [x + 0.5 for x in o]
    lo = [x - 1.5 for x in c]
    o5, h5, lo5, c5 = ([*o, 89.0, 84.0, 84.5], [*h, 89.2, 84.3, 88.2], [*lo, 84.8, 83.5, 84.4],
                       [*c, 85.0, 84.1, 88.0])
    s = CDLMorningStarStream()
    got = [s.update(*x) for x in zip(o5, h5, lo5, c5, strict=True)]
    assert got[-1] == 100
    assert got == ind.cdlmorningstar(o5, h5, lo5, c5).tolist()


@st.composite
def _rows(draw: Any) -> list[Arrays]:
    n = draw(st.integers(0, 80))
    return draw(st.lists(candles(min_size=n, max_size=n), min_size=1, max_size=4))


BATCH: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("engulfing", cdlengulfing_2d, ind.cdlengulfing),
    ("doji", cdldoji_2d, ind.cdldoji),
    ("hammer", cdlhammer_2d, ind.cdlhammer),
    ("shootingstar", cdlshootingstar_2d, ind.cdlshootingstar),
    ("morningstar", cdlmorningstar_2d, ind.cdlmorningstar),
    ("morningstar-0.5", lambda o, h, lo, c: cdlmorningstar_2d(o, h, lo, c, 0.5),
     lambda o, h, lo, c: ind.cdlmorningstar(o, h, lo, c, 0.5)),
]


@pytest.mark.parametrize("name, two, one", BATCH, ids=[b[0] for b in BATCH])
@settings(SETTINGS, max_examples=20)
@given(rows=_rows())
def test_batch_equals_rowwise(name: str, two: Any, one: Any, rows: list[Arrays]) -> None:
    assert_batch_rowwise(two, one, rows)


def test_batch_long_rows_fire() -> None:
    rows = [_btc(5000, s) for s in (1, 2, 3)]
    for name, two, one in BATCH:
        assert_batch_rowwise(two, one, rows)
        stacked = [np.stack([r[k] for r in rows]) for k in range(4)]
        assert np.count_nonzero(two(*stacked)) > 3, name


def test_batch_validation() -> None:
    one, two, other = np.ones(5), np.ones((2, 5)), np.ones((2, 6))
    for fn in (cdlengulfing_2d, cdldoji_2d, cdlhammer_2d, cdlshootingstar_2d,
               cdlmorningstar_2d):
        with pytest.raises(ValueError, match="2-D"):
            fn(one, one, one, one)
        with pytest.raises(ValueError, match="same candles"):
            fn(two, two, other, two)
        assert fn(two, two, two, two).dtype == np.int32
        assert fn(np.empty((0, 4)), *[np.empty((0, 4))] * 3).shape == (0, 4)
    with pytest.raises(ValueError, match="penetration"):
        cdlmorningstar_2d(two, two, two, two, -0.1)
    with pytest.raises(ValueError, match="penetration"):
        cdlmorningstar_2d(two, two, two, two, float("inf"))


def test_stream_validation() -> None:
    with pytest.raises(ValueError, match="penetration"):
        CDLMorningStarStream(-0.5)
    with pytest.raises(ValueError, match="penetration"):
        CDLMorningStarStream("x")  # type: ignore[arg-type]
