"""Point-in-time sentiment: nothing published after a candle's close reaches its signal."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest import run_backtest
from engine.backtest.runner import build_frame
from engine.strategy import get_strategy
from engine.strategy.interface import analyze
from sentiment.pointintime import AggParams, NewsItem, NewsSeries, columns_at
from tests.backtest.helpers import STEP, T0, candles


def _news(times: list[int], scores: list[float], conf: float = 1.0) -> list[NewsItem]:
    return [NewsItem(t, s, conf) for t, s in zip(times, scores, strict=True)]


def test_headline_one_second_after_close_cannot_change_that_candles_signal() -> None:
    c = {"BTC/USDT": candles("BTC/USDT", [100.0] * 60)}
    k = 40  # the candle under test
    close_k = int(c["BTC/USDT"].close_time[k])
    quiet = _news([T0], [0.0])
    late = _news([T0, close_k + 1000], [0.0, 0.9])  # 1 s after candle k's close
    on_time = _news([T0, close_k], [0.0, 0.9])  # exactly at the close

    def enter(items: list[NewsItem]) -> np.ndarray:
        f = analyze(get_strategy("sentiment_momentum"), build_frame(c["BTC/USDT"], items),
                    {"pair": "BTC/USDT"})
        return np.asarray(f["enter_long"])

    base, lt, ot = enter(quiet), enter(late), enter(on_time)
    assert not base[k] and not lt[k]
    assert ot[k]  # the test can fail: on time it does change the signal
    assert lt[k + 1]  # ...and the late one reaches the next candle
    assert np.array_equal(base[: k + 1], lt[: k + 1])
    # through the whole backtest: no trade opens on candle k+1 from the late headline
    r_late = run_backtest(c, "sentiment_momentum", news={"BTC": late}, stake=100.0,
                          wallet=1000.0)
    r_on = run_backtest(c, "sentiment_momentum", news={"BTC": on_time}, stake=100.0,
                        wallet=1000.0)
    assert int(r_on.trades.open_ms[0]) == T0 + (k + 1) * STEP
    assert int(r_late.trades.open_ms[0]) == T0 + (k + 2) * STEP


def test_processing_delay_postpones_visibility() -> None:
    close = T0 + STEP * np.arange(1, 6, dtype=np.int64)
    items = _news([T0 + 60_000], [0.5])  # published 1 min into the first candle
    sc0 = columns_at(NewsSeries(items), close, AggParams())["sentiment"]
    sc1 = columns_at(NewsSeries(items, delay_ms=STEP), close, AggParams())["sentiment"]
    assert sc0[0] == 0.5
    assert np.isnan(sc1[0]) and sc1[1] == pytest.approx(0.5)


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="look ahead"):
        NewsSeries(_news([T0], [0.1]), delay_ms=-1)
    c = {"BTC/USDT": candles("BTC/USDT", [100.0] * 40)}
    with pytest.raises(ValueError, match="look ahead"):
        run_backtest(c, "sentiment_momentum", news={"BTC": _news([T0], [0.9])},
                     news_delay_s=-1)


def test_confidence_scales_the_stake() -> None:
    c = {"BTC/USDT": candles("BTC/USDT", [100.0] * 40)}
    r = run_backtest(c, "sentiment_momentum", news={"BTC": _news([T0], [0.9], conf=0.25)},
                     stake=100.0, wallet=1000.0)
    assert r.trades.stake_amount[0] == pytest.approx(25.0)


def test_news_of_another_coin_does_not_reach_the_pair() -> None:
    c = {"BTC/USDT": candles("BTC/USDT", [100.0] * 40)}
    r = run_backtest(c, "sentiment_momentum", news={"ETH": _news([T0], [0.9])},
                     stake=100.0, wallet=1000.0)
    assert len(r.trades) == 0


def test_same_items_in_any_order_give_identical_columns() -> None:
    rng = np.random.default_rng(3)
    times = [T0 + int(x) for x in rng.integers(0, 50 * STEP, 200)]
    items = [NewsItem(t, float(s), float(cf), kind=k, event_type=e, impact=int(i))
             for t, s, cf, k, e, i in zip(times, rng.uniform(-1, 1, 200),
                                          rng.uniform(0, 1, 200),
                                          rng.choice(["rss", "reddit"], 200),
                                          rng.choice(["none", "hack/exploit", "macro"], 200),
                                          rng.integers(1, 11, 200), strict=True)]
    q = T0 + STEP * np.arange(1, 60, dtype=np.int64)
    a = columns_at(NewsSeries(items), q, AggParams())
    b = columns_at(NewsSeries(items[::-1]), q, AggParams())
    one = {k: np.array([columns_at(NewsSeries(items), [t], AggParams())[k][0] for t in q])
           for k in a}
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
        assert np.array_equal(a[k], one[k], equal_nan=True), k  # one instant == many
