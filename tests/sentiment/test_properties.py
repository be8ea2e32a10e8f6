"""Property tests: invariants that must hold for any input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.aggregate import Aggregator
from sentiment.items import ScoredItem
from sentiment.lexicon import LexiconScorer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEX = LexiconScorer()

items_st = st.lists(
    st.builds(
        ScoredItem,
        published_at=st.integers(0, 24 * 60).map(lambda m: T0 + timedelta(minutes=m)),
        source_kind=st.sampled_from(["rss", "reddit", "twitter", "cryptopanic", "other"]),
        score=st.floats(-1, 1),
        confidence=st.floats(0, 1),
        symbols=st.sampled_from([("BTC",), ("ETH",), ("BTC", "ETH"), ()]),
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(items_st, st.integers(0, 24 * 60))
def test_at_ignores_everything_published_after_ts(items: list[ScoredItem], minute: int) -> None:
    ts = T0 + timedelta(minutes=minute)
    past = [i for i in items if i.published_at <= ts]
    full = Aggregator(items).at("BTC", ts)
    assert full == Aggregator(past).at("BTC", ts)
    assert -1 <= full.score <= 1 and 0 <= full.confidence <= 1
    assert full.label == ("BULLISH" if full.score >= 0.3 else
                          "BEARISH" if full.score <= -0.3 else "NEUTRAL")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_lexicon_total_on_any_text(text: str) -> None:
    (s,) = LEX.score([text])
    assert s.label in ("positive", "negative", "neutral")
    assert -1 <= s.score <= 1 and 0 <= s.confidence <= 1 and 1 <= s.impact <= 10
    assert (s.label == "positive") == (s.score >= 0.3)
    assert (s.label == "negative") == (s.score <= -0.3)
