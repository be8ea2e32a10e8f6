"""Regimes: each measurement against a plain reference, the classes on series built to
be one regime, hysteresis, and exactness in a trailing window (the live runtime's)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest._paths import shared_data
from engine.signals.regime import (
    QUIET,
    RANGING,
    TRENDING,
    VOLATILE,
    RegimeParams,
    _classify,
    episodes,
    regime_columns,
    rolling_percentile,
    variance_ratio,
)

BTC = shared_data() / "ohlcv" / "binance_spot_5m_2025" / "BTC_USDT-5m.feather"


def test_rolling_percentile_matches_a_plain_count() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    x[50] = np.nan
    got = rolling_percentile(x, 30)
    for i in range(400):
        w = x[max(0, i - 29): i + 1]
        want = np.nan if i < 29 or np.isnan(w).any() else float((w <= x[i]).sum()) / 30
        assert (np.isnan(got[i]) and np.isnan(want)) or got[i] == want, i


def _walk(returns: np.ndarray) -> np.ndarray:
    return 100.0 * np.exp(np.cumsum(returns))


def test_variance_ratio_reads_persistence_and_reversion() -> None:
    rng = np.random.default_rng(2)
    e = rng.normal(0, 0.001, 20_000)
    ar_pos = np.empty_like(e)
    ar_neg = np.empty_like(e)
    ar_pos[0] = ar_neg[0] = e[0]
    for i in range(1, e.size):
        ar_pos[i] = 0.5 * ar_pos[i - 1] + e[i]
        ar_neg[i] = -0.5 * ar_neg[i - 1] + e[i]
    med = [np.nanmedian(variance_ratio(_walk(r), 96, 4)) for r in (e, ar_pos, ar_neg)]
    assert 0.85 < med[0] < 1.15
    assert med[1] > 1.5 and med[2] < 0.6


def test_hysteresis_holds_a_trend_between_the_two_thresholds() -> None:
    n = 40
    adx = np.r_[np.full(10, 15.0), np.full(5, 26.0), np.tile([22.0, 24.0], 10), np.full(5, 18.0)]
    assert adx.size == n
    mid = np.full(n, 0.5)
    vr = np.full(n, 1.2)
    p = RegimeParams()
    reg = _classify(adx, mid, mid, vr, p.adx_enter, p.adx_exit, p.vol_enter, p.vol_exit,
                    p.quiet_enter, p.quiet_exit, p.vr_trend)
    assert list(reg[:10]) == [RANGING] * 10
    assert list(reg[10:35]) == [TRENDING] * 25     # 22..24 stays trending once in
    assert list(reg[35:]) == [RANGING] * 5         # under adx_exit: out
    # without a trend first, 22..24 never starts one
    reg2 = _classify(adx[15:], mid[15:], mid[15:], vr[15:], p.adx_enter, p.adx_exit,
                     p.vol_enter, p.vol_exit, p.quiet_enter, p.quiet_exit, p.vr_trend)
    assert TRENDING not in set(reg2.tolist())


def _ohlc(close: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return close * (1 + spread), close * (1 - spread)


def test_series_built_as_one_regime_read_as_that_regime() -> None:
    rng = np.random.default_rng(3)
    n = 1500
    calm = rng.normal(0, 0.001, n)
    trend = rng.normal(0.0015, 0.0005, 600)           # steady climb, small noise
    calm2 = rng.normal(0, 0.001, 600)
    wild = rng.normal(0, 0.008, 300)                  # eight times the volatility
    quiet = rng.normal(0, 0.0002, 400)                # a squeeze
    r = np.r_[calm, trend, calm2, wild, quiet]
    c = _walk(r)
    spread = np.r_[np.full(n, 0.001), np.full(600, 0.0008), np.full(600, 0.001),
                   np.full(300, 0.008), np.full(400, 0.0002)]
    h, lo = _ohlc(c, spread)
    reg = regime_columns(h, lo, c)["regime"]
    share = lambda a, b, k: float(np.mean(reg[a:b] == k))  # noqa: E731
    assert share(n + 100, n + 600, TRENDING) > 0.8
    w = n + 1200
    # "volatile" and "quiet" are relative to the last `lookback` candles (a day of 5m):
    # the first part of a wild stretch is volatile, a calm one right after it is quiet
    assert share(w + 20, w + 150, VOLATILE) > 0.8
    assert share(w + 320, w + 450, QUIET) > 0.8
    assert share(400, n, RANGING) > 0.4
    assert all(e - s >= 0 for s, e, _ in episodes(reg))


@pytest.mark.skipif(not BTC.exists(), reason="shared data not found")
def test_a_trailing_window_gives_the_full_history_values() -> None:
    from engine.data.candles import read_candles

    c = read_candles(BTC)
    full = regime_columns(c.high[:40_000], c.low[:40_000], c.close[:40_000])["regime"]
    for end in (5_000, 23_456, 40_000):
        w = 2_000  # the runtime's window for startup_candle_count 400
        part = regime_columns(c.high[end - w:end], c.low[end - w:end], c.close[end - w:end])
        assert np.array_equal(part["regime"][-1000:], full[end - 1000:end])
