"""Streaming and batch forms of the volume family (AD, ADOSC, CMF, MFI, VWAP, session
VWAP): stream == 1-D at every index, bit for bit, and 2-D == row-wise 1-D."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.indicators as ind
from engine.indicators.batch.volume import (
    ad_2d,
    adosc_2d,
    cmf_2d,
    mfi_2d,
    vwap_2d,
    vwap_session_2d,
)
from engine.indicators.streaming.volume import (
    ADOSCStream,
    ADStream,
    CMFStream,
    MFIStream,
    VWAPSessionStream,
    VWAPStream,
)
from tests.indicators.forms import (
    SETTINGS,
    assert_batch_rowwise,
    assert_exact,
    assert_stream_equals,
    ohlcv,
)

Case = tuple[str, Callable[..., Any], Callable[[], Any]]

CASES: list[Case] = [
    ("ad", ind.ad, ADStream),
    ("adosc1_1", lambda h, lo, c, v: ind.adosc(h, lo, c, v, 1, 1), lambda: ADOSCStream(1, 1)),
    ("adosc_default", ind.adosc, ADOSCStream),
    ("adosc10_3", lambda h, lo, c, v: ind.adosc(h, lo, c, v, 10, 3), lambda: ADOSCStream(10, 3)),
    ("adosc2_2", lambda h, lo, c, v: ind.adosc(h, lo, c, v, 2, 2), lambda: ADOSCStream(2, 2)),
    ("cmf1", lambda h, lo, c, v: ind.cmf(h, lo, c, v, 1), lambda: CMFStream(1)),
    ("cmf5", lambda h, lo, c, v: ind.cmf(h, lo, c, v, 5), lambda: CMFStream(5)),
    ("cmf_default", ind.cmf, CMFStream),
    ("mfi1", lambda h, lo, c, v: ind.mfi(h, lo, c, v, 1), lambda: MFIStream(1)),
    ("mfi5", lambda h, lo, c, v: ind.mfi(h, lo, c, v, 5), lambda: MFIStream(5)),
    ("mfi_default", ind.mfi, MFIStream),
    ("vwap_cum", ind.vwap, VWAPStream),
    ("vwap1", lambda h, lo, c, v: ind.vwap(h, lo, c, v, 1), lambda: VWAPStream(1)),
    ("vwap2", lambda h, lo, c, v: ind.vwap(h, lo, c, v, 2), lambda: VWAPStream(2)),
    ("vwap7", lambda h, lo, c, v: ind.vwap(h, lo, c, v, 7), lambda: VWAPStream(7)),
]


@st.composite
def candles(draw: Any) -> tuple[np.ndarray, ...]:
    """``ohlcv(mid_nan=True)``, sometimes with zero volumes (the ``volume > 0`` branches),
    flat candles (no range, no typical-price move), infinite volume (VWAP skips it) or a
    negative close (MFI's clamp)."""
    h, lo, c, vol = draw(ohlcv(mid_nan=True))
    n = c.shape[0]
    if n > 3 and draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        at = rng.integers(0, n, size=max(1, n // draw(st.sampled_from([2, 8]))))
        what = draw(st.sampled_from(["zero_volume", "flat", "inf_volume", "negative"]))
        if what == "zero_volume":
            vol[at] = 0.0
        elif what == "flat":
            h[at] = c[at]
            lo[at] = c[at]
        elif what == "inf_volume":
            vol[at] = np.inf
        else:
            c[at] = -c[at]
    return h, lo, c, vol


@st.composite
def stamps(draw: Any, n: int) -> np.ndarray:
    """Candle times in ms: 5-minute candles from a random start, so sessions of an hour
    (or a day, or 7 minutes) begin anywhere in the series, sometimes with a jump back."""
    t0 = draw(st.integers(1_500_000_000_000, 1_800_000_000_000))
    ts = t0 + 300_000 * np.arange(n, dtype=np.int64)
    if n > 4 and draw(st.booleans()):
        ts[n // 2 :] -= draw(st.integers(0, 10)) * 3_600_000
    return ts


@pytest.mark.parametrize("name, fn, mk", CASES, ids=[c[0] for c in CASES])
@SETTINGS
@given(data=candles())
def test_stream_equals_1d(name: str, fn: Any, mk: Any, data: tuple[np.ndarray, ...]) -> None:
    assert_exact(fn, mk, data)


SESSIONS = [(3_600_000, 0, "close"), (3_600_000, 600_000, "open"), (86_400_000, 0, "close"),
            (420_000, 60_000, "open"), (1, 0, "close")]


@pytest.mark.parametrize("session_ms, offset_ms, stamp", SESSIONS)
@SETTINGS
@given(data=candles(), seed=st.data())
def test_session_stream_equals_1d(session_ms: int, offset_ms: int, stamp: str,
                                  data: tuple[np.ndarray, ...], seed: Any) -> None:
    ts = seed.draw(stamps(data[2].shape[0]))
    assert_exact(lambda h, lo, c, v, t: ind.vwap_session(h, lo, c, v, t, session_ms, offset_ms,
                                                         stamp),
                 lambda: VWAPSessionStream(session_ms, offset_ms, stamp), (*data, ts))


def test_stream_defaults_and_validation() -> None:
    assert VWAPStream().period == 0 and VWAPStream(5).period == 5
    a = ADOSCStream()
    assert (a.fastperiod, a.slowperiod) == (3, 10)
    assert MFIStream().period == 14 and CMFStream().period == 20
    s = VWAPSessionStream()
    assert (s.session_ms, s.offset_ms, s.stamp) == (86_400_000, 0, "close")
    for bad in (lambda: ADOSCStream(0, 3), lambda: ADOSCStream(3, 0), lambda: CMFStream(0),
                lambda: MFIStream(0), lambda: VWAPStream(0), lambda: VWAPSessionStream(0),
                lambda: VWAPSessionStream(stamp="mid"), lambda: MFIStream(2.0)):  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            bad()


def test_session_restarts_at_the_key_of_each_candle() -> None:
    """Close-stamped candles: the one stamped 00:00 still belongs to the day before."""
    day = 86_400_000
    ts = np.array([day - 300_000, day, day + 300_000, 2 * day, 2 * day + 300_000])
    h = np.array([2.0, 4.0, 6.0, 8.0, 10.0])
    vol = np.ones(5)
    s = VWAPSessionStream()
    got = [s.update(x, x, x, 1.0, t) for x, t in zip(h, ts, strict=True)]
    np.testing.assert_array_equal(got, [2.0, 3.0, 6.0, 7.0, 10.0])
    np.testing.assert_array_equal(got, ind.vwap_session(h, h, h, vol, ts))


def _rows(mid_nan: bool = True) -> Any:
    return st.integers(1, 60).flatmap(
        lambda n: st.lists(ohlcv(min_size=n, max_size=n, mid_nan=mid_nan), min_size=1,
                           max_size=4))


BATCH: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
    (ad_2d, ind.ad),
    (lambda h, lo, c, v: adosc_2d(h, lo, c, v, 4, 9),
     lambda h, lo, c, v: ind.adosc(h, lo, c, v, 4, 9)),
    (lambda h, lo, c, v: adosc_2d(h, lo, c, v, 1, 1),
     lambda h, lo, c, v: ind.adosc(h, lo, c, v, 1, 1)),
    (lambda h, lo, c, v: cmf_2d(h, lo, c, v, 6), lambda h, lo, c, v: ind.cmf(h, lo, c, v, 6)),
    (lambda h, lo, c, v: mfi_2d(h, lo, c, v, 6), lambda h, lo, c, v: ind.mfi(h, lo, c, v, 6)),
    (vwap_2d, ind.vwap),
    (lambda h, lo, c, v: vwap_2d(h, lo, c, v, 5), lambda h, lo, c, v: ind.vwap(h, lo, c, v, 5)),
    (lambda h, lo, c, v: vwap_2d(h, lo, c, v, 1), lambda h, lo, c, v: ind.vwap(h, lo, c, v, 1)),
]


@pytest.mark.parametrize("two, one", BATCH)
@settings(SETTINGS, max_examples=10)
@given(rows=_rows())
def test_batch_equals_rowwise(two: Any, one: Any, rows: list[tuple[np.ndarray, ...]]) -> None:
    assert_batch_rowwise(two, one, rows)


@settings(SETTINGS, max_examples=15)
@given(rows=_rows(), data=st.data(), shared=st.booleans())
def test_session_batch_equals_rowwise(rows: list[tuple[np.ndarray, ...]], data: Any,
                                      shared: bool) -> None:
    """One shared timestamp row (aligned candles) or one row of stamps per symbol."""
    n = rows[0][0].shape[0]
    if shared:
        ts = data.draw(stamps(n))
        assert_batch_rowwise(lambda h, lo, c, v: vwap_session_2d(h, lo, c, v, ts, 3_600_000),
                             lambda h, lo, c, v: ind.vwap_session(h, lo, c, v, ts, 3_600_000), rows)
    else:
        full = [(*r, data.draw(stamps(n))) for r in rows]
        assert_batch_rowwise(
            lambda h, lo, c, v, t: vwap_session_2d(h, lo, c, v, t, 3_600_000, 600_000, "open"),
            lambda h, lo, c, v, t: ind.vwap_session(h, lo, c, v, t, 3_600_000, 600_000, "open"),
            full)


def test_batch_validation() -> None:
    one = np.ones(5)
    two = np.ones((2, 5))
    ts = np.arange(5)
    with pytest.raises(ValueError, match="2-D"):
        ad_2d(one, one, one, one)
    with pytest.raises(ValueError, match="2-D"):
        vwap_session_2d(one, one, one, one, ts)
    with pytest.raises(ValueError, match="same candles"):
        mfi_2d(two, two, two, np.ones((2, 6)))
    with pytest.raises(ValueError, match="same candles"):
        cmf_2d(two, np.ones((3, 5)), two, two)
    for bad in (lambda: adosc_2d(two, two, two, two, 0), lambda: adosc_2d(two, two, two, two, 3, 0),
                lambda: cmf_2d(two, two, two, two, 0), lambda: mfi_2d(two, two, two, two, -1),
                lambda: vwap_2d(two, two, two, two, 0),
                lambda: vwap_session_2d(two, two, two, two, ts, 0),
                lambda: vwap_session_2d(two, two, two, two, ts, stamp="mid")):
        with pytest.raises(ValueError):
            bad()
    for wrong in (np.arange(6), np.ones((3, 5), dtype=np.int64), np.ones((1, 5)),
                  np.ones((2, 5, 1)), 7):
        with pytest.raises(ValueError, match="timestamps"):
            vwap_session_2d(two, two, two, two, wrong)
    with pytest.raises(ValueError, match="timestamps"):
        vwap_session_2d(two, two, two, two, ["a"] * 5)


def test_long_btc_walk_stream_exact() -> None:
    """30,000 five-minute candles around 1e5 (about 104 daily sessions, long running sums),
    once clean and once with feed gaps and zero-volume candles."""
    rng = np.random.default_rng(20240612)
    n = 30_000
    c = 1e5 * np.exp(np.cumsum(rng.standard_normal(n) * 1e-3))
    h = c * (1 + rng.uniform(0, 2e-3, n))
    lo = c * (1 - rng.uniform(0, 2e-3, n))
    vol = rng.lognormal(2.0, 1.0, n)
    ts = 1_700_000_000_000 + 300_000 * np.arange(n, dtype=np.int64)
    gappy = [a.copy() for a in (h, lo, c, vol)]
    for at in rng.integers(100, n - 10, 12):
        for a in gappy:
            a[at : at + 3] = np.nan
    gappy[3][rng.integers(0, n, 200)] = 0.0
    for hh, ll, cc, vv in ((h, lo, c, vol), tuple(gappy)):
        x = (hh, ll, cc, vv)
        assert_stream_equals(ind.ad, ADStream, x)
        assert_stream_equals(ind.adosc, ADOSCStream, x)
        assert_stream_equals(ind.cmf, CMFStream, x)
        assert_stream_equals(ind.mfi, MFIStream, x)
        assert_stream_equals(ind.vwap, VWAPStream, x)
        assert_stream_equals(lambda h, lo, c, v: ind.vwap(h, lo, c, v, 20),
                             lambda: VWAPStream(20), x)
        assert_stream_equals(ind.vwap_session, VWAPSessionStream, (*x, ts))
