"""`on_news`: a strategy reacts to a high-impact headline when it arrives, between
candles (live only; a backtest sees it at the next close through `news_impact`)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from engine.data.candles import Bar
from engine.service.engine import Engine
from engine.storage.models import NewsItem, Proposal, SentimentScore


def _headline(eng: Engine, key: str, title: str, score: float, impact: int,
              minutes_ago: float = 1) -> None:
    with eng.sessions.begin() as s:
        n = NewsItem(dedup_key=key, title_hash=key, source="t", title=title,
                     published_at=eng.clock.now() - timedelta(minutes=minutes_ago),
                     symbols=["BTC"])
        s.add(n)
        s.flush()
        s.add(SentimentScore(news_item_id=n.id or 0, scorer="lexicon", label="positive",
                             score=score, confidence=0.9, event_type="partnership",
                             impact=impact, symbols=["BTC/USDT"]))


async def _warm(eng: Engine, clock) -> None:
    # a gentle rise: RSI lands inside news_momentum's 45..75 band
    for i in range(40):
        p = 60000.0 + (15.0 if i % 3 else -10.0) * i
        clock.advance(minutes=5)
        await eng.on_bar(Bar("BTC/USDT", "5m", clock.now(), p, p + 5, p - 5, p, 1.0))


async def test_high_impact_headline_proposes_an_entry_between_candles(engine_factory,
                                                                     clock) -> None:
    eng: Engine = await engine_factory(
        approvals={"mode": "manual"},
        bots=[{"name": "news", "strategy": "news_momentum", "symbols": ["BTC/USDT"]}])
    await _warm(eng, clock)
    assert 45 < eng.strategies.runtime(eng.bots.get("news")).last_inputs("BTC/USDT")["rsi"] < 75
    assert eng.pending_proposals() == []
    _headline(eng, "low", "Bitcoin firm signs small deal", 0.6, impact=2)
    _headline(eng, "high", "Major bank partners with Bitcoin network", 0.8, impact=9)
    clock.advance(minutes=2)  # between two candle closes
    [sig] = await eng.react_to_news(eng.refresh_sentiment())
    assert sig.direction == "long"
    [p] = eng.pending_proposals()
    assert p.reasons[0] == "on_news"
    assert "headline: Major bank partners with Bitcoin network" in p.reasons
    # the same headlines are not news twice
    assert await eng.react_to_news(eng.refresh_sentiment()) == []


async def test_strategies_without_the_hook_ignore_news(engine_factory, clock) -> None:
    eng: Engine = await engine_factory(approvals={"mode": "manual"})  # sentiment_fusion
    await _warm(eng, clock)
    eng.refresh_sentiment()
    _headline(eng, "high", "Major bank partners with Bitcoin network", 0.8, impact=9)
    assert await eng.react_to_news(eng.refresh_sentiment()) == []
    with eng.sessions() as s:
        assert all(p.reasons[0] != "on_news" for p in s.exec(select(Proposal)).all())
