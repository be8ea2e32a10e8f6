"""Canonical URLs, title hashes, dedup and symbol tagging."""

from __future__ import annotations

from datetime import UTC, datetime

from sentiment.dedup import canonical_url, dedup, normalise_title, title_hash, url_key
from sentiment.items import RawItem
from sentiment.symbols import SymbolTagger

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def raw(url: str, title: str) -> RawItem:
    return RawItem("rss:x", "rss", url, title, "", NOW, NOW)


def test_canonical_url_strips_tracking_and_noise() -> None:
    a = "http://www.CoinDesk.com/markets/2026/01/01/btc-rallies/?utm_source=rss&b=2&a=1#top"
    b = "https://coindesk.com/markets/2026/01/01/btc-rallies?a=1&b=2"
    assert canonical_url(a) == canonical_url(b) == (
        "https://coindesk.com/markets/2026/01/01/btc-rallies?a=1&b=2"
    )
    assert url_key(a) == url_key(b)
    assert url_key("https://coindesk.com/x?id=1") != url_key("https://coindesk.com/x?id=2")


def test_title_normalisation() -> None:
    assert normalise_title("  Bitcoin  RALLIES — to $100k!! ") == "bitcoin rallies to 100k"
    assert title_hash("Bitcoin rallies to $100K") == title_hash("bitcoin rallies to 100k.")


def test_dedup_by_url_and_by_title() -> None:
    items = [
        raw("https://a.com/1?utm_medium=x", "Ether jumps"),
        raw("https://a.com/1", "Ether jumps 5%"),  # same URL
        raw("https://b.com/other", "ETHER JUMPS"),  # same title elsewhere
        raw("https://c.com/2", "Solana slides"),
    ]
    out = dedup(items)
    assert [i.url for i in out] == ["https://a.com/1?utm_medium=x", "https://c.com/2"]
    assert all(i.dedup_key and i.title_hash for i in out)


def test_tagger_tickers_names_and_ambiguity() -> None:
    t = SymbolTagger()
    assert t.tag("Bitcoin Cash forks while bitcoin holds") == ("BCH", "BTC")
    assert t.tag("Will the link between rates and crypto hold near term?") == ()
    assert t.tag("LINK and NEAR rally; $dot too") == ("LINK", "NEAR", "DOT")
    assert t.tag("Shiba Inu and XBT") == ("SHIB", "BTC")
    assert t.tag("Ethereum's ETH and ether") == ("ETH",)
    custom = SymbolTagger({"link": ["chainlink", "smartcon"]})
    assert custom.tag("SmartCon opens") == ("LINK",)


def test_rules_tag_coins_inside_quotes_and_hyphens_like_the_tagger() -> None:
    """Disagreements found by reading the archive's tickers vs ours (MODEL_CARD.md)."""
    from sentiment.lexicon import LexiconScorer

    lex, tag = LexiconScorer(), SymbolTagger()
    cases = {
        "Cathie Wood: 'Bitcoin Is A Completely Different Animal,' Regulations": ("BTC",),
        "Ondo Finance & LayerZero Launch Ethereum-Solana Bridge": ("ETH", "SOL"),
        "Peter Brandt: 'I Own Bitcoin and SOL', But Here's Big Catch": ("BTC", "SOL"),
        "Ethereum Is More 'Asymmetrical,' Says Pro-XRP Lawyer": ("ETH", "XRP"),
        "‘Nasdaq on Solana’ vision sees progress": ("SOL",),
        "A near-term link-up, don't panic": (),
    }
    for text, want in cases.items():
        assert lex.analyse(text)[1] == want, text
        assert tag.tag(text) == want, text
