"""engine/data/news.py: storage, never-twice scoring, loading for aggregation, and poll()."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import SQLModel, select

from engine.data.news import load_aggregator, load_scored, poll, save_items, score_pending, unscored
from engine.storage.db import SessionFactory, make_engine
from engine.storage.models import NewsItem, SentimentScore
from sentiment.config import SentimentSettings
from sentiment.errors import ScorerError
from sentiment.items import RawItem, Score
from sentiment.lexicon import LexiconScorer
from sentiment.sources import FetchPolicy, HttpFetcher, NewsCollector, RssSource
from tests.fakes.news_server import NewsServer, Reply, rss

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sf(tmp_path: Path) -> SessionFactory:
    eng = make_engine(f"sqlite:///{tmp_path / 'news.db'}")
    SQLModel.metadata.create_all(eng)
    return SessionFactory(eng)


@pytest.fixture
def server() -> Iterator[NewsServer]:
    with NewsServer() as srv:
        yield srv


def raw(url: str, title: str, minutes: int = 0, kind: str = "rss") -> RawItem:
    return RawItem(f"{kind}:x", kind, url, title, "", NOW + timedelta(minutes=minutes), NOW,
                   ("BTC",))


def test_save_items_dedups_against_db_and_batch(sf: SessionFactory) -> None:
    first = save_items(sf, [raw("https://a.io/1", "Bitcoin rallies"),
                            raw("https://a.io/1?utm_source=x", "Other title"),  # same URL key
                            raw("https://b.io/2", "Ether slips")])
    assert [r.title for r in first] == ["Bitcoin rallies", "Ether slips"]
    assert all(r.id for r in first) and first[0].published_at == NOW
    again = save_items(sf, [raw("https://a.io/1", "Bitcoin rallies"),
                            raw("https://c.io/3", "BITCOIN RALLIES!"),  # same title hash
                            raw("https://d.io/4", "Solana jumps")])
    assert [r.title for r in again] == ["Solana jumps"]
    with sf() as s:
        assert len(s.exec(select(NewsItem)).all()) == 3


class Counting:
    """Wraps a scorer and counts texts it was asked to score."""

    def __init__(self, inner: LexiconScorer) -> None:
        self.inner = inner
        self.name = inner.name
        self.seen: list[str] = []

    def score(self, texts: Sequence[str]) -> list[Score]:
        self.seen.extend(texts)
        return self.inner.score(texts)

    async def ascore(self, texts: Sequence[str]) -> list[Score]:
        return self.score(texts)


async def test_items_scored_once_per_scorer(sf: SessionFactory) -> None:
    save_items(sf, [raw("https://a.io/1", "Exchange hacked, BTC plunges"),
                    raw("https://a.io/2", "SEC approves bitcoin ETF", 5)])
    sc = Counting(LexiconScorer())
    assert await score_pending(sf, sc) == 2
    assert await score_pending(sf, sc) == 0
    assert len(sc.seen) == 2 and unscored(sf, "lexicon") == []
    assert len(unscored(sf, "finbert")) == 2  # another scorer still has work
    with sf() as s:
        rows = s.exec(select(SentimentScore).order_by(SentimentScore.id)).all()
    assert [r.label for r in rows] == ["negative", "positive"]
    assert rows[0].symbols == ["BTC"] and rows[0].event_type == "hack/exploit"


async def test_fallback_scores_stored_under_their_own_name(sf: SessionFactory) -> None:
    save_items(sf, [raw("https://a.io/1", "Ether rallies")])

    class FallingBack:
        name = "openai"

        def score(self, texts: Sequence[str]) -> list[Score]:
            return LexiconScorer().score(texts)  # scorer="lexicon"

        async def ascore(self, texts: Sequence[str]) -> list[Score]:
            return self.score(texts)

    assert await score_pending(sf, FallingBack()) == 1
    assert len(unscored(sf, "openai")) == 1 and unscored(sf, "lexicon") == []
    # aggregation still sees the item (lexicon's score stands in until openai scores it)
    (only,) = load_scored(sf, "openai")
    assert only.score > 0
    assert load_scored(sf, "openai", fallback=None) == []


async def test_load_scored_and_aggregate_point_in_time(sf: SessionFactory) -> None:
    save_items(sf, [raw("https://a.io/1", "Bitcoin rallies to record high", 0),
                    raw("https://a.io/2", "Bitcoin exchange hacked", 30)])
    await score_pending(sf, LexiconScorer())
    series = load_scored(sf, "lexicon")
    assert [x.published_at for x in series] == [NOW, NOW + timedelta(minutes=30)]
    assert load_scored(sf, "lexicon", until=NOW + timedelta(minutes=10))[0].score > 0
    agg = load_aggregator(sf, SentimentSettings())
    assert agg.at("BTC/USDT", NOW + timedelta(minutes=10)).label == "BULLISH"
    assert agg.at("BTC", NOW + timedelta(minutes=30)).score < agg.at(
        "BTC", NOW + timedelta(minutes=10)).score


async def test_poll_end_to_end_with_conditional_get(sf: SessionFactory,
                                                    server: NewsServer) -> None:
    server.serve("/feed", rss([
        ("Bitcoin ETF inflows hit record", "https://n.io/1", NOW - timedelta(minutes=5)),
        ("Ethereum bridge exploited for $30M", "https://n.io/2", NOW - timedelta(minutes=9)),
    ]), "application/rss+xml")
    settings = SentimentSettings(rss_feeds=[server.url("/feed")], rate_limit_per_minute=6000)
    async with httpx.AsyncClient() as client:
        assert await poll(sf, settings, client) == 2
        assert await poll(sf, settings, client) == 0  # 304: nothing new
    assert server.hits("/feed")[-1].headers.get("If-None-Match")
    with sf() as s:
        scores = s.exec(select(SentimentScore)).all()
    assert sorted(x.label for x in scores) == ["negative", "positive"]
    agg = load_aggregator(sf, settings)
    eth = agg.at("ETH", NOW)
    assert (eth.label, eth.n_items) == ("BEARISH", 1)
    assert agg.at("ETH", NOW - timedelta(minutes=10)).n_items == 0  # before it was published


async def test_poll_never_raises(sf: SessionFactory, server: NewsServer,
                                 caplog: pytest.LogCaptureFixture) -> None:
    server.fail("/feed", *[Reply(500)] * 10)
    fetcher = HttpFetcher(httpx.AsyncClient(), FetchPolicy(retries=0))
    col = NewsCollector([RssSource(server.url("/feed"))], fetcher)
    assert await poll(sf, SentimentSettings(), collector=col, scorer=LexiconScorer()) == 0

    class Exploding:
        name = "lexicon"

        def score(self, texts: Sequence[str]) -> list[Score]:
            raise ScorerError("model on fire")

        async def ascore(self, texts: Sequence[str]) -> list[Score]:
            raise ScorerError("model on fire")

    server.serve("/ok", rss([("Solana soars", "https://n.io/s", NOW)]), "text/xml")
    col2 = NewsCollector([RssSource(server.url("/ok"))],
                         HttpFetcher(httpx.AsyncClient(), FetchPolicy(retries=0)))
    caplog.set_level(logging.ERROR)
    assert await poll(sf, SentimentSettings(), collector=col2, scorer=Exploding()) == 1
    assert "model on fire" in caplog.text
    assert len(unscored(sf, "lexicon")) == 1  # saved; scored on a later poll

    def broken_factory() -> object:
        raise RuntimeError("database is locked")

    assert await poll(broken_factory, SentimentSettings(), collector=col2,  # type: ignore[arg-type]
                      scorer=LexiconScorer()) == 0
    assert await poll(sf, object(), collector=col2) == 0  # wrong settings type: logged


def test_save_items_accepts_prekeyed_items(sf: SessionFactory) -> None:
    from sentiment.dedup import with_keys

    it = with_keys(raw("https://a.io/k", "Keyed"))
    assert len(save_items(sf, [it, replace(it, url="https://other.io/k")])) == 1


async def test_primary_scorer_preferred_over_fallback(sf: SessionFactory) -> None:
    save_items(sf, [raw("https://a.io/1", "Ether rallies")])
    await score_pending(sf, LexiconScorer())

    class Grumpy:
        name = "openai"

        def score(self, texts: Sequence[str]) -> list[Score]:
            return [Score("negative", -0.9, 0.9, scorer="openai") for _ in texts]

        async def ascore(self, texts: Sequence[str]) -> list[Score]:
            return self.score(texts)

    await score_pending(sf, Grumpy())
    (item,) = load_scored(sf, "openai")
    assert item.score == -0.9
    assert load_scored(sf, "lexicon")[0].score > 0


async def test_failed_save_does_not_lose_items_to_a_304(sf: SessionFactory,
                                                        server: NewsServer) -> None:
    server.serve("/feed", rss([("Bitcoin ETF inflows hit record", "https://n.io/1", NOW)]),
                 "application/rss+xml")
    fetcher = HttpFetcher(httpx.AsyncClient(), FetchPolicy(retries=0, rate_per_minute=6000))
    fetcher.defer_validators = True
    col = NewsCollector([RssSource(server.url("/feed"))], fetcher)

    def db_down() -> object:
        raise RuntimeError("database is locked")

    assert await poll(db_down, SentimentSettings(), collector=col,  # type: ignore[arg-type]
                      scorer=LexiconScorer()) == 0
    # the next poll must fetch in full (no If-None-Match) and store the item
    assert await poll(sf, SentimentSettings(), collector=col, scorer=LexiconScorer()) == 1
    assert "If-None-Match" not in server.hits("/feed")[-1].headers
    assert await poll(sf, SentimentSettings(), collector=col, scorer=LexiconScorer()) == 0
    assert server.hits("/feed")[-1].headers.get("If-None-Match")  # committed after the save
