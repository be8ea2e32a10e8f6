"""Streaming indicators, point-in-time sentiment, event rules, candles in and out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engine.candles import Candles
from engine.clock import ManualClock, ms_to_dt
from engine.db import SessionFactory, make_engine
from engine.fusion import Bar, DbSentiment, Fusion, SentimentReading
from engine.indicators import ema, rsi
from engine.market import CandleAggregator, ReplayFeed, validate_candles
from engine.models import NewsItem, SentimentScore

T = datetime(2025, 10, 10, 12, 0, tzinfo=UTC)


def test_fusion_inputs_are_the_batch_kernels_values() -> None:
    """The live loop's technical inputs (library streams) equal the 1-D kernels a backtest
    uses, candle for candle."""
    from engine.indicators import atr

    x = np.cumsum(np.random.default_rng(1).normal(0, 1, 300)) + 100
    fusion = Fusion()
    got = []
    for i, v in enumerate(x):
        bar = Bar("BTC/USDT", "5m", T + timedelta(minutes=5 * i), float(v), float(v) + 1,
                  float(v) - 1, float(v), 1.0)
        got.append(fusion.technical(("b", "BTC/USDT"), bar)[1])
    p = fusion.p
    for key, ref in (("ema_fast", ema(x, p.ema_fast)), ("ema_slow", ema(x, p.ema_slow)),
                     ("rsi", rsi(x, p.rsi_period)), ("atr", atr(x + 1, x - 1, x, p.atr_period))):
        np.testing.assert_array_equal(np.array([g[key] for g in got]), ref)


def _news(sessions: SessionFactory, title: str, at: datetime, score: float,
          symbols: list[str]) -> None:
    with sessions.begin() as s:
        n = NewsItem(dedup_key=title[:60], title_hash=title[:60], source="t", title=title,
                     published_at=at, symbols=[x.split("/")[0] for x in symbols])
        s.add(n)
        s.flush()
        s.add(SentimentScore(news_item_id=n.id or 0, scorer="lexicon", label="x", score=score,
                             confidence=1, symbols=symbols))


def test_sentiment_is_point_in_time(db_url: str) -> None:
    sessions = SessionFactory(make_engine(db_url))
    _news(sessions, "BTC rallies", T - timedelta(minutes=2), 0.8, ["BTC/USDT"])
    _news(sessions, "BTC exchange hacked, funds stolen", T + timedelta(seconds=1), -0.9,
          ["BTC/USDT"])
    _news(sessions, "ETH upgrade ships", T - timedelta(minutes=1), 0.5, ["ETH/USDT"])
    src = DbSentiment(sessions, half_life_minutes=120)
    assert src.refresh() == 3
    r = src.at("BTC/USDT", T)
    assert r.score == pytest.approx(0.8) and r.n == 1 and r.alerts == ()
    later = src.at("BTC/USDT", T + timedelta(minutes=5))
    assert later.n == 2 and later.alerts == ("BTC exchange hacked, funds stolen",)
    assert src.at("BTC/USDT", T - timedelta(minutes=3)).score is None


def _bar(i: int, close: float) -> Bar:
    return Bar("BTC/USDT", "5m", T + timedelta(minutes=5 * i), close, close + 1, close - 1,
               close, 1.0)


def test_fusion_long_on_cross_then_event_exit() -> None:
    f = Fusion()
    none = SentimentReading(None, 0)
    dirs = [f.on_bar("b", _bar(i, 100.0), none, False).direction for i in range(40)]
    assert set(dirs) == {"flat"}
    up = [f.on_bar("b", _bar(40 + i, 100.0 + 0.5 * i), none, False) for i in range(10)]
    longs = [d for d in up if d.direction == "long"]
    assert len(longs) == 1  # only on the crossing, not every bullish candle
    assert longs[0].inputs["ema_fast"] > longs[0].inputs["ema_slow"]
    hack = SentimentReading(-0.9, 1, ("x",), ("Exchange hacked",))
    d = f.on_bar("b", _bar(60, 110.0), hack, holding=True)
    assert d.direction == "exit" and d.reasons == ("event: Exchange hacked",)
    assert f.on_bar("b", _bar(61, 110.0), hack, holding=False).direction != "exit"


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
    c = feed.candles["BTC/USDT"]
    assert first == int(c.open_time[0]) + 300_000 and steps[0][1] == ["BTC/USDT", "ETH/USDT"]
    resumed = next(iter(feed.steps(after_ms=first)))
    assert resumed[0] == first + 300_000
    assert [s[0] - first for s in steps] == [0, 300_000, 600_000]
