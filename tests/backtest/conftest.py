"""Shared fixtures: the reference data lives in ../shared/data beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backtest._paths import shared_data
from engine.data.candles import Candles, fill_gaps, load_candles, pair_to_filename, read_candles

DATA = shared_data()
REF = DATA / "reference"
TESTDATA = DATA / "ohlcv" / "freqtrade_testdata"
BINANCE = DATA / "ohlcv" / "binance_spot_5m_2025"
TEST_PAIRS = [
    "ADA/BTC",
    "DASH/BTC",
    "ETC/BTC",
    "ETH/BTC",
    "LTC/BTC",
    "NXT/BTC",
    "TRX/BTC",
    "XLM/BTC",
    "XMR/BTC",
    "ZEC/BTC",
]


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data {path} absent")
    return path


@pytest.fixture(scope="session")
def testdata() -> dict[str, Candles]:
    """The 10 *_BTC-5m pairs from the CSVs (values rounded to 8 decimals, as the
    reference run saw them), gap-filled."""
    d = need(TESTDATA)
    return {
        p: fill_gaps(read_candles(d / f"{pair_to_filename(p, '5m')}.csv", p, "5m"))
        for p in TEST_PAIRS
    }


@pytest.fixture(scope="session")
def binance() -> dict[str, Candles]:
    return load_candles(need(BINANCE), None, "5m")
