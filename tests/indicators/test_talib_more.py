"""WMA, MOM, ROC against TA-Lib; SMMA/RMA against its definition (TA-Lib has no SMMA)."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles
from tests.indicators.helpers import assert_same

talib = pytest.importorskip("talib")


@pytest.mark.parametrize("period", [2, 9, 30])
def test_wma(candles: Candles, period: int) -> None:
    assert_same(ind.wma(candles.close, period), talib.WMA(candles.close, period))


@pytest.mark.parametrize("period", [1, 10])
def test_mom_roc(candles: Candles, period: int) -> None:
    c = candles.close
    assert_same(ind.mom(c, period), talib.MOM(c, period), scale=1e-3 * float(np.max(c)))
    assert_same(ind.roc(c, period), talib.ROC(c, period), scale=1e-3)


def test_smma_is_wilder_average_used_by_atr(candles: Candles) -> None:
    h, lo, c = candles.high, candles.low, candles.close
    tr = talib.TRANGE(h, lo, c)
    assert_same(ind.rma(tr, 14), talib.ATR(h, lo, c, 14))
    assert ind.rma is ind.smma
