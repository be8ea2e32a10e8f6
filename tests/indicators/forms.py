"""Shared pieces of the streaming/batch form tests: the OHLCV strategy and the two
equalities every form must satisfy (stream == 1-D at every index, 2-D == row-wise 1-D)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def ohlcv(draw: Any, min_size: int = 0, max_size: int = 120,
          mid_nan: bool = False) -> tuple[np.ndarray, ...]:
    """``(high, low, close, volume)``: a random walk, a constant or a stepped series at a
    scale from 1e-6 to 1e12, with up to five leading NaN candles, and with ``mid_nan`` a
    NaN run somewhere inside (a gap in the feed)."""
    n = draw(st.integers(min_size, max_size))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e5, 1e12]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["walk", "constant", "steps"]))
    if kind == "walk":
        c = scale * (100 + np.cumsum(rng.standard_normal(n)))
    elif kind == "constant":
        c = np.full(n, scale * 3.0)
    else:
        c = scale * rng.integers(1, 4, n).astype(np.float64)
    h = c + scale * rng.uniform(0, 1, n) * (kind != "constant")
    lo = c - scale * rng.uniform(0, 1, n) * (kind != "constant")
    vol = rng.uniform(0, 1000, n)
    lead = draw(st.integers(0, 5))
    if lead and n:
        for a in (h, lo, c, vol):
            a[: min(lead, n)] = np.nan
    if mid_nan and n > 10 and draw(st.booleans()):
        at = draw(st.integers(5, n - 2))
        run = draw(st.integers(1, 4))
        for a in draw(st.sampled_from([(h, lo, c, vol), (c,), (vol,)])):
            a[at : at + run] = np.nan
    return h, lo, c, vol


def stack(out: Any) -> np.ndarray:
    """A 1-D result, or a tuple of them, as (time,) or (time, outputs)."""
    a = np.asarray(out)
    return a.T if a.ndim == 2 else a


def run_stream(stream: Any, inputs: Sequence[np.ndarray], like: np.ndarray) -> np.ndarray:
    """Feed ``inputs`` candle by candle to ``stream.update`` and stack what it returns in
    the shape and dtype of ``like`` (the stacked 1-D result)."""
    n = inputs[0].shape[0] if inputs else like.shape[0]
    got = [stream.update(*(a[i] for a in inputs)) for i in range(n)]
    return np.array(got, dtype=like.dtype).reshape(like.shape)


def assert_stream_equals(fn: Callable[..., Any], mk: Callable[[], Any],
                         inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The stream returns exactly (bit for bit, NaN where NaN) the 1-D value at every
    index; returns both, ``(stream, 1-D)``."""
    expected = stack(fn(*inputs))
    got = run_stream(mk(), inputs, expected)
    np.testing.assert_array_equal(got, expected)
    return got, expected


def assert_exact(fn: Callable[..., Any], mk: Callable[[], Any],
                 inputs: Sequence[np.ndarray]) -> None:
    """``assert_stream_equals``, and the signs of zeros agree too (``0.0 == -0.0`` would
    let a sign slip through)."""
    got, expected = assert_stream_equals(fn, mk, inputs)
    ok = ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(expected[ok]))


def assert_batch_rowwise(two: Callable[..., Any], one: Callable[..., Any],
                         rows: Sequence[Sequence[np.ndarray]]) -> None:
    """``two`` over the stacked rows equals ``one`` on each row, bit for bit."""
    stacked = [np.stack([r[k] for r in rows]) for k in range(len(rows[0]))]
    out = two(*stacked)
    outs = out if isinstance(out, tuple) else (out,)
    for i, r in enumerate(rows):
        ref = one(*r)
        refs = ref if isinstance(ref, tuple) else (ref,)
        assert len(outs) == len(refs)
        for o, e in zip(outs, refs, strict=True):
            assert o.dtype == e.dtype
            np.testing.assert_array_equal(o[i], e)
