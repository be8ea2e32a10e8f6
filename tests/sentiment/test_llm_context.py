"""The openai scorer's market context, against the loopback fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentiment.config import SentimentSettings
from sentiment.headline import HeadlineScorer
from sentiment.items import Score
from sentiment.llm import MarketContext, OpenAIScorer
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as a:
        yield a


def test_context_sent_for_named_coins_and_part_of_the_cache_key(api: FakeOpenAI) -> None:
    state = {"BTC": MarketContext(97_000.0, 2.5, 61.0, "up"),
             "SOL": MarketContext(180.0, -8.0, 28.0, "down")}
    asked: list[list[str]] = []

    def ctx(symbols: Sequence[str]) -> dict[str, MarketContext]:
        asked.append(list(symbols))
        return {s: state[s] for s in symbols if s in state}

    sc = OpenAIScorer(base_url=api.base_url, api_key="k", model="fake", batch_size=10,
                      market_context=ctx, fallback=None)
    out = sc.score(["SEC approves spot bitcoin ETF", "Fed holds rates"])
    assert [s.scorer for s in out] == ["openai", "openai"] and out[0].reasoning
    assert asked == [["BTC"]]
    sent = json.loads(api.requests[0]["messages"][1]["content"])
    assert sent["market"] == {"BTC": {"price": 97000.0, "change_24h_pct": 2.5,
                                      "rsi_14": 61.0, "trend": "up"}}
    assert "market" in api.requests[0]["messages"][0]["content"]
    sc.score(["SEC approves spot bitcoin ETF"])
    assert len(api.requests) == 1  # same market bucket: cached
    state["BTC"] = MarketContext(80_000.0, -15.0, 22.0, "down")
    sc.score(["SEC approves spot bitcoin ETF"])
    assert len(api.requests) == 2  # the market moved: asked again


def test_failing_context_provider_does_not_break_scoring(api: FakeOpenAI) -> None:
    def broken(_s: Sequence[str]) -> dict[str, MarketContext]:
        raise RuntimeError("no candles")

    sc = OpenAIScorer(base_url=api.base_url, api_key="k", model="fake",
                      market_context=broken, fallback=None)
    assert sc.score(["Bitcoin rallies"])[0].scorer == "openai"
    assert "market" not in json.loads(api.requests[0]["messages"][1]["content"])


def test_fallback_is_the_default_offline_scorer() -> None:
    sc = OpenAIScorer.from_settings(SentimentSettings())
    assert isinstance(sc.fallback, HeadlineScorer)


def test_context_per_call_wins_over_the_provider(api: FakeOpenAI) -> None:
    sc = OpenAIScorer(base_url=api.base_url, api_key="k", model="fake", fallback=None,
                      market_context=lambda _s: {"BTC": MarketContext(1.0, 0.0, 50.0, "up")})
    out = sc.score(["Bitcoin ETF sees record inflows"],
                   {"btc": MarketContext(64_000.0, -6.2, 31.5, "down")})
    sent = json.loads(api.requests[0]["messages"][1]["content"])
    assert sent["market"] == {"BTC": {"price": 64000.0, "change_24h_pct": -6.2,
                                      "rsi_14": 31.5, "trend": "down"}}
    v = out[0]
    assert v.scorer == "openai" and v.reasoning and 1 <= v.impact <= 10
    assert v.event_type in ("market", "regulatory") and 0 <= v.confidence <= 1


def test_market_context_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rsi"):
        MarketContext(100.0, 1.0, 140.0, "up")
    with pytest.raises(ValueError, match="price"):
        MarketContext(float("nan"), 1.0, 40.0, "up")
    with pytest.raises(ValueError, match="trend"):
        MarketContext(1.0, 1.0, 40.0, "flat")  # type: ignore[arg-type]


def test_market_contexts_from_closes() -> None:
    from engine.data.news import market_contexts

    up = [100.0 * 1.001 ** i for i in range(300)]  # steady climb, 5m bars
    down = list(reversed(up))
    ctx = market_contexts({"BTC/USDT": up, "ETH/USDT": down, "SOL/USDT": up[:100]}, 288)
    assert set(ctx) == {"BTC", "ETH"}  # SOL: not a day of bars
    b, e = ctx["BTC"], ctx["ETH"]
    assert b.price == pytest.approx(up[-1]) and b.trend == "up" and b.rsi_14 > 70
    assert b.change_24h_pct == pytest.approx(100 * (1.001 ** 288 - 1))
    assert e.trend == "down" and e.rsi_14 < 30 and e.change_24h_pct < 0
    bad = market_contexts({"X/USDT": [0.0] * 300, "Y/USDT": [*up[:-1], float("nan")]}, 288)
    assert bad == {}  # zero prices and gaps are skipped, never a crash


async def test_engine_passes_context_to_the_scorer(api: FakeOpenAI, tmp_path: Path) -> None:
    """engine/data/news.py: poll() -> score_pending(context=...) -> the LLM request."""
    from sqlmodel import SQLModel, select

    from engine.data.news import save_items, score_pending
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.models import SentimentScore
    from sentiment.items import RawItem

    eng = make_engine(f"sqlite:///{tmp_path / 'news.db'}")
    SQLModel.metadata.create_all(eng)
    sf = SessionFactory(eng)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    save_items(sf, [RawItem("rss:x", "rss", "https://a.io/1", "Solana ETF approved", "", now,
                            now), RawItem("rss:x", "rss", "https://a.io/2", "Fed holds rates",
                                          "", now, now)])
    sc = OpenAIScorer(base_url=api.base_url, api_key="k", model="fake", fallback=None)
    ctx = {"SOL": MarketContext(180.0, 12.0, 77.0, "up")}
    assert await score_pending(sf, sc, context=ctx) == 2
    sent = json.loads(api.requests[0]["messages"][1]["content"])
    assert sent["market"] == {"SOL": ctx["SOL"].as_dict()}
    with sf() as s:
        rows = s.exec(select(SentimentScore)).all()
    assert {r.scorer for r in rows} == {"openai"} and all(1 <= r.impact <= 10 for r in rows)
    # scorers written before the parameter existed still work when no context is given
    assert await score_pending(sf, _OldScorer()) == 2  # type: ignore[arg-type]


class _OldScorer:
    name = "old"

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [Score("neutral", 0.0, 0.5, scorer="old") for _ in texts]

    async def ascore(self, texts: Sequence[str]) -> list[Score]:
        return self.score(texts)
