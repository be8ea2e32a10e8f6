"""Lexicon scorer: crypto/finance rules, negation, numbers, events, impact, targets."""

from __future__ import annotations

import pytest

from sentiment.evaluate import evaluate, load_phrasebank
from sentiment.items import Score
from sentiment.lexicon import LexiconScorer


@pytest.fixture(scope="module")
def lex() -> LexiconScorer:
    return LexiconScorer()


def one(lex: LexiconScorer, text: str) -> Score:
    return lex.score([text])[0]


@pytest.mark.parametrize(
    "text",
    [
        "Hackers drain $120 million from DeFi bridge in exploit",
        "Exchange halts withdrawals as insolvency fears grow",
        "Binance to delist five tokens next month",
        "SEC lawsuit targets major crypto exchange",
        "China bans crypto mining again",
        "Stablecoin depegs, falls to 0.92",
        "Crypto lender files for bankruptcy",
        "Ethereum plunges 20% in a day",
        "BTC -8% in 24 hours",
        "Quarterly revenue fell sharply",
        "Operating costs rose 30%",
    ],
)
def test_negative_events(lex: LexiconScorer, text: str) -> None:
    s = one(lex, text)
    assert s.label == "negative", (text, s)
    assert s.score < 0


@pytest.mark.parametrize(
    "text",
    [
        "SEC approves spot bitcoin ETF",
        "Coinbase lists Solana token, price jumps",
        "Ripple announces partnership with major bank",
        "Ethereum upgrade goes live on mainnet, fees drop",
        "Bitcoin ETF inflows hit record high",
        "XRP +15% after court win",
        "Net loss narrowed to EUR 2 mn from EUR 5 mn",
        "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn",
        "Bitcoin hits all-time high",
    ],
)
def test_positive_events(lex: LexiconScorer, text: str) -> None:
    s = one(lex, text)
    assert s.label == "positive", (text, s)
    assert s.score > 0


@pytest.mark.parametrize(
    "text",
    [
        "Bitcoin conference to be held in Lisbon in May",
        "The company has offices in Helsinki and Stockholm",
        "Ethereum developers publish meeting notes",
    ],
)
def test_neutral(lex: LexiconScorer, text: str) -> None:
    assert one(lex, text).label == "neutral"


def test_negation_flips(lex: LexiconScorer) -> None:
    assert one(lex, "SEC approves the ETF").score > 0
    assert one(lex, "SEC does not approve the ETF").score < 0
    assert one(lex, "Revenue did not increase").score < one(lex, "Revenue increased").score


def test_direction_times_quantity(lex: LexiconScorer) -> None:
    assert one(lex, "costs decreased").score > 0
    assert one(lex, "costs increased").score < 0
    assert one(lex, "loss widened").score < 0
    assert one(lex, "profit widened").score > 0


def test_magnitude_of_numbers(lex: LexiconScorer) -> None:
    small = one(lex, "Bitcoin dips 1%")
    big = one(lex, "Bitcoin dips 40%")
    assert big.score < small.score < 0
    assert big.impact > small.impact


def test_intensifier_and_hedge(lex: LexiconScorer) -> None:
    plain = one(lex, "Exchange hacked").score
    assert one(lex, "Exchange reportedly hacked").score > plain  # hedged: weaker
    assert abs(one(lex, "Bitcoin could rally").score) < abs(one(lex, "Bitcoin rallies").score)


def test_contrast_weights_second_clause(lex: LexiconScorer) -> None:
    assert one(lex, "Sales rose, but profit fell sharply").score < 0
    assert one(lex, "Sales fell, but profit rose sharply").score > 0


def test_event_types_and_impact(lex: LexiconScorer) -> None:
    assert one(lex, "DeFi protocol exploited for $50 million").event_type == "hack/exploit"
    assert one(lex, "SEC sues exchange").event_type == "regulatory"
    assert one(lex, "Chainlink partners with Swift").event_type == "partnership"
    assert one(lex, "Ethereum hard fork scheduled").event_type == "technical"
    assert one(lex, "Fed raises interest rates").event_type == "macro"
    assert one(lex, "Dogecoin rallies").event_type == "market"
    quiet = one(lex, "The company has offices in Helsinki")
    assert (quiet.event_type, quiet.impact) == ("none", 1)
    big = one(lex, "Bitcoin exchange hacked, $2 billion stolen, BTC plunges 25%")
    small = one(lex, "Minor token dips 2%")
    assert big.impact >= 9 > small.impact


def test_symbols_tagged(lex: LexiconScorer) -> None:
    s = one(lex, "Bitcoin and ether rally while $SOL lags; XBT futures up")
    assert s.symbols == ("BTC", "ETH", "SOL")
    custom = LexiconScorer(aliases={"PEPE": ["pepe coin", "frog coin"]})
    assert custom.score(["frog coin soars"])[0].symbols == ("PEPE",)


def test_extra_lexicon_setting() -> None:
    base = LexiconScorer().score(["wagmi"])[0]
    tuned = LexiconScorer(extra_lexicon={"wagmi": 3.0}).score(["wagmi"])[0]
    assert base.label == "neutral" and tuned.label == "positive"


def test_scores_in_range_and_ordered(lex: LexiconScorer) -> None:
    texts = ["a", "", "!!!", "hack " * 200, "moon " * 200, "?"]
    out = lex.score(texts)
    assert len(out) == len(texts)
    for s in out:
        assert -1 <= s.score <= 1 and 0 <= s.confidence <= 1 and 1 <= s.impact <= 10
    assert out[3].score < -0.9 and out[4].score > 0.9


async def test_ascore_matches_score(lex: LexiconScorer) -> None:
    texts = ["Bitcoin crashes"] * 300 + ["ETF approved"]
    assert await lex.ascore(texts) == lex.score(texts)


def test_phrasebank_all_agree_targets(lex: LexiconScorer, phrasebank) -> None:  # type: ignore[no-untyped-def]
    rows = load_phrasebank(phrasebank / "Sentences_AllAgree.txt")
    rep = evaluate(lex, rows)
    assert rep.n == 2264
    assert rep.accuracy >= 0.75
    assert rep.macro_f1 >= 0.70


def test_phrasebank_50_agree_is_latin1_and_scores(lex: LexiconScorer, phrasebank) -> None:  # type: ignore[no-untyped-def]
    rows = load_phrasebank(phrasebank / "Sentences_50Agree.txt")
    assert len(rows) == 4846
    rep = evaluate(lex, rows)
    assert rep.accuracy > 0.65 and rep.macro_f1 > 0.6


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("MicroStrategy buys another 12,000 BTC", "positive"),
        ("Miners sell bitcoin as hashprice slumps", "negative"),
        ("The company designs and sells tires for trucks", "neutral"),  # no coin: no pressure
        ("SEC drops case against Coinbase", "positive"),  # direction x legal pressure
        ("Grayscale wins lawsuit against SEC", "positive"),
        ("Bitcoin miners capitulate as hashprice hits record low", "negative"),
        ("Fed signals fewer rate cuts, bitcoin dips", "negative"),
        ("Robinhood adds support for Solana", "positive"),
        ("Ethereum developers delay upgrade after testnet bugs", "negative"),
        ("The record date for the dividend is March 14", "neutral"),
    ],
)
def test_crypto_market_knowledge(lex: LexiconScorer, text: str, label: str) -> None:
    assert one(lex, text).label == label, one(lex, text)


def test_background_clause_weighs_less(lex: LexiconScorer) -> None:
    assert one(lex, "Ether rebounds after weekend sell-off").score > 0
    assert one(lex, "Ether sell-off after weekend rebound").score < 0


def test_fused_symbol_tagging_matches_the_tagger() -> None:
    """The lexicon tags symbols inside its own token scan; it must agree with SymbolTagger."""
    from sentiment.bench import headlines
    from sentiment.symbols import SymbolTagger

    texts = [*headlines(400), "Bitcoin Cash forks while bitcoin holds",
             "Will the link between rates and crypto hold near term?",
             "LINK and NEAR rally; $dot too", "Shiba Inu and XBT", "Ethereum's ETH and ether",
             "Bitcoin-backed loans and ETH-USD", "Strategic bitcoin reserve bill passes",
             "Solana's SOL, sol and the sun", "MATIC becomes POL"]
    lex = LexiconScorer(aliases={"PEPE": ["pepe", "frog coin"]})
    tagger = SymbolTagger({"PEPE": ["pepe", "frog coin"]})
    for t in texts:
        assert set(lex.score([t])[0].symbols) == set(tagger.tag(t)), t


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Ethereum gas fees surge as NFT mint clogs network", "negative"),  # fees x up
        ("Shiba Inu burn rate skyrockets 1,000%", "positive"),  # token burns cut supply
        ("BTC eyes $70K as bulls regain control", "positive"),
        ("Terraform Labs agrees to pay $4.47 billion settlement", "negative"),
        ("Web3 startup raises $20 million in Series A", "positive"),
    ],
)
def test_more_crypto_knowledge(lex: LexiconScorer, text: str, label: str) -> None:
    assert one(lex, text).label == label, one(lex, text)
