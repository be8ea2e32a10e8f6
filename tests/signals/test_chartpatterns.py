"""Chart patterns on constructed series whose pattern and knowable candle are known,
and causality on random walks: nothing is detected before its confirming close."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.signals.chartpatterns import KIND_CODE, PatternParams, detect, pattern_columns, swings
from tests.signals.paths import candles, path

K = PatternParams().swing


def _first_close_beyond(close: np.ndarray, start: int, level: float, up: bool) -> int:
    idx = np.arange(start, close.shape[0])
    hit = close[idx] > level if up else close[idx] < level
    return int(idx[np.flatnonzero(hit)[0]])


def _only(kind: str, found: list) -> list:
    return [d for d in found if d.kind == kind]


def test_swings_are_known_k_candles_later() -> None:
    _o, h, lo, _c, _v = candles(path([(0, 100), (30, 110), (60, 100), (90, 110)]))
    s = swings(h, lo, K)
    assert [(x.index, x.side) for x in s] == [(30, 1), (60, -1)]
    assert all(x.known_at == x.index + K for x in s)


def test_double_bottom_confirmed_at_the_neckline_break_never_before() -> None:
    close = path([(0, 110), (40, 100), (60, 106), (80, 100.2), (130, 113)])
    _o, h, lo, c, v = candles(close)
    neck = h[60]
    expect = _first_close_beyond(c, 80 + K + 1, neck, up=True)
    found = _only("double_bottom", detect(h, lo, c, v))
    assert len(found) == 1
    d = found[0]
    assert (d.knowable_at, d.direction) == (expect, 1)
    assert [i for i, _ in d.key_points] == [40, 60, 80]
    assert d.level == pytest.approx(neck)
    assert 0.0 <= d.confidence <= 1.0
    # the prefix that ends one candle before the break knows nothing of it
    assert not _only("double_bottom", detect(h[:expect], lo[:expect], c[:expect], v[:expect]))
    e = expect + 1
    assert _only("double_bottom", detect(h[:e], lo[:e], c[:e], v[:e])) == found


def test_double_top_is_the_mirror() -> None:
    close = 200.0 - path([(0, 110), (40, 100), (60, 106), (80, 100.2), (130, 113)])
    _o, h, lo, c, v = candles(close)
    expect = _first_close_beyond(c, 80 + K + 1, lo[60], up=False)
    found = _only("double_top", detect(h, lo, c, v))
    assert [(d.knowable_at, d.direction) for d in found] == [(expect, -1)]


def test_head_and_shoulders_breaks_the_sloped_neckline() -> None:
    close = path([(0, 96), (30, 104), (50, 100), (80, 110), (110, 101), (140, 104.2),
                  (200, 90)])
    _o, h, lo, c, v = candles(close)
    (i1, y1), (i2, y2) = (50, lo[50]), (110, lo[110])
    b = (y2 - y1) / (i2 - i1)
    idx = np.arange(140 + K + 1, c.shape[0])
    expect = int(idx[np.flatnonzero(c[idx] < y1 + b * (idx - i1))[0]])
    found = _only("head_shoulders", detect(h, lo, c, v))
    assert len(found) == 1
    assert (found[0].knowable_at, found[0].direction) == (expect, -1)
    assert [i for i, _ in found[0].key_points] == [30, 50, 80, 110, 140]


def test_inverse_head_and_shoulders() -> None:
    close = 200.0 - path([(0, 96), (30, 104), (50, 100), (80, 110), (110, 101), (140, 104.2),
                          (200, 90)])
    _o, h, lo, c, v = candles(close)
    found = _only("inverse_head_shoulders", detect(h, lo, c, v))
    assert len(found) == 1 and found[0].direction == 1


def test_ascending_triangle_breaks_up_through_the_flat_top() -> None:
    close = path([(0, 95), (25, 110), (45, 100), (70, 110.05), (90, 104), (115, 118)])
    _o, h, lo, c, v = candles(close)
    top = max(h[25], h[70])
    found = _only("ascending_triangle", detect(h, lo, c, v))
    assert len(found) == 1, found
    d = found[0]
    assert d.direction == 1
    assert c[d.knowable_at] > d.level and c[d.knowable_at - 1] <= d.level + 1e-9
    assert d.level == pytest.approx(top, abs=0.1)
    assert d.knowable_at > 90 + K


def test_bull_flag_continues_above_the_pole() -> None:
    close = path([(0, 104), (10, 100), (40, 115), (55, 111), (90, 125)])
    _o, h, lo, c, v = candles(close)
    expect = _first_close_beyond(c, 55 + K + 1, h[40], up=True)
    found = _only("bull_flag", detect(h, lo, c, v))
    assert [(d.knowable_at, d.direction) for d in found] == [(expect, 1)]


def test_pattern_columns_put_each_detection_on_its_knowable_candle() -> None:
    close = path([(0, 110), (40, 100), (60, 106), (80, 100.2), (130, 113)])
    _o, h, lo, c, v = candles(close)
    cols = pattern_columns(h, lo, c, v)
    rows = np.flatnonzero(cols["pattern_signal"])
    found = detect(h, lo, c, v)
    assert set(rows) == {d.knowable_at for d in found}
    db = _only("double_bottom", found)[0]
    assert cols["pattern_kind"][db.knowable_at] in {KIND_CODE[d.kind] for d in found
                                                    if d.knowable_at == db.knowable_at}
    assert np.all((cols["pattern_confidence"] >= 0) & (cols["pattern_confidence"] <= 1))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(50, 599))
def test_a_prefix_detects_exactly_what_the_full_run_knew_by_then(seed: int, cut: int) -> None:
    rng = np.random.default_rng(seed)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, 600)))
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.002, 600))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.002, 600))
    v = rng.uniform(1, 10, 600)
    full = detect(h, lo, c, v)
    part = detect(h[:cut], lo[:cut], c[:cut], v[:cut])
    assert part == [d for d in full if d.knowable_at < cut]
    for d in full:
        assert all(i <= d.knowable_at - K for i, _ in d.key_points)
