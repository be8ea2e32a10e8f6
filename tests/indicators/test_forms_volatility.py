"""Streaming and batch forms of the volatility family (NATR, TRANGE, Donchian, Keltner):
stream == 1-D at every index, bit for bit, and 2-D == row-wise 1-D."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch.volatility import donchian_2d, keltner_2d, natr_2d, trange_2d
from engine.indicators.streaming.volatility import (
    DonchianStream,
    KeltnerStream,
    NATRStream,
    TRangeStream,
)
from tests.indicators.forms import (
    SETTINGS,
    assert_batch_rowwise,
    assert_exact,
    assert_stream_equals,
    ohlcv,
)

Case = tuple[str, Callable[..., Any], Callable[[], Any], str]

CASES: list[Case] = [
    ("natr1", lambda h, lo, c: ind.natr(h, lo, c, 1), lambda: NATRStream(1), "hlc"),
    ("natr3", lambda h, lo, c: ind.natr(h, lo, c, 3), lambda: NATRStream(3), "hlc"),
    ("natr14", lambda h, lo, c: ind.natr(h, lo, c), lambda: NATRStream(), "hlc"),
    ("trange", ind.trange, TRangeStream, "hlc"),
    ("donchian1", lambda h, lo: ind.donchian(h, lo, 1), lambda: DonchianStream(1), "hl"),
    ("donchian2", lambda h, lo: ind.donchian(h, lo, 2), lambda: DonchianStream(2), "hl"),
    ("donchian3", lambda h, lo: ind.donchian(h, lo, 3), lambda: DonchianStream(3), "hl"),
    ("donchian5", lambda h, lo: ind.donchian(h, lo, 5), lambda: DonchianStream(5), "hl"),
    ("donchian20", lambda h, lo: ind.donchian(h, lo), lambda: DonchianStream(), "hl"),
    ("keltner1_1", lambda h, lo, c: ind.keltner(h, lo, c, 1, 1, 1.0),
     lambda: KeltnerStream(1, 1, 1.0), "hlc"),
    ("keltner5_3", lambda h, lo, c: ind.keltner(h, lo, c, 5, 3, 1.5),
     lambda: KeltnerStream(5, 3, 1.5), "hlc"),
    ("keltner_default", ind.keltner, KeltnerStream, "hlc"),
    ("keltner3_12", lambda h, lo, c: ind.keltner(h, lo, c, 3, 12, 0.5),
     lambda: KeltnerStream(3, 12, 0.5), "hlc"),
]


@st.composite
def candles(draw: Any) -> tuple[np.ndarray, ...]:
    """``ohlcv(mid_nan=True)``, sometimes with zero closes (NATR's 0 branch), flat candles
    and NaN in high or low alone (the NaN paths of the max/min kernels)."""
    h, lo, c, vol = draw(ohlcv(mid_nan=True))
    n = c.shape[0]
    if n > 3 and draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        at = rng.integers(0, n, size=max(1, n // 8))
        what = draw(st.sampled_from(["zero_close", "flat", "nan_high", "nan_low"]))
        if what == "zero_close":
            c[at] = 0.0
        elif what == "flat":
            h[at] = c[at]
            lo[at] = c[at]
        elif what == "nan_high":
            h[at] = np.nan
        else:
            lo[at] = np.nan
    return h, lo, c, vol


def _pick(args: str, data: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    h, lo, c, _vol = data
    return {"hlc": (h, lo, c), "hl": (h, lo)}[args]


@pytest.mark.parametrize("name, fn, mk, args", CASES, ids=[c[0] for c in CASES])
@SETTINGS
@given(data=candles())
def test_stream_equals_1d(name: str, fn: Any, mk: Any, args: str,
                          data: tuple[np.ndarray, ...]) -> None:
    assert_exact(fn, mk, _pick(args, data))


def test_stream_defaults_and_validation() -> None:
    assert NATRStream().period == 14
    assert DonchianStream().period == 20
    k = KeltnerStream()
    assert (k.period, k.atr_period, k.multiplier) == (20, 10, 2.0)
    for bad in (lambda: NATRStream(0), lambda: DonchianStream(0), lambda: KeltnerStream(0),
                lambda: KeltnerStream(5, 0), lambda: KeltnerStream(5, 3, float("nan")),
                lambda: DonchianStream(2.5)):  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            bad()


def test_donchian_nan_inside_blocks() -> None:
    """NaN at every position of a block: where it opens the forward part or closes the
    backward part it wins, elsewhere it is skipped, exactly as the 1-D kernel's scheme."""
    rng = np.random.default_rng(7)
    for period in (1, 2, 3, 4, 5, 8):
        for at in range(2 * period + 2):
            h = 100 + np.cumsum(rng.standard_normal(40))
            lo = h - rng.uniform(0, 1, 40)
            h[at] = np.nan
            lo[(at + 3) % 40] = np.nan
            assert_exact(partial(ind.donchian, period=period),
                         partial(DonchianStream, period), (h, lo))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200), period=st.integers(1, 40))
def test_donchian_signed_zero_ties(seed: int, n: int, period: int) -> None:
    """Without NaN the kernel returns the last occurrence of a tied extreme, so where 0.0
    and -0.0 tie the stream's deque gives the same sign of zero (bit for bit)."""
    rng = np.random.default_rng(seed)
    h = rng.choice([0.0, -0.0, 1.0, -1.0], n)
    lo = rng.choice([0.0, -0.0, -1.0], n)
    assert_exact(partial(ind.donchian, period=period), partial(DonchianStream, period), (h, lo))


BATCH: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
    (lambda h, lo, c, v: natr_2d(h, lo, c, 5), lambda h, lo, c, v: ind.natr(h, lo, c, 5)),
    (lambda h, lo, c, v: natr_2d(h, lo, c, 1), lambda h, lo, c, v: ind.natr(h, lo, c, 1)),
    (lambda h, lo, c, v: trange_2d(h, lo, c), lambda h, lo, c, v: ind.trange(h, lo, c)),
    (lambda h, lo, c, v: donchian_2d(h, lo, 7), lambda h, lo, c, v: ind.donchian(h, lo, 7)),
    (lambda h, lo, c, v: donchian_2d(h, lo, 2), lambda h, lo, c, v: ind.donchian(h, lo, 2)),
    (lambda h, lo, c, v: keltner_2d(h, lo, c, 6, 4, 1.5),
     lambda h, lo, c, v: ind.keltner(h, lo, c, 6, 4, 1.5)),
    (lambda h, lo, c, v: keltner_2d(h, lo, c), lambda h, lo, c, v: ind.keltner(h, lo, c)),
]


@pytest.mark.parametrize("two, one", BATCH)
@settings(SETTINGS, max_examples=10)
@given(rows=st.integers(1, 60).flatmap(
    lambda n: st.lists(ohlcv(min_size=n, max_size=n, mid_nan=True), min_size=1, max_size=4)))
def test_batch_equals_rowwise(two: Any, one: Any, rows: list[tuple[np.ndarray, ...]]) -> None:
    assert_batch_rowwise(two, one, rows)


def test_batch_outputs_are_contiguous() -> None:
    h = np.full((3, 30), 2.0)
    for out in (*donchian_2d(h, h, 4), *keltner_2d(h, h, h, 4, 3)):
        assert out.shape == (3, 30) and out.flags.c_contiguous and out.dtype == np.float64


def test_batch_validation() -> None:
    one = np.ones(5)
    two = np.ones((2, 5))
    with pytest.raises(ValueError, match="2-D"):
        natr_2d(one, one, one)
    with pytest.raises(ValueError, match="2-D"):
        donchian_2d(one, one)
    with pytest.raises(ValueError, match="same candles"):
        trange_2d(two, two, np.ones((2, 6)))
    with pytest.raises(ValueError, match="same candles"):
        keltner_2d(two, np.ones((3, 5)), two)
    with pytest.raises(ValueError, match="period"):
        natr_2d(two, two, two, 0)
    with pytest.raises(ValueError, match="period"):
        donchian_2d(two, two, 0)
    with pytest.raises(ValueError, match="atr_period"):
        keltner_2d(two, two, two, 5, 0)
    with pytest.raises(ValueError, match="multiplier"):
        keltner_2d(two, two, two, 5, 3, float("inf"))


def test_long_btc_walk_stream_exact() -> None:
    """30,000 candles around 1e5 (several of the max/min kernels' 2,048-candle chunks),
    once clean and once with feed gaps (the NaN scheme over many blocks)."""
    rng = np.random.default_rng(20240611)
    n = 30_000
    c = 1e5 * np.exp(np.cumsum(rng.standard_normal(n) * 1e-3))
    h = c * (1 + rng.uniform(0, 2e-3, n))
    lo = c * (1 - rng.uniform(0, 2e-3, n))
    gappy = [a.copy() for a in (h, lo, c)]
    for at in rng.integers(100, n - 10, 12):
        for a in gappy:
            a[at : at + 3] = np.nan
    for hh, ll, cc in ((h, lo, c), tuple(gappy)):
        assert_stream_equals(lambda a, b, x: ind.natr(a, b, x, 14), lambda: NATRStream(14),
                             (hh, ll, cc))
        assert_stream_equals(ind.trange, TRangeStream, (hh, ll, cc))
        assert_stream_equals(lambda a, b: ind.donchian(a, b, 20), lambda: DonchianStream(20),
                             (hh, ll))
        assert_stream_equals(lambda a, b: ind.donchian(a, b, 3), lambda: DonchianStream(3),
                             (hh, ll))
        assert_stream_equals(ind.keltner, KeltnerStream, (hh, ll, cc))
