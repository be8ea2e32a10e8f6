"""Streaming and batch forms of the oscillator family: every stream equals the 1-D
function at every candle (gaps in the feed included), every 2-D form equals the 1-D
function row by row, bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch import oscillators as B
from engine.indicators.streaming import oscillators as S
from tests.indicators.forms import (
    SETTINGS,
    assert_batch_rowwise,
    assert_stream_equals,
    ohlcv,
)

# (id, 1-D function of (high, low, close), stream factory, inputs: "c" or "hlc")
Case = tuple[str, Callable[..., Any], Callable[[], Any], str]

STREAMS: list[Case] = [
    ("stochf-1-1", lambda h, lo, c: ind.stochf(h, lo, c, 1, 1), lambda: S.StochFStream(1, 1),
     "hlc"),
    ("stochf-5-3", lambda h, lo, c: ind.stochf(h, lo, c), lambda: S.StochFStream(), "hlc"),
    ("stochf-9-20", lambda h, lo, c: ind.stochf(h, lo, c, 9, 20),
     lambda: S.StochFStream(9, 20), "hlc"),
    ("trix-1", lambda h, lo, c: ind.trix(c, 1), lambda: S.TRIXStream(1), "c"),
    ("trix-2", lambda h, lo, c: ind.trix(c, 2), lambda: S.TRIXStream(2), "c"),
    ("trix-9", lambda h, lo, c: ind.trix(c, 9), lambda: S.TRIXStream(9), "c"),
    ("ppo-sma", lambda h, lo, c: ind.ppo(c, 3, 10, 0), lambda: S.PPOStream(3, 10, 0), "c"),
    ("ppo-ema", lambda h, lo, c: ind.ppo(c, 12, 5), lambda: S.PPOStream(12, 5), "c"),
    ("ppo-wma", lambda h, lo, c: ind.ppo(c, 4, 9, 2), lambda: S.PPOStream(4, 9, 2), "c"),
    ("ppo-wma-1-2", lambda h, lo, c: ind.ppo(c, 1, 2, 2), lambda: S.PPOStream(1, 2, 2), "c"),
    ("ppo-sma-1-1", lambda h, lo, c: ind.ppo(c, 1, 1, 0), lambda: S.PPOStream(1, 1, 0), "c"),
    ("ultosc-1-1-1", lambda h, lo, c: ind.ultosc(h, lo, c, 1, 1, 1),
     lambda: S.UltOscStream(1, 1, 1), "hlc"),
    ("ultosc-7-3-5", lambda h, lo, c: ind.ultosc(h, lo, c, 7, 3, 5),
     lambda: S.UltOscStream(7, 3, 5), "hlc"),
    ("ultosc-default", lambda h, lo, c: ind.ultosc(h, lo, c), lambda: S.UltOscStream(), "hlc"),
    ("adx-1", lambda h, lo, c: ind.adx(h, lo, c, 1), lambda: S.ADXStream(1), "hlc"),
    ("adx-5", lambda h, lo, c: ind.adx(h, lo, c, 5), lambda: S.ADXStream(5), "hlc"),
    ("dx-3", lambda h, lo, c: ind.dx(h, lo, c, 3), lambda: S.DXStream(3), "hlc"),
    ("plus_di-4", lambda h, lo, c: ind.plus_di(h, lo, c, 4), lambda: S.PlusDIStream(4), "hlc"),
    ("minus_di-4", lambda h, lo, c: ind.minus_di(h, lo, c, 4), lambda: S.MinusDIStream(4),
     "hlc"),
    ("dmi-2", lambda h, lo, c: ind.dmi(h, lo, c, 2), lambda: S.DMIStream(2), "hlc"),
    ("dmi-14", lambda h, lo, c: ind.dmi(h, lo, c), lambda: S.DMIStream(), "hlc"),
]


def _check(fn: Callable[..., Any], mk: Callable[[], Any], args: str,
           h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> None:
    if args == "c":
        assert_stream_equals(lambda x: fn(h, lo, x), mk, [c])
    else:
        assert_stream_equals(fn, mk, [h, lo, c])


@pytest.mark.parametrize("name, fn, mk, args", STREAMS, ids=[s[0] for s in STREAMS])
@SETTINGS
@given(data=ohlcv(mid_nan=True))
def test_stream_equals_1d_every_step(name: str, fn: Any, mk: Any, args: str,
                                     data: tuple[np.ndarray, ...]) -> None:
    h, lo, c, _vol = data
    _check(fn, mk, args, h, lo, c)


@st.composite
def _ragged(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Small-integer candles (many ties between window extremes) with NaN dropped into
    high, low and close independently: the rescanning tracker's hard cases (a rescan that
    starts on a NaN; the earliest vs the latest of equal extremes deciding when it rescans)."""
    n = draw(st.integers(0, 90))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c = rng.integers(2, 6, n).astype(np.float64)
    h = c + rng.integers(0, 3, n)
    lo = c - rng.integers(0, 3, n)
    rate = draw(st.sampled_from([0.0, 0.03, 0.1, 0.3]))
    for a in (h, lo, c):
        a[rng.uniform(0, 1, n) < rate] = np.nan
    return h, lo, c


@pytest.mark.parametrize("fk, fd", [(1, 1), (2, 3), (4, 2), (6, 17)])
@SETTINGS
@given(data=_ragged())
def test_stochf_stream_follows_the_nan_tracker(fk: int, fd: int,
                                               data: tuple[np.ndarray, ...]) -> None:
    h, lo, c = data
    assert_stream_equals(lambda h, lo, c: ind.stochf(h, lo, c, fk, fd),
                         lambda: S.StochFStream(fk, fd), [h, lo, c])


@pytest.mark.parametrize("fk, sk, sd", [(1, 1, 1), (5, 3, 3), (4, 1, 2), (6, 17, 3)])
@SETTINGS
@given(data=_ragged())
def test_stoch_stream_follows_the_nan_tracker(fk: int, sk: int, sd: int,
                                              data: tuple[np.ndarray, ...]) -> None:
    """A NaN in high or low alone (close intact) goes through the same tracker as in the
    1-D kernel (the first StochStream, on plain deques, got this wrong)."""
    h, lo, c = data
    assert_stream_equals(lambda h, lo, c: ind.stoch(h, lo, c, fk, sk, sd),
                         lambda: S.StochStream(fk, sk, sd), [h, lo, c])


HLC = [s for s in STREAMS if s[3] == "hlc" and not s[0].startswith("stochf")]


@pytest.mark.parametrize("name, fn, mk, args", HLC, ids=[s[0] for s in HLC])
@settings(SETTINGS, max_examples=15)
@given(data=_ragged())
def test_hlc_streams_with_scattered_nan(name: str, fn: Any, mk: Any, args: str,
                                        data: tuple[np.ndarray, ...]) -> None:
    h, lo, c = data
    _check(fn, mk, args, h, lo, c)


def _walk(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BTC-like candles: a random walk around 1e5 with a spread of up to 0.1 %."""
    rng = np.random.default_rng(seed)
    c = 1e5 * np.exp(np.cumsum(rng.standard_normal(n) * 1e-3))
    h = c * (1.0 + rng.uniform(0, 1e-3, n))
    lo = c * (1.0 - rng.uniform(0, 1e-3, n))
    return h, lo, c


LONG: list[Case] = [
    ("stochf", lambda h, lo, c: ind.stochf(h, lo, c, 14, 3), lambda: S.StochFStream(14, 3),
     "hlc"),
    ("stochf-running", lambda h, lo, c: ind.stochf(h, lo, c, 5, 40),
     lambda: S.StochFStream(5, 40), "hlc"),
    ("trix", lambda h, lo, c: ind.trix(c), lambda: S.TRIXStream(), "c"),
    ("ppo-sma", lambda h, lo, c: ind.ppo(c, 12, 26, 0), lambda: S.PPOStream(12, 26, 0), "c"),
    ("ppo-ema", lambda h, lo, c: ind.ppo(c), lambda: S.PPOStream(), "c"),
    ("ppo-wma", lambda h, lo, c: ind.ppo(c, 12, 26, 2), lambda: S.PPOStream(12, 26, 2), "c"),
    ("ultosc", lambda h, lo, c: ind.ultosc(h, lo, c), lambda: S.UltOscStream(), "hlc"),
    ("dmi", lambda h, lo, c: ind.dmi(h, lo, c), lambda: S.DMIStream(), "hlc"),
    ("dx", lambda h, lo, c: ind.dx(h, lo, c), lambda: S.DXStream(), "hlc"),
]


@pytest.mark.parametrize("gaps", [False, True], ids=["clean", "gaps"])
def test_long_btc_series_stream_exact(gaps: bool) -> None:
    """35,000 candles: past two exact restarts of PPO's SMA sums (every 16,384 outputs),
    thousands of WMA restarts (every 8 periods), many 2,048-candle chunks of the stochastic
    kernel, and long enough for any drift between differently ordered sums to show. With
    ``gaps`` a few NaN runs make the stochastic kernel take its tracker path and the
    running sums carry the NaN as the 1-D kernels do."""
    h, lo, c = _walk(35_000 if not gaps else 20_000, 7)
    if gaps:
        h[3:5] = np.nan  # leading partial candles
        for at, run in [(900, 1), (5_000, 3), (17_000, 2)]:
            h[at : at + run] = lo[at : at + run] = c[at : at + run] = np.nan
        h[12_345] = np.nan
        lo[15_000] = np.nan
    for _name, fn, mk, args in LONG:
        _check(fn, mk, args, h, lo, c)


BATCH: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
    (lambda h, lo, c: B.stochf_2d(h, lo, c, 6, 3), lambda h, lo, c: ind.stochf(h, lo, c, 6, 3)),
    (lambda h, lo, c: B.trix_2d(c, 4), lambda h, lo, c: ind.trix(c, 4)),
    (lambda h, lo, c: B.ppo_2d(c, 9, 4, 0), lambda h, lo, c: ind.ppo(c, 9, 4, 0)),
    (lambda h, lo, c: B.ppo_2d(c, 4, 9), lambda h, lo, c: ind.ppo(c, 4, 9)),
    (lambda h, lo, c: B.ppo_2d(c, 4, 9, 2), lambda h, lo, c: ind.ppo(c, 4, 9, 2)),
    (lambda h, lo, c: B.ultosc_2d(h, lo, c, 3, 9, 5),
     lambda h, lo, c: ind.ultosc(h, lo, c, 3, 9, 5)),
    (lambda h, lo, c: B.adx_2d(h, lo, c, 6), lambda h, lo, c: ind.adx(h, lo, c, 6)),
    (lambda h, lo, c: B.dx_2d(h, lo, c, 6), lambda h, lo, c: ind.dx(h, lo, c, 6)),
    (lambda h, lo, c: B.plus_di_2d(h, lo, c, 6), lambda h, lo, c: ind.plus_di(h, lo, c, 6)),
    (lambda h, lo, c: B.minus_di_2d(h, lo, c, 6), lambda h, lo, c: ind.minus_di(h, lo, c, 6)),
    (lambda h, lo, c: B.dmi_2d(h, lo, c, 6), lambda h, lo, c: ind.dmi(h, lo, c, 6)),
]


@pytest.mark.parametrize("two, one", BATCH)
@settings(SETTINGS, max_examples=10)
@given(rows=st.lists(ohlcv(min_size=50, max_size=50, mid_nan=True), min_size=1, max_size=4))
def test_batch_equals_rowwise(two: Any, one: Any, rows: list[tuple[np.ndarray, ...]]) -> None:
    assert_batch_rowwise(two, one, [r[:3] for r in rows])


def test_batch_outputs_are_contiguous() -> None:
    """DMI's lines and PPO come out of a (rows, symbols, time) block: each must still be a
    plain C-ordered (symbols, time) array, not a strided view."""
    h, lo, c = (np.stack([a, a[::-1]]) for a in _walk(300, 3))
    for out in (*B.dmi_2d(h, lo, c), B.adx_2d(h, lo, c), B.ppo_2d(c), B.trix_2d(c)):
        assert out.shape == c.shape
        assert out.flags.c_contiguous


ONE_INPUT = [B.trix_2d, B.ppo_2d]
THREE_INPUTS = [B.stochf_2d, B.ultosc_2d, B.adx_2d, B.dx_2d, B.plus_di_2d, B.minus_di_2d,
                B.dmi_2d]


@pytest.mark.parametrize("fn", ONE_INPUT + THREE_INPUTS)
def test_batch_validation(fn: Callable[..., Any]) -> None:
    k = 1 if fn in ONE_INPUT else 3
    with pytest.raises(ValueError, match="2-D"):
        fn(*[np.ones(20)] * k)
    if k == 3:
        with pytest.raises(ValueError, match="same candles"):
            fn(np.ones((2, 20)), np.ones((2, 20)), np.ones((2, 21)))
    with pytest.raises(ValueError, match="must be"):
        fn(*[np.ones((2, 20))] * k, 0)
    with pytest.raises(ValueError, match="integer"):
        fn(*[np.ones((2, 20))] * k, 2.5)


def test_ppo_matype_refused() -> None:
    with pytest.raises(ValueError, match="matype"):
        B.ppo_2d(np.ones((2, 20)), 3, 5, 3)
    with pytest.raises(ValueError, match="matype"):
        S.PPOStream(3, 5, 7)


@pytest.mark.parametrize("cls", [S.StochFStream, S.TRIXStream, S.PPOStream, S.UltOscStream,
                                 S.ADXStream, S.DXStream, S.PlusDIStream, S.MinusDIStream,
                                 S.DMIStream])
def test_stream_validation(cls: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        cls(0)
    with pytest.raises(ValueError, match="integer"):
        cls(True)


def test_stream_names_follow_the_1d_parameters() -> None:
    """Keyword construction with the 1-D function's parameter names."""
    S.StochFStream(fastk_period=5, fastd_period=3)
    S.TRIXStream(period=30)
    S.PPOStream(fastperiod=12, slowperiod=26, matype=1)
    S.UltOscStream(timeperiod1=7, timeperiod2=14, timeperiod3=28)
    for cls in (S.ADXStream, S.DXStream, S.PlusDIStream, S.MinusDIStream, S.DMIStream):
        cls(period=14)
