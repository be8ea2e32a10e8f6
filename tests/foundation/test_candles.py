from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data.candles import (
    DEMO_DATA_DIR,
    Candles,
    clean,
    fill_gaps,
    load_candles,
    read_candles,
    validate,
)
from engine.errors import DataError


def test_feather_and_csv_agree_and_gaps_filled_like_freqtrade(shared_data: Path) -> None:
    d = shared_data / "ohlcv" / "freqtrade_testdata"
    f = read_candles(d / "TRX_BTC-5m.feather")
    c = read_candles(d / "TRX_BTC-5m.csv")
    assert f.symbol == "TRX/BTC" and f.timeframe == "5m"
    np.testing.assert_array_equal(f.open_time, c.open_time)
    np.testing.assert_allclose(f.close, c.close, rtol=1e-12)
    assert validate(f) == ["6 gaps"]  # as the data README says
    g = fill_gaps(f)
    assert validate(g) == []
    assert len(g) == (f.open_time[-1] - f.open_time[0]) // 300_000 + 1
    # every inserted candle: OHLC = previous close, volume 0
    inserted = ~np.isin(g.open_time, f.open_time)
    idx = np.flatnonzero(inserted)
    assert idx.size > 0
    for i in idx:
        assert g.open[i] == g.high[i] == g.low[i] == g.close[i] == g.close[i - 1]
        assert g.volume[i] == 0


def test_close_time_is_right_aligned() -> None:
    c = load_candles(DEMO_DATA_DIR, ["BTC/USDT"], "5m")["BTC/USDT"]
    assert np.all(c.close_time - c.open_time == 300_000)


def test_duplicates_merged_like_freqtrade() -> None:
    t = np.array([0, 300_000, 300_000, 600_000], dtype=np.int64)
    o = np.array([1.0, 2.0, 9.0, 3.0])
    h = np.array([1.0, 5.0, 4.0, 3.0])
    lo = np.array([1.0, 1.5, 0.5, 3.0])
    cl = np.array([1.0, 2.5, 3.5, 3.0])
    v = np.array([1.0, 2.0, 7.0, 1.0])
    c = clean(Candles("X/Y", "5m", t, o, h, lo, cl, v))
    assert list(c.open_time) == [0, 300_000, 600_000]
    assert (c.open[1], c.high[1], c.low[1], c.close[1], c.volume[1]) == (2.0, 5.0, 0.5, 3.5, 7.0)


def test_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_candles(tmp_path / "missing", None, "5m")
    with pytest.raises(DataError, match=r"no candles for DOGE/USDT 5m .*available: BTC/USDT 5m"):
        load_candles(DEMO_DATA_DIR, ["DOGE/USDT"], "5m")
    with pytest.raises(DataError, match="unknown timeframe"):
        load_candles(DEMO_DATA_DIR, ["BTC/USDT"], "7m")
    bad = tmp_path / "BAD_USDT-5m.csv"
    bad.write_text("timestamp_ms,open,high\n1,2,3\n")
    with pytest.raises(DataError, match="missing columns"):
        read_candles(bad)
