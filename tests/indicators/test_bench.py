"""The benchmark's moving parts (the run itself is a CLI, not a test): every case runs,
ours and its TA-Lib twin describe the same outputs, the data loader tiles real candles,
and the timing helper reports medians in the order given."""

from __future__ import annotations

import numpy as np
import pytest

from engine.indicators import bench

talib = pytest.importorskip("talib")


def test_data_shapes_and_continuity() -> None:
    o, h, lo, c, vol, label = bench._data(5_000)
    for a in (o, h, lo, c, vol):
        assert a.shape == (5_000,) and a.dtype == np.float64 and a.flags.c_contiguous
    assert (h >= lo).all()
    assert label


def test_cases_run_and_match_their_twins() -> None:
    o, h, lo, c, vol, _ = bench._data(3_000)
    names = set()
    for name, ours, ref, pds in bench._cases(o, h, lo, c, vol):
        names.add(name)
        got = ours()
        if ref is None:
            continue
        exp = ref()
        outs = got if isinstance(got, tuple) else (got,)
        refs = exp if isinstance(exp, tuple) else (exp,)
        assert len(outs) == len(refs), name
        for a, b in zip(outs, refs, strict=True):
            a = np.asarray(a, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
            assert a.shape == b.shape, name
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        if pds is not None:
            pds()
    assert set(bench.NINE) <= names


def test_time_row_keeps_order_and_skips_missing() -> None:
    calls: list[str] = []
    fns = [lambda: calls.append("a"), None, lambda: calls.append("c")]
    res = bench._time_row(fns, reps=3, inner=2, clock=bench._clock("wall"))
    assert res[1] is None and res[0] is not None and res[2] is not None
    assert calls.count("a") == 1 + 3 * 2 and calls.count("c") == 1 + 3 * 2
    assert bench._time_row([None], reps=3, inner=1, clock=bench._clock("cpu")) == [None]
