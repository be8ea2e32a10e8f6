"""The openai scorer's market context, against the loopback fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest

from sentiment.config import SentimentSettings
from sentiment.headline import HeadlineScorer
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
