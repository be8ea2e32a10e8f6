"""Streaming indicators, point-in-time sentiment, event rules, candles in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engine.clock import ManualClock, ms_to_dt
from engine.data.candles import Bar, Candles
from engine.data.feeds import CandleAggregator, ReplayFeed, validate_candles
from engine.data.newsbook import NewsBook
from engine.indicators import ema, rsi
from engine.storage.config import Settings
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import NewsItem, SentimentScore
from engine.strategy import Frame, get_strategy
from engine.strategy.interface import analyze
from engine.strategy.runtime import StrategyRuntime
from sentiment.pointintime import SENTIMENT_COLUMNS

T = datetime(2025, 10, 10, 12, 0, tzinfo=UTC)


def test_runtime_inputs_are_the_batch_kernels_values() -> None:
    """What the live runtime shows for each closed candle equals the 1-D kernels a
    backtest uses on the whole series, candle for candle."""
    x = np.cumsum(np.random.default_rng(1).normal(0, 1, 300)) + 100
    rt = StrategyRuntime(get_strategy("sentiment_fusion"), "5m")
    got = []
    for i, v in enumerate(x):
        rt.push("BTC/USDT", _row(i, float(v)))
        rt.evaluate("BTC/USDT")
        got.append(rt.last_inputs("BTC/USDT"))
    for key, ref in (("ema_fast", ema(x, 12)), ("ema_slow", ema(x, 26)), ("rsi", rsi(x, 14))):
        vals = np.array([g.get(key, np.nan) for g in got])
        np.testing.assert_allclose(vals, ref, rtol=1e-8)  # inputs are rounded for display
    assert all("sentiment" not in g for g in got)  # no news: no sentiment input


def _bar(i: int, close: float) -> Bar:
    return Bar("BTC/USDT", "5m", T + timedelta(minutes=5 * i), close, close + 1, close - 1,
               close, 1.0)


def _row(i: int, close: float, **cols: float) -> dict[str, float]:
    t = int(T.timestamp() * 1000) + i * 300_000
    return {"date": float(t), "close_time": float(t + 300_000), "open": close,
            "high": close + 1, "low": close - 1, "close": close, "volume": 1.0, **cols}


def _news(sessions: SessionFactory, title: str, at: datetime, score: float,
          symbols: list[str], event: str = "none") -> None:
    with sessions.begin() as s:
        n = NewsItem(dedup_key=title[:60], title_hash=title[:60], source="t", title=title,
                     published_at=at, symbols=[x.split("/")[0] for x in symbols])
        s.add(n)
        s.flush()
        s.add(SentimentScore(news_item_id=n.id or 0, scorer="lexicon", label="x", score=score,
                             confidence=1, symbols=symbols, event_type=event, impact=8))


def test_newsbook_is_point_in_time(db_url: str) -> None:
    sessions = SessionFactory(make_engine(db_url))
    _news(sessions, "BTC rallies", T - timedelta(minutes=2), 0.8, ["BTC/USDT"])
    _news(sessions, "BTC exchange hacked, funds stolen", T + timedelta(seconds=1), -0.9,
          ["BTC/USDT"], event="hack/exploit")
    _news(sessions, "ETH upgrade ships", T - timedelta(minutes=1), 0.5, ["ETH/USDT"])
    book = NewsBook(sessions, Settings(database={"url": db_url}))  # type: ignore[arg-type]
    assert book.refresh() == []  # the first load is history, not news
    assert len(book.headlines) == 3
    t = int(T.timestamp() * 1000)
    now = book.columns("BTC/USDT", t, 300_000)
    assert now["sentiment"] == pytest.approx(0.8) and now["news_count"] == 1
    assert now["event_hack"] == 0
    later = book.columns("BTC/USDT", t + 300_000, 300_000)
    assert later["news_count"] == 2 and later["event_hack"] == 1 and later["news_impact"] == 8
    assert np.isnan(book.columns("BTC/USDT", t - 180_000, 300_000)["sentiment"])
    assert next(h.title for h in book.about("BTC/USDT")) == "BTC exchange hacked, funds stolen"


def test_sentiment_fusion_long_on_cross_then_event_exit() -> None:
    strat = get_strategy("sentiment_fusion")
    n = 70
    close = np.array([100.0] * 40 + [100.0 + 0.5 * i for i in range(30)])
    hack = np.zeros(n)
    hack[65] = 1.0
    cols = {k: np.zeros(n) for k in SENTIMENT_COLUMNS}
    cols["sentiment"] = np.full(n, np.nan)
    cols["event_hack"] = hack
    f = Frame({"open": close, "high": close + 1, "low": close - 1, "close": close,
               "volume": np.ones(n), **cols}, n=n)
    out = analyze(strat, f, {"pair": "BTC/USDT"})
    entries = np.flatnonzero(out["enter_long"])
    assert len(entries) == 1 and entries[0] >= 40  # only on the crossing
    assert out["exit_long"][65] and out["exit_tag"][65] == "event_hack"
    strat.set_params(event_exit=False)
    assert not analyze(strat, Frame(dict(f), n=n), {"pair": "BTC/USDT"})["exit_long"][65]


def test_aggregator_right_aligned() -> None:
    agg = CandleAggregator("BTC/USDT", "1m")
    t0 = 1_700_000_040_000  # a minute boundary
    assert agg.add(t0 + 1, 10.0) is None
    assert agg.add(t0 + 30_000, 12.0) is None
    assert agg.add(t0 + 60_000, 9.0) is None  # exactly at close: belongs to this candle
    bar = agg.add(t0 + 60_001, 11.0)
    assert bar is not None and bar.ts == ms_to_dt(t0 + 60_000)
    assert (bar.open, bar.high, bar.low, bar.close) == (10.0, 12.0, 9.0, 9.0)
    last = agg.flush(t0 + 120_000)
    assert last is not None and last.close == 11.0


def test_validation_finds_gaps_duplicates_and_bad_ohlc() -> None:
    ot = np.array([0, 300_000, 300_000, 1_200_000], dtype=np.int64)
    one = np.ones(4)
    c = Candles("X/Y", "5m", ot, one, one * 2, np.array([0.5, 0.5, 3.0, 0.5]), one, one)
    kinds = sorted((i.kind, i.index) for i in validate_candles(c))
    assert kinds == [("duplicate", 2), ("gap", 3), ("ohlc", 2)]


def test_replay_steps_are_close_time_ordered_and_resume() -> None:
    feed = ReplayFeed(None, ["BTC/USDT", "ETH/USDT"], "5m", ManualClock())
    it = feed.steps()
    steps = [(ts, [b.symbol for b in bars]) for ts, bars in (next(it) for _ in range(3))]
    first = steps[0][0]
    c = feed.candles[("BTC/USDT", "5m")]
    assert first == int(c.open_time[0]) + 300_000 and steps[0][1] == ["BTC/USDT", "ETH/USDT"]
    resumed = next(iter(feed.steps(after_ms=first)))
    assert resumed[0] == first + 300_000
    assert [s[0] - first for s in steps] == [0, 300_000, 600_000]
