"""Real candles for the TA-Lib comparisons.

Three price scales on purpose: BTC/USDT (~1e5, where running sums of squares lose
precision), ETH/BTC (~0.1) and NXT/BTC (~1e-5, where TA-Lib's 1e-8 "is zero" thresholds
kick in). The shared data folder sits beside the repository root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

_ROOT = Path(__file__).resolve().parents[2]


def _find_data() -> Path:
    """shared/ sits beside the clone in CI; a git worktree may sit one level deeper."""
    for base in (_ROOT, *_ROOT.parents):
        for cand in (base / "shared", base / ".." / "shared"):
            if (cand / "data" / "ohlcv").is_dir():
                return cand / "data" / "ohlcv"
    return _ROOT / ".." / "shared" / "data" / "ohlcv"


DATA = _find_data()


@dataclass(frozen=True)
class Candles:
    name: str
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _csv(path: Path, last: int | None = None) -> Candles:
    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    if last is not None:
        raw = raw[-last:]
    return Candles(path.stem, *(np.ascontiguousarray(raw[:, i]) for i in range(1, 6)))


def _feather(path: Path, last: int) -> Candles:
    import pandas as pd

    df = pd.read_feather(path).iloc[-last:]
    cols = (df[c].to_numpy(dtype=np.float64, copy=True) for c in ("open", "high", "low",
                                                                   "close", "volume"))
    return Candles(path.stem, *cols)


def _load() -> list[Candles]:
    if not DATA.is_dir():
        pytest.skip(f"shared candle data not found at {DATA}")
    return [
        _feather(DATA / "binance_spot_5m_2025" / "BTC_USDT-5m.feather", 30_000),
        _csv(DATA / "freqtrade_testdata" / "ETH_BTC-5m.csv"),
        _csv(DATA / "freqtrade_testdata" / "NXT_BTC-5m.csv"),
    ]


_CACHE: list[Candles] = []


def all_candles() -> list[Candles]:
    if not _CACHE:
        _CACHE.extend(_load())
    return _CACHE


@pytest.fixture(params=["BTC_USDT", "ETH_BTC", "NXT_BTC"])
def candles(request: pytest.FixtureRequest) -> Candles:
    for c in all_candles():
        if c.name.startswith(request.param):
            return c
    raise LookupError(request.param)
