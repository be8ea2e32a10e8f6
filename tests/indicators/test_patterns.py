"""Candle patterns against TA-Lib, signal for signal, on real candles (thousands of hits
at three price scales), with NaN, and on hand-built textbook candles."""

from __future__ import annotations

import numpy as np
import pytest

import engine.indicators as ind
from tests.indicators.conftest import Candles

talib = pytest.importorskip("talib")

CASES = [
    (ind.cdlengulfing, talib.CDLENGULFING), (ind.cdldoji, talib.CDLDOJI),
    (ind.cdlhammer, talib.CDLHAMMER), (ind.cdlshootingstar, talib.CDLSHOOTINGSTAR),
    (ind.cdlmorningstar, talib.CDLMORNINGSTAR),
]


@pytest.mark.parametrize("fn, ref", CASES, ids=[r.__name__ for _, r in CASES])
def test_matches_talib(candles: Candles, fn, ref) -> None:  # type: ignore[no-untyped-def]
    args = (candles.open, candles.high, candles.low, candles.close)
    ours = fn(*args)
    expected = ref(*args)
    assert ours.dtype == np.int32
    np.testing.assert_array_equal(ours, expected)
    if ref is not talib.CDLMORNINGSTAR or candles.name.startswith("BTC"):
        assert np.count_nonzero(expected) > 10  # the comparison is not vacuous


@pytest.mark.parametrize("pen", [0.0, 0.5, 1.0])
def test_morningstar_penetration(candles: Candles, pen: float) -> None:
    args = (candles.open, candles.high, candles.low, candles.close)
    np.testing.assert_array_equal(ind.cdlmorningstar(*args, pen),
                                  talib.CDLMORNINGSTAR(*args, pen))


@pytest.mark.parametrize("fn, ref", CASES, ids=[r.__name__ for _, r in CASES])
def test_nan_as_talib(candles: Candles, fn, ref) -> None:  # type: ignore[no-untyped-def]
    o, h, lo, c = (a[:3000].copy() for a in (candles.open, candles.high, candles.low,
                                             candles.close))
    o[:3] = np.nan
    c[500] = np.nan
    h[800] = np.nan
    np.testing.assert_array_equal(fn(o, h, lo, c), ref(o, h, lo, c))


def _calm(n: int = 12) -> tuple[list[float], list[float], list[float], list[float]]:
    """Ordinary candles: bodies of 1, ranges of 2, drifting down."""
    o = [100.0 - i for i in range(n)]
    c = [x - 1.0 for x in o]
    return o, [x + 0.5 for x in o], [x - 1.5 for x in c], c


def test_textbook_candles() -> None:
    o, h, lo, c = _calm()
    # hammer: small body at the top, long lower shadow, no upper shadow, at the lows
    o2, h2, lo2, c2 = [*o, 86.6], [*h, 86.8], [*lo, 83.5], [*c, 86.8]
    assert ind.cdlhammer(o2, h2, lo2, c2)[-1] == 100
    # bullish engulfing of the last black candle
    o3, h3, lo3, c3 = [*o, 87.5], [*h, 90.5], [*lo, 87.0], [*c, 90.0]
    assert ind.cdlengulfing(o3, h3, lo3, c3)[-1] == 100
    # doji: open == close
    o4, h4, lo4, c4 = [*o, 88.0], [*h, 89.0], [*lo, 87.0], [*c, 88.0]
    assert ind.cdldoji(o4, h4, lo4, c4)[-1] == 100
    # morning star: long black, small gapped-down body, strong white
    o5, h5, lo5, c5 = [*o, 89.0, 84.0, 84.5], [*h, 89.2, 84.3, 88.2], [*lo, 84.8, 83.5, 84.4], \
        [*c, 85.0, 84.1, 88.0]
    assert ind.cdlmorningstar(o5, h5, lo5, c5)[-1] == 100
    for fn, ref in CASES:
        for args in ((o2, h2, lo2, c2), (o3, h3, lo3, c3), (o5, h5, lo5, c5)):
            arr = [np.asarray(a, dtype=np.float64) for a in args]
            np.testing.assert_array_equal(fn(*arr), ref(*arr))


def test_short_input_and_validation() -> None:
    x = np.ones(3)
    for fn, _ in CASES:
        assert (fn(x, x, x, x) == 0).all()
    with pytest.raises(ValueError, match="same candles"):
        ind.cdldoji(x, x, x, np.ones(4))
    with pytest.raises(ValueError, match="penetration"):
        ind.cdlmorningstar(x, x, x, x, -0.1)
