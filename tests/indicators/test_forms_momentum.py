"""Streaming and batch forms of the momentum family (MOM, ROC, CMO, STOCHRSI, CCI, WILLR):
stream == 1-D at every index and 2-D == row-wise 1-D, bit for bit, NaN gaps included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch import momentum as B
from engine.indicators.streaming import momentum as S
from tests.indicators.forms import SETTINGS, assert_batch_rowwise, assert_stream_equals, ohlcv

# (id, 1-D function of the inputs, stream factory, inputs: "c" close or "hlc")
STREAMS: list[tuple[str, Callable[..., Any], Callable[[], Any], str]] = [
    ("mom1", lambda c: ind.mom(c, 1), lambda: S.MOMStream(1), "c"),
    ("mom10", lambda c: ind.mom(c), lambda: S.MOMStream(), "c"),
    ("roc1", lambda c: ind.roc(c, 1), lambda: S.ROCStream(1), "c"),
    ("roc10", lambda c: ind.roc(c), lambda: S.ROCStream(), "c"),
    ("cmo1", lambda c: ind.cmo(c, 1), lambda: S.CMOStream(1), "c"),
    ("cmo7", lambda c: ind.cmo(c, 7), lambda: S.CMOStream(7), "c"),
    ("stochrsi111", lambda c: ind.stochrsi(c, 1, 1, 1), lambda: S.StochRSIStream(1, 1, 1), "c"),
    ("stochrsi543", lambda c: ind.stochrsi(c, 5, 4, 3), lambda: S.StochRSIStream(5, 4, 3), "c"),
    ("stochrsi_d20", lambda c: ind.stochrsi(c, 3, 2, 20),
     lambda: S.StochRSIStream(3, 2, 20), "c"),
    ("cci1", lambda h, lo, c: ind.cci(h, lo, c, 1), lambda: S.CCIStream(1), "hlc"),
    ("cci7", lambda h, lo, c: ind.cci(h, lo, c, 7), lambda: S.CCIStream(7), "hlc"),
    ("cci14", lambda h, lo, c: ind.cci(h, lo, c), lambda: S.CCIStream(), "hlc"),
    ("willr1", lambda h, lo, c: ind.willr(h, lo, c, 1), lambda: S.WillRStream(1), "hlc"),
    ("willr5", lambda h, lo, c: ind.willr(h, lo, c, 5), lambda: S.WillRStream(5), "hlc"),
    ("willr14", lambda h, lo, c: ind.willr(h, lo, c), lambda: S.WillRStream(), "hlc"),
]


def _pick(data: tuple[np.ndarray, ...], args: str) -> tuple[np.ndarray, ...]:
    h, lo, c, _vol = data
    return (c,) if args == "c" else (h, lo, c)


@pytest.mark.parametrize("name, fn, mk, args", STREAMS, ids=[s[0] for s in STREAMS])
@SETTINGS
@given(data=ohlcv(mid_nan=True))
def test_stream_equals_1d(name: str, fn: Any, mk: Any, args: str,
                          data: tuple[np.ndarray, ...]) -> None:
    assert_stream_equals(fn, mk, _pick(data, args))


BATCH: list[tuple[str, Callable[..., Any], Callable[..., Any], str]] = [
    ("mom", lambda c: B.mom_2d(c, 3), lambda c: ind.mom(c, 3), "c"),
    ("roc", lambda c: B.roc_2d(c, 3), lambda c: ind.roc(c, 3), "c"),
    ("cmo", lambda c: B.cmo_2d(c, 6), lambda c: ind.cmo(c, 6), "c"),
    ("stochrsi", lambda c: B.stochrsi_2d(c, 6, 4, 3), lambda c: ind.stochrsi(c, 6, 4, 3), "c"),
    ("cci", lambda h, lo, c: B.cci_2d(h, lo, c, 6), lambda h, lo, c: ind.cci(h, lo, c, 6),
     "hlc"),
    ("willr", lambda h, lo, c: B.willr_2d(h, lo, c, 6),
     lambda h, lo, c: ind.willr(h, lo, c, 6), "hlc"),
]


@pytest.mark.parametrize("name, two, one, args", BATCH, ids=[b[0] for b in BATCH])
@settings(max_examples=15, deadline=None)
@given(rows=st.lists(ohlcv(min_size=60, max_size=60, mid_nan=True), min_size=1, max_size=4))
def test_batch_equals_rowwise(name: str, two: Any, one: Any, args: str,
                              rows: list[tuple[np.ndarray, ...]]) -> None:
    assert_batch_rowwise(two, one, [_pick(r, args) for r in rows])


def test_batch_defaults_and_shapes() -> None:
    x = 100 + np.cumsum(np.random.default_rng(1).standard_normal((3, 40)), axis=1)
    for two, one in [(B.mom_2d, ind.mom), (B.roc_2d, ind.roc), (B.cmo_2d, ind.cmo)]:
        assert_batch_rowwise(two, one, [(r,) for r in x])
    assert_batch_rowwise(B.stochrsi_2d, ind.stochrsi, [(r,) for r in x])
    assert_batch_rowwise(B.cci_2d, ind.cci, [(r + 1, r - 1, r) for r in x])
    assert_batch_rowwise(B.willr_2d, ind.willr, [(r + 1, r - 1, r) for r in x])
    assert B.mom_2d(np.empty((0, 5))).shape == (0, 5)
    assert B.willr_2d(np.empty((2, 0)), np.empty((2, 0)), np.empty((2, 0))).shape == (2, 0)


def test_batch_validation() -> None:
    one = np.ones(10)
    two = np.ones((2, 10))
    bad: Any = 1.5
    close_only: tuple[Callable[..., Any], ...] = (B.mom_2d, B.roc_2d, B.cmo_2d, B.stochrsi_2d)
    for f in close_only:
        with pytest.raises(ValueError, match="2-D"):
            f(one)
        with pytest.raises(ValueError, match="period"):
            f(two, 0)
    with pytest.raises(ValueError, match="fastk_period"):
        B.stochrsi_2d(two, 5, 0)
    with pytest.raises(ValueError, match="fastd_period"):
        B.stochrsi_2d(two, 5, 3, bad)
    hlc: tuple[Callable[..., Any], ...] = (B.cci_2d, B.willr_2d)
    for f in hlc:
        with pytest.raises(ValueError, match="2-D"):
            f(one, one, one)
        with pytest.raises(ValueError, match="same candles"):
            f(two, two, np.ones((2, 11)))
        with pytest.raises(ValueError, match="same candles"):
            f(two, np.ones((3, 10)), two)
        with pytest.raises(ValueError, match="period"):
            f(two, two, two, 0)


def test_stream_validation() -> None:
    bad: Any = 2.0
    classes: tuple[Callable[..., Any], ...] = (
        S.MOMStream, S.ROCStream, S.CMOStream, S.CCIStream, S.WillRStream, S.StochRSIStream,
    )
    for cls in classes:
        with pytest.raises(ValueError, match="period"):
            cls(0)
        with pytest.raises(ValueError, match="period"):
            cls(bad)
    with pytest.raises(ValueError, match="fastk_period"):
        S.StochRSIStream(5, 0)
    with pytest.raises(ValueError, match="fastd_period"):
        S.StochRSIStream(5, 3, bad)


def _long_walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A BTC-like random walk (~1e5) with a volatility spike and a dead flat stretch."""
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal(n) * 50.0
    steps[n // 3 : n // 3 + 20] *= 200.0
    c = 1e5 + np.cumsum(steps)
    c[n // 2 : n // 2 + 300] = c[n // 2]
    h = c + rng.uniform(0, 40, n)
    lo = c - rng.uniform(0, 40, n)
    h[n // 2 : n // 2 + 300] = lo[n // 2 : n // 2 + 300] = c[n // 2]
    return h, lo, c


@pytest.mark.parametrize("gaps", [False, True], ids=["clean", "nan_gaps"])
def test_long_series_stream_equals_1d(gaps: bool) -> None:
    """25,000 candles: crosses the CMO/RSI division chunks (512), the WILLR extreme chunks
    (2048) and, with NaN gaps, the WILLR van Herk path and the STOCHRSI %D running sum."""
    n = 25_000
    h, lo, c = _long_walk(n, 7)
    if gaps:
        h[:3] = lo[:3] = c[:3] = np.nan
        c[5_000:5_004] = np.nan
        h[9_001] = np.nan
        lo[14_000:14_002] = np.nan
        h[20_000:20_003] = lo[20_000:20_003] = c[20_000:20_003] = np.nan
    cases: list[tuple[Callable[..., Any], Callable[[], Any], tuple[np.ndarray, ...]]] = [
        (lambda x: ind.mom(x, 10), lambda: S.MOMStream(10), (c,)),
        (lambda x: ind.roc(x, 10), lambda: S.ROCStream(10), (c,)),
        (lambda x: ind.cmo(x, 14), lambda: S.CMOStream(14), (c,)),
        (lambda x: ind.stochrsi(x, 14, 5, 20), lambda: S.StochRSIStream(14, 5, 20), (c,)),
        (lambda x, y, z: ind.cci(x, y, z, 20), lambda: S.CCIStream(20), (h, lo, c)),
        (lambda x, y, z: ind.willr(x, y, z, 14), lambda: S.WillRStream(14), (h, lo, c)),
    ]
    for fn, mk, inputs in cases:
        assert_stream_equals(fn, mk, inputs)
