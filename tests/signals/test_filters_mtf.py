"""Filter layers (why each drop) and higher timeframes without look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.candles import Candles
from engine.data.resample import resample
from engine.signals.filters import (
    MinConfidence,
    NoiseRatio,
    SignalFilter,
    VolatilityAdjustment,
    VolumeConfirmation,
    window_mean,
)
from engine.signals.mtf import confirmations, informative, trend_vote
from engine.strategy.interface import Frame

M5 = 300_000


def _frame(n: int, start_ms: int = 1_700_000_400_000, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    o = np.r_[c[0], c[:-1]]
    return Frame({"date": start_ms + M5 * np.arange(n, dtype=np.int64), "open": o,
                  "high": np.maximum(o, c) * 1.001, "low": np.minimum(o, c) * 0.999,
                  "close": c, "volume": rng.uniform(1, 10, n)}, n=n)


def test_window_mean_with_and_without_lag() -> None:
    x = np.arange(10, dtype=float)
    assert np.array_equal(window_mean(x, 3)[2:], [1, 2, 3, 4, 5, 6, 7, 8])
    lagged = window_mean(x, 3, lag=1)
    assert np.isnan(lagged[:3]).all() and np.array_equal(lagged[3:], [1, 2, 3, 4, 5, 6, 7])


def test_the_first_failing_layer_drops_and_is_named() -> None:
    f = _frame(200)
    f["pattern_confidence"] = np.where(np.arange(200) % 2 == 0, 0.9, 0.1)
    sig = np.zeros(200, dtype=bool)
    sig[[40, 41, 60, 61, 100]] = True
    f["enter_long"] = sig
    f["volume"] = np.where(np.arange(200) == 100, 0.5, f["volume"])
    rep = SignalFilter(MinConfidence(0.5), VolumeConfirmation(1.0e-9)).apply(f)
    assert rep.candidates == 5
    assert rep.dropped["confidence"] == 2  # rows 41, 61
    assert [r for r, layer, _ in rep.lines if layer == "confidence"] == [41, 61]
    assert list(np.flatnonzero(f["enter_long"])) == [40, 60, 100]
    assert f["filter_drop"][41] == 1 and f["filter_drop"][40] == 0
    rep2 = SignalFilter(VolumeConfirmation(2.0)).apply(f)  # row 100: volume 0.5 << mean
    assert 100 in [r for r, _, _ in rep2.lines]
    assert rep2.kept + sum(rep2.dropped.values()) == rep2.candidates


def test_noise_ratio_passes_a_straight_line_and_drops_a_zigzag() -> None:
    n = 60
    line = Frame({"close": np.linspace(100, 110, n)}, n=n)
    zig = Frame({"close": 100 + np.tile([0.0, 1.0], n // 2)}, n=n)
    ok_line, v_line = NoiseRatio(0.5).check(line)
    ok_zig, v_zig = NoiseRatio(0.5).check(zig)
    assert ok_line[30:].all() and v_line[-1] == pytest.approx(0.0, abs=1e-12)
    assert not ok_zig[30:].any() and v_zig[-1] == pytest.approx(1.0)


def test_volatility_adjustment_scales_the_stake_down_in_wild_markets() -> None:
    f = _frame(300)
    f["enter_long"] = np.ones(300, dtype=bool)
    f["stake_scale"] = np.full(300, 0.8)
    layer = VolatilityAdjustment(target_atr_pct=0.001, min_scale=0.05, max_scale=1.0)
    SignalFilter(layer).apply(f)
    s = layer.scale(f)
    kept = f["enter_long"]
    assert np.allclose(f["stake_scale"][kept], 0.8 * s[kept])
    assert (s[kept] <= 1.0).all()


def test_informative_candles_equal_resampled_ones_and_appear_when_they_close() -> None:
    f = _frame(24 * 12 + 7, start_ms=1_700_000_400_000 - 1_700_000_400_000 % 3_600_000 + M5)
    inf = informative(f, "5m", "1h")
    ref = resample(Candles("X", "5m", f["date"], f["open"], f["high"], f["low"], f["close"],
                           f["volume"]), "1h")
    assert np.array_equal(inf.open_time, ref.open_time)
    assert np.array_equal(inf.close, ref.close) and np.array_equal(inf.high, ref.high)
    # the first complete hour is first seen on the base row that closes with it
    first = int(np.flatnonzero(inf.row >= 0)[0])
    assert f["date"][first] + M5 == inf.open_time[0] + 3_600_000
    assert inf.age[first] == 0.0 and inf.age[first + 1] == 1.0


def test_no_row_reads_a_higher_candle_from_its_future() -> None:
    f = _frame(2_000, seed=4)
    full = informative(f, "5m", "1h")
    vote = trend_vote(full, 5)
    for end in (150, 700, 1_333, 2_000):
        part = Frame({k: v[:end] for k, v in f.items()}, n=end)
        p = informative(part, "5m", "1h")
        got = trend_vote(p, 5)
        assert np.array_equal(got, vote[:end], equal_nan=True)
        assert np.array_equal(p.age, full.age[:end], equal_nan=True)


def test_a_bucket_with_a_missing_candle_is_no_candle() -> None:
    f = _frame(36, start_ms=1_700_002_800_000 - 1_700_002_800_000 % 3_600_000)
    keep = np.ones(36, dtype=bool)
    keep[15] = False  # the second hour misses one 5m candle
    g = Frame({k: v[keep] for k, v in f.items()}, n=35)
    inf = informative(g, "5m", "1h")
    assert len(inf.close) == 2  # hours 1 and 3, not 2


def test_confirmations_decay_with_age() -> None:
    one = np.ones(3)
    count, score = confirmations([one, -one], [np.zeros(3), np.array([0.0, 12.0, 24.0])],
                                 [12.0, 12.0])
    assert list(count) == [1, 1, 1]
    # the bearish vote weighs 1, 0.5, 0.25: scores 0, 1/3, 0.6
    assert score == pytest.approx([0.0, (1 - 0.5) / 1.5, (1 - 0.25) / 1.25])


def test_no_complete_higher_candle_yet() -> None:
    f = _frame(5)
    inf = informative(f, "5m", "4h")
    assert len(inf.close) == 0 and (inf.row == -1).all() and np.isnan(inf.age).all()
    assert np.isnan(trend_vote(inf, 3)).all()
