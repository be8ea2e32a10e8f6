"""Aggregation: point-in-time, decay, source weights, agreement, labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentiment.aggregate import MARKET, Aggregator, base_symbol
from sentiment.config import SentimentSettings
from sentiment.items import ScoredItem

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def item(minutes: float, score: float, kind: str = "rss", conf: float = 1.0,
         symbols: tuple[str, ...] = ("BTC",)) -> ScoredItem:
    return ScoredItem(T0 + timedelta(minutes=minutes), kind, score, conf, symbols)


def test_point_in_time_headline_at_0903_affects_0905_not_earlier() -> None:
    agg = Aggregator([item(3, 0.9)])
    assert agg.at("BTC", T0 + timedelta(minutes=2, seconds=59)).n_items == 0
    assert agg.at("BTC", T0 + timedelta(minutes=3)).n_items == 1  # published at == ts
    at5 = agg.at("BTC/USDT", T0 + timedelta(minutes=5))
    assert at5.n_items == 1 and at5.score == pytest.approx(0.9) and at5.label == "BULLISH"


def test_future_items_never_leak() -> None:
    past = [item(m, -0.5) for m in range(0, 60, 5)]
    future = [item(m, 1.0) for m in range(61, 120, 5)]
    a = Aggregator(past)
    b = Aggregator(past + future)  # same history plus items after ts
    ts = T0 + timedelta(minutes=60)
    assert a.at("BTC", ts) == b.at("BTC", ts)


def test_time_decay_with_half_life() -> None:
    agg = Aggregator([item(0, 1.0), item(60, -1.0)], half_life_minutes=60)
    # at t=60 the old item weighs 0.5, the new one 1.0: mean = (0.5 - 1) / 1.5
    assert agg.at("BTC", T0 + timedelta(minutes=60)).score == pytest.approx(-1 / 3)
    # far in the future only the lookback window matters: both expire
    assert agg.at("BTC", T0 + timedelta(days=30)).n_items == 0


def test_source_weights_renormalised_over_present_sources() -> None:
    items = [item(0, 1.0, "twitter"), item(0, -1.0, "reddit")]
    agg = Aggregator(items)
    s = agg.at("BTC", T0)
    assert s.score == pytest.approx((0.35 - 0.25) / 0.60)
    assert s.by_source == {"twitter": 1.0, "reddit": -1.0}
    custom = Aggregator(items, source_weights={"twitter": 0.0, "reddit": 1.0})
    assert custom.at("BTC", T0).score == pytest.approx(-1.0)


def test_confidence_from_agreement() -> None:
    agree = Aggregator([item(0, 0.6), item(0, 0.6)]).at("BTC", T0)
    split = Aggregator([item(0, 1.0), item(0, -1.0)]).at("BTC", T0)
    mild = Aggregator([item(0, 0.5), item(0, 0.3)]).at("BTC", T0)
    assert agree.confidence == pytest.approx(1.0)
    assert split.confidence == 0.0  # 1 - 2*1 floored at 0
    assert mild.confidence == pytest.approx(1 - 2 * 0.1)


def test_labels_at_threshold() -> None:
    assert Aggregator([item(0, 0.3)]).at("BTC", T0).label == "BULLISH"
    assert Aggregator([item(0, -0.3)]).at("BTC", T0).label == "BEARISH"
    assert Aggregator([item(0, 0.29)]).at("BTC", T0).label == "NEUTRAL"


def test_market_bucket_and_unknown_symbol() -> None:
    agg = Aggregator([item(0, -0.8, symbols=())])
    assert agg.at(MARKET, T0).label == "BEARISH"
    assert agg.at("ETH", T0).n_items == 0
    assert base_symbol("eth-usd") == "ETH"


def test_naive_timestamps_rejected() -> None:
    agg = Aggregator([item(0, 0.5)])
    with pytest.raises(ValueError, match="timezone-aware"):
        agg.at("BTC", datetime(2026, 1, 1))


def test_from_settings_and_incremental_add() -> None:
    s = SentimentSettings(half_life_minutes=30, label_threshold=0.5)
    agg = Aggregator.from_settings([item(0, 0.4)], s)
    assert agg.at("BTC", T0).label == "NEUTRAL"  # 0.4 < 0.5
    agg.add([item(-10, 1.0)])  # out-of-order arrival is fine
    assert agg.at("BTC", T0).n_items == 2
    assert [x.n_items for x in agg.series("BTC", [T0 - timedelta(minutes=5), T0])] == [1, 2]
