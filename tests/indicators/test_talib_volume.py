"""AD, ADOSC, MFI, CMF and VWAP (cumulative, rolling, session) against TA-Lib."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


def _hlcv(c: Candles) -> tuple[np.ndarray, ...]:
    return c.high, c.low, c.close, c.volume


def test_ad(candles: Candles) -> None:
    assert_same(ind.ad(*_hlcv(candles)), talib.AD(*_hlcv(candles)))


@pytest.mark.parametrize("fast, slow", [(3, 10), (10, 3), (5, 5), (2, 30)])
def test_adosc(candles: Candles, fast: int, slow: int) -> None:
    ours = ind.adosc(*_hlcv(candles), fast, slow)
    scale = float(np.nanmax(np.abs(talib.AD(*_hlcv(candles)))))
    assert_same(ours, talib.ADOSC(*_hlcv(candles), fast, slow), scale=scale)


@pytest.mark.parametrize("period", [2, 14, 50])
def test_mfi_cmf(candles: Candles, period: int) -> None:
    assert_same(ind.mfi(*_hlcv(candles), period), talib.MFI(*_hlcv(candles), period), scale=100.0)
    assert_same(ind.cmf(*_hlcv(candles), period), talib.CMF(*_hlcv(candles), period), scale=1.0)


@pytest.mark.parametrize("period", [None, 1, 2, 20])
def test_vwap(candles: Candles, period: int | None) -> None:
    ours = ind.vwap(*_hlcv(candles), period=period)
    if period is None:
        ref = talib.VWAP(*_hlcv(candles))
    else:  # rolling VWAP is TA-Lib's VWMA of the typical price
        tp = talib.TYPPRICE(candles.high, candles.low, candles.close)
        ref = talib.VWMA(tp, candles.volume, period)
    assert_same(ours, ref)


def test_vwap_session_is_talib_vwap_per_day(candles: Candles) -> None:
    n = candles.close.shape[0]
    five_min = 300_000
    # close-stamped 5m candles; the first closes at 01:00 UTC on some day
    ts = 1_735_693_200_000 + five_min * np.arange(1, n + 1)
    ours = ind.vwap_session(*_hlcv(candles), ts)
    day = (ts - 1) // 86_400_000
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    assert starts.size > 3
    for a, b in zip(starts, np.r_[starts[1:], n], strict=True):
        sl = slice(a, b)
        ref = talib.VWAP(candles.high[sl], candles.low[sl], candles.close[sl], candles.volume[sl])
        assert_same(ours[sl], ref)


def test_vwap_session_close_stamp_boundary() -> None:
    """The candle stamped 00:00 covers (23:55, 00:00] and belongs to the day before."""
    day = 86_400_000
    ts = np.array([day - 300_000, day, day + 300_000, day + 600_000])
    h = np.array([10.0, 20.0, 30.0, 40.0])
    vol = np.ones(4)
    ours = ind.vwap_session(h, h, h, vol, ts)
    np.testing.assert_allclose(ours, [10.0, 15.0, 30.0, 35.0])
    opened = ind.vwap_session(h, h, h, vol, ts, stamp="open")
    np.testing.assert_allclose(opened, [10.0, 20.0, 25.0, 30.0])
    with pytest.raises(ValueError, match="stamp"):
        ind.vwap_session(h, h, h, vol, ts, stamp="middle")
    with pytest.raises(ValueError, match="same candles"):
        ind.vwap_session(h, h, h, vol, ts[:3])


@pytest.mark.parametrize("col", ["close", "low", "volume"])
def test_nan_as_talib(col: str) -> None:
    rng = np.random.default_rng(2)
    c = 100 + np.cumsum(rng.standard_normal(300))
    h, lo, vol = c + 1, c - 1, rng.uniform(1, 5, 300)
    data = {"close": c, "low": lo, "volume": vol}
    data[col][150] = np.nan
    c[:4] = np.nan
    args = (h, lo, c, vol)
    for ours, ref in [
        (ind.ad(*args), talib.AD(*args)), (ind.adosc(*args, 3, 10), talib.ADOSC(*args, 3, 10)),
        (ind.mfi(*args, 14), talib.MFI(*args, 14)), (ind.cmf(*args, 20), talib.CMF(*args, 20)),
        (ind.vwap(*args), talib.VWAP(*args)),
    ]:
        assert_same(ours, ref, scale=100.0)


def test_zero_volume_is_defined() -> None:
    c = np.linspace(10.0, 11.0, 60)
    vol = np.zeros(60)
    assert (ind.cmf(c + 1, c - 1, c, vol, 20)[19:] == 0.0).all()
    assert (ind.mfi(c + 1, c - 1, c, vol, 14)[14:] == 0.0).all()
    assert (ind.vwap(c + 1, c - 1, c, vol) == 0.0).all()  # TA-Lib: 0 until volume trades
